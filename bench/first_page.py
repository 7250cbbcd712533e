"""Time from `make run` on a fresh clone to the demo status page, and to all four demo monitors
being in their expected states (up, degraded, down, up-or-down).

    python bench/first_page.py [--quick] [--port N]

Clones this repository into a temporary directory (so the venv is created from scratch; pip's
download cache, if any, is used as it would be on a user's machine), runs `make run`, polls
http://127.0.0.1:PORT/s/demo. Prints the machine, the figures, and as its last line a JSON object
{"first_page_s", "all_states_s"}. --quick changes nothing: one run already ends within ~2 min.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXPECTED = {"Website": {"up"}, "Search API": {"degraded"}, "Billing API": {"down"},
            "Webhooks": {"up", "down"}}  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bytes(response.read())
    except OSError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=180)
    args = parser.parse_args()
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    print(f"machine: {platform.platform()}, {os.cpu_count()} cpus, python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "statpulse"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        log = (Path(tmp) / "run.log").open("w")
        started = time.monotonic()
        proc = subprocess.Popen(
            ["make", "run", f"PORT={port}"],
            cwd=clone,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        first_page = all_states = None
        try:
            while time.monotonic() - started < args.timeout and proc.poll() is None:
                if first_page is None and get(f"{base}/s/demo"):
                    first_page = time.monotonic() - started
                    print(f"first page after {first_page:.1f} s")
                if first_page is not None:
                    raw = get(f"{base}/api/v1/status/demo")
                    states = (
                        {c["name"]: c["status"] for c in json.loads(raw)["components"]}
                        if raw
                        else {}
                    )
                    if all(states.get(n) in ok for n, ok in EXPECTED.items()):
                        all_states = time.monotonic() - started
                        print(
                            f"all four demo monitors in their states after {all_states:.1f} s:",
                            states,
                        )
                        break
                time.sleep(0.2)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
            log.close()
        if all_states is None:
            print((Path(tmp) / "run.log").read_text()[-3000:])
    print(json.dumps({"first_page_s": first_page and round(first_page, 1),
                      "all_states_s": all_states and round(all_states, 1)}))  # fmt: skip


if __name__ == "__main__":
    main()
