"""Lighthouse scores (performance, accessibility, best practices, SEO) and first-visit transfer
of the public status page ``/s/{slug}``, with the desktop and the mobile preset.

    python bench/lighthouse.py [--quick] [--runs N] [--keep DIR] [--appearance JSON]

Needs ``make bench-lighthouse-deps``: Lighthouse from npm, pinned by bench/package-lock.json
(``npm ci --prefix bench``), driving Debian's Chromium (``CHROME_PATH=/usr/bin/chromium``, the
flags of FIELD-NOTES "Status pages", a fresh ``--user-data-dir`` per run; never a downloaded
browser).

The page is the one bench/status_page.py measures (its ``seed``, imported): 20 components, each
with a monitor, and 90 days of results (hourly with ``--quick``, every 10 min otherwise), in a
fresh SQLite file, plus a few published incidents (one active, the rest resolved, Markdown
bodies) created through the HTTP API with a key made by ``statpulse apikey create``. A real
``statpulse serve`` (embedded runner off) serves it on a free loopback port. ``--appearance``
PUTs an appearance document first (a theme, a colour scheme, a logo...), to score those too.

Lighthouse runs with its default simulated throttling (Lantern), so the scores do not follow
this machine's load much; each preset runs ``--runs`` times (quick 1, full 3) and the median run
by performance score is reported. Prints, per preset, the scores, every failing audit with its
title, the requests of the first visit with the bytes each took on the wire, and as its last
line one JSON object: ``{"desktop": {...}, "mobile": {...}, ...}`` where each preset has
``performance``, ``accessibility``, ``best_practices``, ``seo`` (0-100), ``transfer_bytes``
(the ``total-byte-weight`` audit: bytes on the wire of the first visit, compressed) and the
timings behind the performance score.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from status_page import COMPONENTS, DAYS, SLUG, seed, settle, start_server, stop_server

REPO = Path(__file__).resolve().parent.parent
LIGHTHOUSE = REPO / "bench" / "node_modules" / "lighthouse" / "cli" / "index.js"
CHROMIUM = "/usr/bin/chromium"
CHROME_FLAGS = (
    "--headless=new --no-sandbox --disable-gpu --disable-quic --no-first-run "
    "--disable-background-networking --disable-component-update --disable-sync"
)
CATEGORIES = {
    "performance": "performance",
    "accessibility": "accessibility",
    "best-practices": "best_practices",
    "seo": "seo",
}
TIMINGS = {
    "first-contentful-paint": "fcp_ms",
    "largest-contentful-paint": "lcp_ms",
    "total-blocking-time": "tbt_ms",
    "cumulative-layout-shift": "cls",
    "speed-index": "speed_index_ms",
}
INCIDENTS = [
    (
        "Elevated error rates on the Payments API",
        "We see **5xx errors** on about 3% of requests to `/v1/charges` and are investigating.",
        False,
    ),
    (
        "Delayed webhooks",
        "Webhook deliveries were delayed by up to *12 minutes*.\n\n- Root cause: a queue "
        "consumer stalled\n- Fix: consumers restarted, alerting added",
        True,
    ),
    (
        "Dashboard login failures",
        "Some users could not sign in to the dashboard. See [the post-mortem]"
        "(https://example.com/postmortem) for details.",
        True,
    ),
]


def say(text: str) -> None:
    print(text, flush=True)


def ensure_tools() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        sys.exit(f"{CHROMIUM} is missing: make bench-lighthouse-deps")
    if not LIGHTHOUSE.exists():
        sys.exit(f"{LIGHTHOUSE} is missing: make bench-lighthouse-deps")


def api(base: str, token: str, method: str, path: str, body: object) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{base}{path}",
        data=json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


def api_key(tmp: Path, db: str) -> str:
    """A write key of the seeded organisation (``bench``)."""
    out = subprocess.run(
        [sys.executable, "-m", "statpulse", "apikey", "create", "--org", "bench", "--db", db],
        cwd=tmp,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    return out.stdout.strip().splitlines()[-1]


def add_incidents(base: str, token: str) -> None:
    """One active incident and a few resolved ones, spread over the last weeks."""
    now = datetime.now(UTC)
    for n, (title, body, resolved) in enumerate(INCIDENTS):
        started = now - timedelta(days=9 * n, hours=1)
        created = api(
            base,
            token,
            "POST",
            "/api/v1/incidents",
            {"title": title, "body": body, "publish": True, "started_at": started.isoformat()},
        )
        if resolved:
            api(base, token, "POST", f"/api/v1/incidents/{created['id']}/resolve", {})


def lighthouse(url: str, preset: str, out: Path) -> dict[str, Any]:
    """One Lighthouse run; its JSON report."""
    profile = tempfile.mkdtemp(prefix="lighthouse-profile-")
    command = [
        "node",
        str(LIGHTHOUSE),
        url,
        "--output=json",
        f"--output-path={out}",
        "--quiet",
        "--only-categories=performance,accessibility,best-practices,seo",
        f"--chrome-flags={CHROME_FLAGS} --user-data-dir={profile}",
    ]
    if preset == "desktop":
        command.append("--preset=desktop")
    env = {**os.environ, "CHROME_PATH": CHROMIUM}
    try:
        subprocess.run(command, env=env, check=True, timeout=300)
    finally:
        subprocess.run(["rm", "-rf", profile], check=False)
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def figures(report: dict[str, Any]) -> dict[str, Any]:
    """Scores (0-100), transfer and timings of one report."""
    categories = report["categories"]
    audits = report["audits"]
    result: dict[str, Any] = {
        key: round(100 * (categories[name]["score"] or 0)) for name, key in CATEGORIES.items()
    }
    result["transfer_bytes"] = int(audits["total-byte-weight"]["numericValue"])
    for audit, key in TIMINGS.items():
        value = audits[audit].get("numericValue")
        result[key] = round(value, 3 if key == "cls" else 0) if value is not None else None
    return result


def failing(report: dict[str, Any]) -> list[str]:
    """``category: audit-id (score) title - shown value`` of every audit below full score."""
    lines = []
    for name, category in report["categories"].items():
        for ref in category["auditRefs"]:
            audit = report["audits"][ref["id"]]
            score = audit.get("score")
            if audit.get("scoreDisplayMode") in ("notApplicable", "informative", "manual"):
                continue
            if score is None or score >= 1:
                continue
            shown = audit.get("displayValue", "")
            lines.append(f"  {name}: {ref['id']} ({score:.2f}) {audit['title']} {shown}".rstrip())
    return lines


def requests(report: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    """(url, resource type, bytes on the wire, decoded bytes) of every request of the visit."""
    items = report["audits"]["network-requests"]["details"]["items"]
    return [
        (
            item["url"],
            item.get("resourceType", "?"),
            int(item.get("transferSize", 0)),
            int(item.get("resourceSize", 0)),
        )
        for item in items
    ]


def run_preset(url: str, preset: str, runs: int, keep: Path) -> dict[str, Any]:
    reports = []
    for n in range(runs):
        out = keep / f"{preset}-{n}.json"
        reports.append(lighthouse(url, preset, out))
    reports.sort(key=lambda r: r["categories"]["performance"]["score"] or 0)
    report = reports[len(reports) // 2]
    result = figures(report)
    result["performance_runs"] = [
        round(100 * (r["categories"]["performance"]["score"] or 0)) for r in reports
    ]
    wire = requests(report)
    result["first_visit_bytes"] = sum(size for _, _, size, _ in wire)
    result["requests"] = len(wire)
    say(f"\n{preset}: " + ", ".join(f"{k} {result[k]}" for k in CATEGORIES.values()))
    say(
        f"  transfer {result['transfer_bytes']:,} B (total-byte-weight), "
        f"{result['first_visit_bytes']:,} B over {len(wire)} requests; "
        + ", ".join(f"{k} {result[k]}" for k in TIMINGS.values())
    )
    for request_url, kind, size, decoded in wire:
        say(f"    {size:>7,} B on the wire ({decoded:>7,} decoded) {kind:<10} {request_url}")
    lines = failing(report)
    say("  failing audits:" if lines else "  failing audits: none")
    for line in lines:
        say(line)
    return result


def version(command: list[str]) -> str:
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).strip().splitlines()[0] if out.returncode == 0 else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="hourly results, one run a preset")
    parser.add_argument("--runs", type=int, help="Lighthouse runs per preset (quick 1, full 3)")
    parser.add_argument("--keep", type=Path, help="keep the JSON reports in this directory")
    parser.add_argument(
        "--appearance",
        type=json.loads,
        help="the page's appearance document (PUT .../appearance), e.g. '{\"theme\": "
        '"liquid-glass", "color_scheme": "dark"}\'; default: none set',
    )
    args = parser.parse_args()
    runs = args.runs or (1 if args.quick else 3)
    interval = 3600 if args.quick else 600
    ensure_tools()
    info: dict[str, Any] = {
        "lighthouse": version(["node", str(LIGHTHOUSE), "--version"]),
        "chromium": version([CHROMIUM, "--version"]),
        "node": version(["node", "--version"]),
        "components": COMPONENTS,
        "days": DAYS,
        "result_interval_s": interval,
    }
    say(f"tools: {json.dumps(info)}")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-lighthouse-") as tmp_name:
        tmp = Path(tmp_name)
        keep = args.keep or tmp
        keep.mkdir(parents=True, exist_ok=True)
        db = f"sqlite:///{tmp / 'bench.db'}"
        rows = asyncio.run(seed(db, interval))
        say(f"seeded {COMPONENTS} components, {rows:,} results over {DAYS} days at {interval} s")
        token = api_key(tmp, db)
        server = start_server(tmp, db, "production")
        try:
            settle(server.proc.pid)
            add_incidents(server.base, token)
            if args.appearance is not None:
                api(server.base, token, "PUT", f"/api/v1/pages/{SLUG}/appearance", args.appearance)
                info["appearance"] = args.appearance
            url = f"{server.base}/s/{SLUG}"
            with urllib.request.urlopen(url, timeout=30) as response:  # the first render
                response.read()
            for preset in ("desktop", "mobile"):
                results[preset] = run_preset(url, preset, runs, keep)
        finally:
            stop_server(server)
    worst = {key: min(results[p][key] for p in results) for key in CATEGORIES.values()}
    say(f"\nworst of both presets: {worst}; median of {runs} run(s) each")
    results.update(info)
    results["runs"] = runs
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
