"""`statpulse demo` seeds a page whose four monitors reach their expected states."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.processes import free_port, running, wait_for

pytestmark = pytest.mark.slow

EXPECTED = {
    "Website": {"up"},
    "Search API": {"degraded"},
    "Billing API": {"down"},
    "Webhooks": {"up", "down"},  # flaps every 40 s
}


def test_demo_page_shows_up_degraded_failing_and_flapping_monitors(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running("demo", "--data-dir", str(tmp_path / "data"), cwd=tmp_path, port=port):

        def states() -> dict[str, str] | None:
            doc = httpx.get(f"{base}/api/v1/status/demo", timeout=5).json()
            seen = {c["name"]: c["status"] for c in doc["components"]}
            ok = all(seen.get(name) in allowed for name, allowed in EXPECTED.items())
            return seen if ok else None

        wait_for(states, timeout=45, what="demo monitors in their states", log=tmp_path)
        html = httpx.get(f"{base}/s/demo").text
        for name in EXPECTED:
            assert name in html
        assert 'data-status="degraded"' in html and 'data-status="down"' in html
    assert (tmp_path / "data" / "statpulse.db").is_file()
