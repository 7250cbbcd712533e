"""``statpulse config export`` and ``apply`` against a real ``statpulse serve`` (SQLite, no
embedded runner, so no monitor is checked): each test works in an organisation of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from statpulse.cli import app
from tests.processes import free_port, running

runner = CliRunner()

FILE = """\
monitors:
  - name: Billing API
    kind: http
    target: https://billing.example/health
    interval_s: 30
    conditions: ["[STATUS] == 200"]
  - name: Search API
    kind: tcp
    target: search.example:9200
    depends_on: Billing API
pages:
  - slug: {slug}
    title: Acme status
    components:
      - {{name: Billing, monitor: Billing API}}
      - {{name: Search, description: Full-text search, monitor: Search API}}
"""


@dataclass
class Server:
    url: str
    db: str
    data: Path


@dataclass
class Org:
    url: str
    key: str
    slug: str
    tmp: Path

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(
            method, self.url + path, json=body, headers={"Authorization": f"Bearer {self.key}"}
        )
        assert response.status_code < 400, response.text
        return response.json() if response.content else None

    def monitors(self) -> dict[str, dict[str, Any]]:
        return {m["name"]: m for m in self.api("GET", "/api/v1/monitors")["data"]}

    def file(self, text: str, name: str = "statpulse.yaml") -> Path:
        path = self.tmp / name
        path.write_text(text.format(slug=self.slug), encoding="utf-8")
        return path

    def apply(self, path: Path, *args: str, env: dict[str, str] | None = None) -> Result:
        return config(self, "apply", "-f", str(path), *args, env=env)


def config(org: Org, *args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, ["config", *args, "--url", org.url, "--key", org.key], env=env or {})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("config-server")
    db = f"sqlite:///{data / 'statpulse.db'}"
    port = free_port()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STATPULSE_EMBEDDED_RUNNER", "false")
        with running("serve", "--db", db, "--data-dir", str(data), cwd=data, port=port):
            yield Server(f"http://127.0.0.1:{port}", db, data)


def _org(server: Server, tmp: Path) -> Org:
    slug = f"org-{uuid.uuid4().hex[:12]}"
    # The server's data directory: its master key wraps the organisations' data keys.
    args = ["apikey", "create", "--org", slug, "--db", server.db, "--data-dir", str(server.data)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return Org(server.url, result.stdout.strip().splitlines()[-1], slug, tmp)


@pytest.fixture
def org(server: Server, tmp_path: Path) -> Org:
    return _org(server, tmp_path)


def _lines(result: Result, sign: str) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith(sign)]


def test_apply_creates_the_monitors_and_a_page_whose_components_link_them(org: Org) -> None:
    result = org.apply(org.file(FILE))
    assert result.exit_code == 0, result.output
    assert _lines(result, "+") == [
        '+ monitor "Billing API"',
        '+ monitor "Search API"',
        f'+ page "{org.slug}"',
        f'+ component "Billing" on page "{org.slug}"',
        f'+ component "Search" on page "{org.slug}"',
    ]
    assert "applied: 5 to create, 0 to change, 0 to delete" in result.stdout
    monitors = org.monitors()
    billing, search = monitors["Billing API"], monitors["Search API"]
    assert (billing["interval_s"], billing["conditions"]) == (30, ["[STATUS] == 200"])
    assert (search["kind"], search["target"]) == ("tcp", "search.example:9200")
    assert search["depends_on"] == billing["id"]
    components = {c["name"]: c for c in org.api("GET", "/api/v1/components")}
    assert components["Search"]["monitor_id"] == search["id"]
    assert components["Billing"]["monitor_id"] == billing["id"]
    status = httpx.get(f"{org.url}/api/v1/status/{org.slug}").json()
    assert status["page"]["title"] == "Acme status"
    assert [c["name"] for c in status["components"]] == ["Billing", "Search"]


def test_export_then_apply_of_the_exported_file_changes_nothing(org: Org) -> None:
    text = FILE + ("  - slug: {slug}-b\n    title: Second\n  # no components\n")
    text = text.replace(
        "    interval_s: 30\n",
        "    interval_s: 30\n    http: {{headers: {{Authorization: Bearer s3cret}}, "
        "body: 'a literal $${{x}}'}}\n",
    )
    text = text.replace(
        "pages:", "  - {{name: Nightly, kind: heartbeat, interval_s: 3600}}\npages:"
    )
    assert org.apply(org.file(text)).exit_code == 0
    exported = org.tmp / "exported.yaml"
    result = config(org, "export", "-o", str(exported))
    assert result.exit_code == 0, result.output
    written = exported.read_text()
    assert "s3cret" not in written and "********" not in written
    assert "Authorization: ${BILLING_API_AUTHORIZATION}" in written

    again = org.apply(exported, env={"BILLING_API_AUTHORIZATION": "Bearer s3cret"})
    assert again.exit_code == 0, again.output
    assert f"no changes: the organisation matches {exported}" in again.stdout
    assert _lines(again, "+") == _lines(again, "~") == _lines(again, "-") == []


def test_export_without_the_secret_variable_fails_on_apply_naming_the_field(org: Org) -> None:
    text = FILE.replace(
        "    interval_s: 30\n", "    interval_s: 30\n    http: {{headers: {{X-Key: k}}}}\n"
    )
    assert org.apply(org.file(text)).exit_code == 0
    exported = org.tmp / "exported.yaml"
    assert config(org, "export", "-o", str(exported)).exit_code == 0
    result = org.apply(exported)
    assert result.exit_code == 2
    assert (
        "monitors[0].http.headers.X-Key: environment variable BILLING_API_X_KEY is not set"
        in result.output
    )


def test_one_changed_field_is_exactly_one_change(org: Org) -> None:
    assert org.apply(org.file(FILE)).exit_code == 0
    result = org.apply(org.file(FILE.replace("interval_s: 30", "interval_s: 60")))
    assert result.exit_code == 0, result.output
    assert _lines(result, "~") == ['~ monitor "Billing API": interval_s 30 -> 60']
    assert _lines(result, "+") == _lines(result, "-") == []
    assert org.monitors()["Billing API"]["interval_s"] == 60


def test_dry_run_prints_the_plan_and_changes_nothing(org: Org) -> None:
    result = runner.invoke(
        app,
        ["config", "apply", "-f", str(org.file(FILE)), "--dry-run"],
        env={"STATPULSE_URL": org.url, "STATPULSE_API_KEY": org.key},
    )
    assert result.exit_code == 0, result.output
    assert '+ monitor "Billing API"' in result.stdout
    assert "dry run, nothing was changed: 5 to create" in result.stdout
    assert org.monitors() == {}
    assert org.api("GET", "/api/v1/pages") == []


def test_only_prune_deletes_what_the_file_does_not_name(org: Org) -> None:
    old = {"name": "Old", "kind": "tcp", "target": "old.example:1"}
    org.api("POST", "/api/v1/monitors", old)
    path = org.file(FILE)

    kept = org.apply(path)
    assert kept.exit_code == 0, kept.output
    assert '  monitor "Old": not in the file (--prune deletes it)' in kept.stdout
    assert _lines(kept, "-") == []
    assert "Old" in org.monitors()

    pruned = org.apply(path, "--prune")
    assert pruned.exit_code == 0, pruned.output
    assert _lines(pruned, "-") == ['- monitor "Old"']
    assert sorted(org.monitors()) == ["Billing API", "Search API"]


def test_a_bad_field_exits_2_naming_its_path_and_creates_nothing(org: Org) -> None:
    text = FILE.replace(
        "    kind: tcp\n    target: search.example:9200\n",
        "    kind: tcp\n    target: search.example:9200\n    interval_s: -5\n",
    )
    result = org.apply(org.file(text))
    assert result.exit_code == 2
    assert "monitors[1].interval_s: Input should be greater than or equal to 10" in result.output
    assert org.monitors() == {}


def test_a_component_naming_an_unknown_monitor_exits_2_naming_its_path(org: Org) -> None:
    result = org.apply(org.file(FILE.replace("monitor: Search API", "monitor: Searhc API")))
    assert result.exit_code == 2
    assert 'pages[0].components[1].monitor: no monitor named "Searhc API" in the file' in (
        result.output
    )
    assert org.monitors() == {}


def test_an_unknown_top_level_key_exits_2(org: Org) -> None:
    result = org.apply(org.file(FILE + "channels: []\n"))
    assert result.exit_code == 2 and "channels: unknown key" in result.output


def test_variables_are_taken_from_the_environment(org: Org) -> None:
    path = org.file(FILE.replace("billing.example", "${{BILLING_HOST}}"))
    missing = org.apply(path)
    assert missing.exit_code == 2
    assert "monitors[0].target: environment variable BILLING_HOST is not set" in missing.output
    assert org.monitors() == {}

    result = org.apply(path, env={"BILLING_HOST": "billing.internal"})
    assert result.exit_code == 0, result.output
    assert org.monitors()["Billing API"]["target"] == "https://billing.internal/health"


def test_an_api_error_mid_apply_exits_1_naming_the_item_and_keeps_what_was_applied(
    org: Org, server: Server
) -> None:
    other = _org(server, org.tmp)
    other.api("POST", "/api/v1/pages", {"slug": f"{org.slug}-taken", "title": "Theirs"})
    text = FILE.replace("  - slug: {slug}\n", "  - slug: {slug}-taken\n")
    result = org.apply(org.file(text))
    assert result.exit_code == 1
    assert f'page "{org.slug}-taken": the API answered 409' in result.output
    assert "the 2 change(s) printed above were applied" in result.output
    assert _lines(result, "+") == ['+ monitor "Billing API"', '+ monitor "Search API"']
    assert sorted(org.monitors()) == ["Billing API", "Search API"]


def test_a_plan_line_that_cannot_be_applied_is_refused_before_any_request(org: Org) -> None:
    assert org.apply(org.file(FILE)).exit_code == 0
    twin = {"name": "Billing", "pages": [org.slug]}
    org.api("POST", "/api/v1/components", twin)
    text = FILE.replace("Acme status", "Acme").replace("interval_s: 30", "interval_s: 60")
    result = org.apply(org.file(text))
    assert result.exit_code == 1
    assert (
        f'! component "Billing" on page "{org.slug}": the page has 2 components of that name'
        in result.stdout
    )
    assert "1 difference(s) above (!) cannot be applied; nothing was changed" in result.output
    assert org.monitors()["Billing API"]["interval_s"] == 30
    assert org.api("GET", "/api/v1/pages")[0]["title"] == "Acme status"


def test_a_changed_page_and_component_are_patched(org: Org) -> None:
    assert org.apply(org.file(FILE)).exit_code == 0
    text = (
        FILE.replace("title: Acme status", "title: Acme\n    description: All of Acme")
        .replace("description: Full-text search, monitor: Search API", "monitor: Cache")
        .replace("{{name: Billing, monitor: Billing API}}", "{{name: Billing}}")
        .replace("pages:", "  - {{name: Cache, kind: tcp, target: cache.example:6379}}\npages:")
    )
    result = org.apply(org.file(text))
    assert result.exit_code == 0, result.output
    assert _lines(result, "~") == [
        f'~ page "{org.slug}": title "Acme status" -> "Acme", description "" -> "All of Acme"',
        f'~ component "Billing" on page "{org.slug}": monitor "Billing API" -> null',
        f'~ component "Search" on page "{org.slug}": description "Full-text search" -> "", '
        'monitor "Search API" -> "Cache"',
    ]
    assert _lines(result, "+") == ['+ monitor "Cache"']
    assert "applied: 1 to create, 3 to change, 0 to delete" in result.stdout
    [page] = org.api("GET", "/api/v1/pages")
    assert (page["title"], page["description"]) == ("Acme", "All of Acme")
    components = {c["name"]: c for c in org.api("GET", f"/api/v1/pages/{org.slug}/components")}
    assert components["Billing"]["monitor_id"] is None
    assert components["Search"]["monitor_id"] == org.monitors()["Cache"]["id"]
    assert components["Search"]["description"] == ""
    again = org.apply(org.file(text))
    assert again.exit_code == 0 and "no changes" in again.stdout


SECOND_PAGE = """\
  - slug: {slug}-b
    title: Second
    components:
      - {{name: Docs}}
