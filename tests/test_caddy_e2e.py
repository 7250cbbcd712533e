"""End to end with a real Caddy (Debian's ``caddy``, ``make test-deps``) and on-demand TLS from
its internal CA: `statpulse serve` with custom domains on, a page with one domain verified
through the API and one left unverified. The verified one uses the HTTP proof end to end: a real
local DNS server resolves the name to 127.0.0.1, so StatPulse fetches
http://NAME:PORT/.well-known/statpulse-verify/TOKEN from itself, where its Host routing answers
the pending domain's token (the DNS TXT proof is covered by tests/api/test_domains_api.py).
Caddy asks /internal/tls/ask before issuing: the verified name gets a certificate and the
page over HTTPS, the unverified one fails the TLS handshake.

Skipped loudly when caddy is not installed, except in CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dns.message
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import httpx
import pytest

from tests.processes import free_port, running, statpulse, wait_for

pytestmark = pytest.mark.slow

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
VERIFIED = "status.example.com"
UNVERIFIED = "pending.example.com"


def _caddy() -> str:
    found = shutil.which("caddy")
    if found is None:
        reason = "caddy is not installed (make test-deps)"
        if IN_CI:
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(f"SKIPPING CADDY TEST: {reason}")
    return found


@contextmanager
def _dns_server(records: dict[str, str]) -> Iterator[str]:
    """A UDP DNS server on 127.0.0.1 answering A queries from ``records`` (name with final
    dot -> address); yields its address. Runs in a thread: the test drives blocking clients."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                wire, addr = sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(wire)
            response = dns.message.make_response(query)
            question = query.question[0]
            value = records.get(question.name.to_text().lower())
            if value is not None and question.rdtype == dns.rdatatype.A:
                response.answer.append(
                    dns.rrset.from_text_list(question.name, 60, dns.rdataclass.IN, "A", [value])
                )
            sock.sendto(response.to_wire(), addr)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        sock.close()


def _caddyfile(tmp: Path, *, app_port: int, https_port: int, http_port: int) -> Path:
    path = tmp / "Caddyfile"
    path.write_text(
        f"""{{
	admin off
	local_certs
	skip_install_trust
	http_port {http_port}
	https_port {https_port}
	storage file_system {tmp / "caddy-data"}
	on_demand_tls {{
		ask http://127.0.0.1:{app_port}/internal/tls/ask
	}}
}}

https:// {{
	tls {{
		on_demand
	}}
	reverse_proxy 127.0.0.1:{app_port}
}}
"""
    )
    return path


@contextmanager
def _caddy_running(binary: str, config: Path, https_port: int, tmp: Path) -> Iterator[None]:
    log = (tmp / "caddy.log").open("w")
    env = {
        **os.environ,
        "HOME": str(tmp),
        "XDG_CONFIG_HOME": str(tmp / "xdg-config"),
        "XDG_DATA_HOME": str(tmp / "xdg-data"),
    }
    proc = subprocess.Popen(
        [binary, "run", "--config", str(config), "--adapter", "caddyfile"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:

        def listening() -> bool:
            assert proc.poll() is None, (tmp / "caddy.log").read_text()
            try:
                with socket.create_connection(("127.0.0.1", https_port), timeout=0.5):
                    return True
            except OSError:
                return False

        wait_for(listening, timeout=30, what="caddy to listen")
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _https_get(port: int, name: str, context: ssl.SSLContext) -> tuple[dict[str, object], bytes]:
    """GET / of ``name`` over TLS to 127.0.0.1:port (SNI and Host ``name``); the peer's
    certificate and the raw HTTP response."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=20) as raw,
        context.wrap_socket(raw, server_hostname=name) as tls,
    ):
        cert = tls.getpeercert() or {}
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := tls.recv(65536):
            chunks.append(chunk)
    return dict(cert), b"".join(chunks)


def test_caddy_issues_a_certificate_only_for_a_verified_custom_domain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = _caddy()
    db = f"sqlite:///{tmp_path / 'caddy.db'}"
    created = statpulse("apikey", "create", "--org", "e2e", "--db", db, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    auth = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}
    records = {f"{VERIFIED}.": "127.0.0.1"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with _dns_server(records) as resolver:
        monkeypatch.setenv("STATPULSE_CUSTOM_DOMAINS", "true")
        monkeypatch.setenv("STATPULSE_DOMAIN_RESOLVER", resolver)
        monkeypatch.setenv("STATPULSE_DOMAIN_HTTP_PORT", str(port))
        monkeypatch.setenv("STATPULSE_EMBEDDED_RUNNER", "false")
        with running("serve", "--db", db, cwd=tmp_path, port=port):
            page = httpx.post(
                f"{base}/api/v1/pages", headers=auth, json={"slug": "shop", "title": "Shop status"}
            )
            assert page.status_code == 201, page.text
            domains = f"{base}/api/v1/pages/{page.json()['id']}/domains"
            for name in (VERIFIED, UNVERIFIED):
                added = httpx.post(domains, headers=auth, json={"hostname": name})
                assert added.status_code == 201, added.text
                if name == VERIFIED:
                    verify = httpx.post(
                        f"{domains}/{added.json()['id']}/verify",
                        headers=auth,
                        json={"method": "http"},
                        timeout=15,
                    )
                    assert verify.status_code == 200, verify.text
                    assert verify.json()["verified"] is True

            https_port, http_port = free_port(), free_port()
            config = _caddyfile(tmp_path, app_port=port, https_port=https_port, http_port=http_port)
            with _caddy_running(binary, config, https_port, tmp_path):
                # Any handshake for the verified name makes Caddy ask and issue; then the
                # certificate must chain to Caddy's local root.
                insecure = ssl.create_default_context()
                insecure.check_hostname = False
                insecure.verify_mode = ssl.CERT_NONE
                _https_get(https_port, VERIFIED, insecure)
                root = tmp_path / "caddy-data" / "pki" / "authorities" / "local" / "root.crt"
                wait_for(root.exists, timeout=10, what="caddy's local root certificate")
                trusted = ssl.create_default_context(cafile=str(root))
                cert, response = _https_get(https_port, VERIFIED, trusted)
                assert ("DNS", VERIFIED) in cert["subjectAltName"]  # type: ignore[operator]
                head, _, body = response.partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200"), head
                assert b"Shop status" in body

                with pytest.raises((ssl.SSLError, ConnectionError)):
                    _https_get(https_port, UNVERIFIED, insecure)
            # What Caddy was told (it logs only the names it obtains certificates for).
            ask = f"{base}/internal/tls/ask"
            assert httpx.get(ask, params={"domain": VERIFIED}).status_code == 200
            assert httpx.get(ask, params={"domain": UNVERIFIED}).status_code == 404
