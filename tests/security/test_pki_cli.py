"""``statpulse pki``: init, issue-runner and revoke through Typer, on real files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import typer
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from typer.testing import CliRunner

from statpulse.security.pki import region_of
from statpulse.security.pki_cli import pki_app

app = typer.Typer()
app.add_typer(pki_app, name="pki")
runner = CliRunner()


def invoke(*args: str | Path) -> tuple[int, list[str], str]:
    """Exit code, stdout lines, stderr."""
    result = runner.invoke(app, ["pki", *map(str, args)])
    return result.exit_code, result.stdout.splitlines(), result.stderr


def crl_serials(directory: Path) -> set[int]:
    crl = x509.load_pem_x509_crl((directory / "crl.pem").read_bytes())
    return {r.serial_number for r in crl}


def serial(path: Path) -> int:
    return x509.load_pem_x509_certificate(path.read_bytes()).serial_number


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    directory = tmp_path / "pki"
    code, _, err = invoke("init", "--dir", directory)
    assert code == 0, err
    return directory


def test_init_prints_the_files_written_and_keeps_keys_private(tmp_path: Path) -> None:
    directory = tmp_path / "pki"
    code, out, _ = invoke("init", "--dir", directory, "--name", "cp.internal", "--name", "10.0.0.5")
    assert code == 0
    names = ["ca.crt", "ca.key", "server.crt", "server.key", "crl.pem"]
    assert out == [str(directory / name) for name in names]
    for key in ("ca.key", "server.key"):
        assert stat.S_IMODE((directory / key).stat().st_mode) == 0o600
    server = x509.load_pem_x509_certificate((directory / "server.crt").read_bytes())
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["cp.internal"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.5"]


def test_init_twice_refuses_with_one_error_line(pki: Path) -> None:
    before = (pki / "ca.key").read_bytes()
    code, out, err = invoke("init", "--dir", pki)
    assert code == 2
    assert out == []
    assert err.count("\n") == 1
    assert err.startswith("error: ") and "a CA already exists" in err and str(pki) in err
    assert (pki / "ca.key").read_bytes() == before


def test_issue_runner_prints_the_certificate_and_key(pki: Path) -> None:
    code, out, err = invoke("issue-runner", "--region", "eu-west", "--dir", pki, "--days", "30")
    assert code == 0, err
    assert out == [str(pki / "runner-eu-west.crt"), str(pki / "runner-eu-west.key")]
    assert stat.S_IMODE((pki / "runner-eu-west.key").stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate((pki / "runner-eu-west.crt").read_bytes())
    assert region_of(cert.public_bytes(Encoding.DER)) == "eu-west"
    assert f"serial {cert.serial_number}" in err


@pytest.mark.parametrize("region", ["EU-West", "-eu", "eu_west"])
def test_issue_runner_with_a_bad_region_names_the_option(pki: Path, region: str) -> None:
    code, out, err = invoke("issue-runner", "--region", region, "--dir", pki)
    assert code == 2
    assert out == []
    assert err.startswith("error: --region") and err.count("\n") == 1


def test_issue_runner_without_a_ca_names_the_file(tmp_path: Path) -> None:
    code, _, err = invoke("issue-runner", "--region", "eu-west", "--dir", tmp_path)
    assert code == 2
    assert err.startswith("error: ") and "ca.crt" in err


def test_revoke_by_region_by_serial_and_by_cert(pki: Path) -> None:
    for region in ("eu-west", "us-east", "ap-south"):
        assert invoke("issue-runner", "--region", region, "--dir", pki)[0] == 0
    eu, us, ap = (serial(pki / f"runner-{r}.crt") for r in ("eu-west", "us-east", "ap-south"))

    code, out, err = invoke("revoke", "--dir", pki, "--region", "eu-west")
    assert (code, out) == (0, [str(pki / "crl.pem")])
    assert f"revoked serial {eu}" in err
    assert crl_serials(pki) == {eu}

    assert invoke("revoke", "--dir", pki, "--serial", hex(us))[0] == 0
    assert invoke("revoke", "--dir", pki, "--cert", pki / "runner-ap-south.crt")[0] == 0
    assert crl_serials(pki) == {eu, us, ap}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "exactly one of --cert, --serial, --region"),
        (("--serial", "1", "--region", "eu-west"), "exactly one of --cert, --serial, --region"),
        (("--serial", "zz"), "--serial 'zz'"),
        (("--serial", "42"), "--serial 42"),
        (("--region", "nowhere"), "--region nowhere"),
    ],
)
def test_revoke_errors_name_the_option(pki: Path, args: tuple[str, ...], message: str) -> None:
    code, out, err = invoke("revoke", "--dir", pki, *args)
    assert code == 2
    assert out == []
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert crl_serials(pki) == set()


def test_error_with_a_long_path_stays_on_one_line(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*["a-rather-long-directory-name"] * 6)
    code, _, err = invoke("issue-runner", "--region", "eu-west", "--dir", deep)
    assert code == 2
    assert err.count("\n") == 1 and str(deep) in err
