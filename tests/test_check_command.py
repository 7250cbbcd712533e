"""``statpulse check``: one check now, tables or JSON, exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from statpulse.cli import app

runner = CliRunner()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = int(self.path.strip("/") or 200) if self.path.strip("/").isdigit() else 200
        body = json.dumps({"path": self.path, "auth": self.headers.get("X-Token")}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_healthy_url_exits_0_with_the_default_condition(server: str) -> None:
    result = runner.invoke(app, ["check", f"{server}/", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert doc["status_code"] == 200
    assert doc["conditions"] == [
        {"condition": "[STATUS] < 400", "success": True, "description": "[STATUS] < 400"}
    ]
    assert set(doc["phases"]) == {"dns_ms", "connect_ms", "tls_ms", "first_byte_ms", "total_ms"}
    assert doc["ip"] == "127.0.0.1"


def test_a_failing_condition_exits_1_and_says_what_was_compared(server: str) -> None:
    result = runner.invoke(app, ["check", f"{server}/503", "-c", "[STATUS] == 200", "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["ok"] is False
    assert doc["error_class"] == "http_status"
    assert doc["conditions"][0]["description"] == "[STATUS] (503) == 200"


def test_headers_reach_the_target_and_body_paths_work(server: str) -> None:
    result = runner.invoke(
        app,
        ["check", f"{server}/x", "-H", "X-Token: s3cret", "-c", "[BODY].auth == s3cret", "--json"],
    )
    assert result.exit_code == 0, result.output


def test_table_output_lists_phases_and_conditions(server: str) -> None:
    result = runner.invoke(app, ["check", f"{server}/", "-c", "[STATUS] == 200"])
    assert result.exit_code == 0
    for word in ("pass", "connect", "first byte", "total", "[STATUS] == 200"):
        assert word in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-c", "[STATUS] =="], "conditions[0]"),
        (["-c", "[STAUTS] == 200"], "conditions[0]"),
        (["--kind", "smtp"], "kind"),
        (["--timeout", "0"], "timeout_s"),
        (["-H", "no-colon"], "--header"),
    ],
)
def test_invalid_input_exits_2_naming_the_field(server: str, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["check", f"{server}/", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_invalid_target_exits_2() -> None:
    result = runner.invoke(app, ["check", "ftp://example.com/"])
    assert result.exit_code == 2
    assert "target" in result.output


def test_tcp_target_is_inferred_and_refused_port_exits_1() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = runner.invoke(app, ["check", f"127.0.0.1:{port}", "--json", "--timeout", "2"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["error_class"] == "connect"