"""


def test_prune_deletes_pages_and_components_then_monitors(org: Org) -> None:
    assert org.apply(org.file(FILE + SECOND_PAGE)).exit_code == 0
    text = (
        FILE.replace(
            "      - {{name: Search, description: Full-text search, monitor: Search API}}\n", ""
        )
        .replace("  - name: Search API\n    kind: tcp\n    target: search.example:9200\n", "")
        .replace("    depends_on: Billing API\n", "")
    )
    kept = org.apply(org.file(text))
    assert kept.exit_code == 0, kept.output
    assert _lines(kept, "-") == []
    assert f'  page "{org.slug}-b": not in the file' in kept.stdout

    result = org.apply(org.file(text), "--prune")
    assert result.exit_code == 0, result.output
    assert _lines(result, "-") == [
        f'- component "Search" on page "{org.slug}"',
        f'- component "Docs" on page "{org.slug}-b"',
        f'- page "{org.slug}-b"',
        '- monitor "Search API"',
    ]
    assert "applied: 0 to create, 0 to change, 4 to delete" in result.stdout
    assert [p["slug"] for p in org.api("GET", "/api/v1/pages")] == [org.slug]
    assert [c["name"] for c in org.api("GET", "/api/v1/components")] == ["Billing"]
    assert sorted(org.monitors()) == ["Billing API"]


def test_prune_takes_a_shared_component_off_a_page_without_deleting_it(org: Org) -> None:
    second = "  - {{slug: {slug}-b, title: Second}}\n"
    assert org.apply(org.file(FILE + second)).exit_code == 0
    shared = org.api(
        "POST", "/api/v1/components", {"name": "Shared", "pages": [org.slug, f"{org.slug}-b"]}
    )
    text = FILE.replace(
        "monitor: Search API}}\n", "monitor: Search API}}\n      - {{name: Shared}}\n"
    )
    result = org.apply(org.file(text + second), "--prune")
    assert result.exit_code == 0, result.output
    assert _lines(result, "-") == [
        f'- component "Shared" on page "{org.slug}-b": stays on page "{org.slug}"'
    ]
    assert org.api("GET", f"/api/v1/pages/{org.slug}-b/components") == []
    on_page = org.api("GET", f"/api/v1/pages/{org.slug}/components")
    assert [c["name"] for c in on_page] == ["Billing", "Search", "Shared"]
    assert on_page[2]["id"] == shared["id"]

    gone = org.apply(org.file(FILE + second), "--prune")
    assert gone.exit_code == 0, gone.output
    assert _lines(gone, "-") == [f'- component "Shared" on page "{org.slug}"']
    assert [c["name"] for c in org.api("GET", "/api/v1/components")] == ["Billing", "Search"]


def test_export_refuses_an_organisation_with_two_monitors_of_one_name(org: Org) -> None:
    for target in ("a.example:1", "b.example:1"):
        org.api("POST", "/api/v1/monitors", {"name": "Twin", "kind": "tcp", "target": target})
    result = config(org, "export")
    assert result.exit_code == 2
    assert '"Twin"' in result.output and "rename" in result.output
