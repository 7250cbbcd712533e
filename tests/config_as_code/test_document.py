"""Reading, exporting and planning configuration files (pure: no server)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from statpulse.config_as_code.document import DocumentError, parse
from statpulse.config_as_code.export import export_text
from statpulse.config_as_code.plan import make_plan
from statpulse.config_as_code.state import (
    MONITOR_FIELDS,
    Current,
    CurrentComponent,
    CurrentMonitor,
    CurrentPage,
)
from statpulse.web.api.schemas import MonitorIn, redacted_document

GOOD = """
monitors:
  - {name: A, kind: http, target: "https://a.example/health"}
  - {name: B, kind: tcp, target: "db.example:5432", depends_on: A}
pages:
  - slug: status
    title: Status
    components:
      - {name: API, monitor: A}
      - {name: Docs}
"""


def _error(text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(DocumentError) as info:
        parse(text, env or {})
    return str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file is empty"),
        ("- a", "the file must be a mapping"),
        ("monitors: []\nchannels: []", "channels: unknown key"),
        ("monitors: {a: 1}", "monitors: must be a list"),
        ("monitors: [{kind: http}]", "monitors[0].name: Field required"),
        (
            "monitors: [{name: A, kind: http, target: 'https://a.example', interval_s: 5}]",
            "monitors[0].interval_s: Input should be greater than or equal to 10",
        ),
        (
            "monitors: [{name: A, kind: http, target: 'https://a.example', bogus: 1}]",
            "monitors[0].bogus: Extra inputs are not permitted",
        ),
        ("monitors: [{name: A, kind: smtp, target: x}]", "monitors[0].kind: unsupported kind"),
        (
            "monitors: [{name: A, kind: http, target: 'https://a.example', "
            "conditions: ['[STATUS] =='], http: {method: GET}}]",
            "monitors[0].conditions[0]:",
        ),
        (
            "monitors: [{name: A, kind: http, target: 'https://a.example', "
            "http: {client_cert: x}}]",
            "monitors[0].http.client_cert: must be a PEM certificate",
        ),
        (
            "monitors: [{name: A, kind: tcp, target: 'a:1'}, {name: A, kind: tcp, target: 'b:1'}]",
            'monitors[1].name: "A" is also the name of monitors[0]',
        ),
        (
            "monitors: [{name: A, kind: tcp, target: 'a:1', depends_on: Z}]",
            'monitors[0].depends_on: no monitor named "Z" in the file',
        ),
        (
            "monitors: [{name: A, kind: tcp, target: 'a:1', depends_on: B},"
            " {name: B, kind: tcp, target: 'b:1', depends_on: A}]",
            'monitors[0].depends_on: a cycle: "A" -> "B" -> "A"',
        ),
        ("pages: [{slug: Bad Slug, title: T}]", "pages[0].slug: String should match pattern"),
        (
            "pages: [{slug: s, title: T, components: [{name: C, monitor: X}]}]",
            'pages[0].components[0].monitor: no monitor named "X" in the file',
        ),
        (
            "pages: [{slug: s, title: T, components: [{name: C}, {name: C}]}]",
            'pages[0].components[1].name: a component "C" is already on this page',
        ),
        (
            "pages: [{slug: s, title: T, components: [{name: C, monitor_id: x}]}]",
            "pages[0].components[0].monitor_id: unknown key",
        ),
        ("monitors: [\n  {name: A", "line 2, column 11"),
    ],
)
def test_a_bad_file_is_refused_naming_the_path(text: str, expected: str) -> None:
    assert expected in _error(text)


def test_a_good_file_lists_parents_before_the_monitors_that_depend_on_them() -> None:
    text = GOOD.replace(
        "  - {name: A,", "  - {name: C, kind: tcp, target: 'c:1', depends_on: B}\n  - {name: A,"
    )
    desired = parse(text, {})
    assert [m.name for m in desired.monitors] == ["A", "B", "C"]
    assert desired.pages[0].components[0].monitor == "A"
    assert desired.pages[0].components[1].monitor is None


def test_variables_are_substituted_and_a_double_dollar_is_a_literal() -> None:
    text = (
        "monitors: [{name: A, kind: http, target: 'https://${HOST}/x', "
        "http: {body: '$${not.a.var}', headers: {Authorization: 'Bearer ${TOKEN}'}}}]"
    )
    config = parse(text, {"HOST": "a.example", "TOKEN": "s3cret"}).monitors[0].config
    assert config.target == "https://a.example/x"
    assert config.http.body == "${not.a.var}"
    assert dict(config.http.headers) == {"Authorization": "Bearer s3cret"}


def test_an_unset_variable_names_the_field() -> None:
    text = (
        "monitors: [{name: A, kind: http, target: 'https://a', http: {headers: {X-Key: '${K}'}}}]"
    )
    assert _error(text) == "monitors[0].http.headers.X-Key: environment variable K is not set"


def _current_monitor(n: int, **fields: Any) -> CurrentMonitor:
    doc = redacted_document(MonitorIn.model_validate(fields).to_config())
    return CurrentMonitor(f"id-{n}", fields["name"], {f: doc[f] for f in MONITOR_FIELDS})


def _org() -> Current:
    api = _current_monitor(
        1,
        name="Billing API",
        kind="http",
        target="https://billing.example/health",
        interval_s=30,
        conditions=["[STATUS] == 200"],
        http={"headers": {"Authorization": "Bearer x"}, "body": "literal ${x}"},
    )
    beat = _current_monitor(2, name="Nightly", kind="heartbeat", interval_s=86400)
    child = _current_monitor(3, name="DB", kind="tcp", target="db:5432", grace_s=5)
    child.fields["depends_on"] = "id-1"
    page = CurrentPage(
        "p1",
        "status",
        "Status",
        "",
        (
            CurrentComponent("c1", "API", "The API", "id-1"),
            CurrentComponent("c2", "Docs", "", None),
        ),
    )
    return Current((api, beat, child), (page,))


def test_export_writes_secrets_as_variables_and_leaves_defaults_out() -> None:
    text = export_text(_org())
    assert "Bearer x" not in text and "********" not in text
    assert "Authorization: ${BILLING_API_AUTHORIZATION}" in text
    assert re.search(r"#\s+BILLING_API_AUTHORIZATION\s+monitors\[0\]\.http\.headers", text)
    assert "literal $${x}" in text  # not read as a variable on apply
    assert "timeout_s" not in text and "failure_threshold" not in text
    assert "regions" not in text  # the heartbeat's ["push"] is the server's to set
    assert "depends_on: Billing API" in text and "monitor: Billing API" in text


def test_an_exported_file_plans_no_change_against_what_it_came_from() -> None:
    org = _org()
    desired = parse(export_text(org), {"BILLING_API_AUTHORIZATION": "Bearer new"})
    plan = make_plan(desired, org, prune=True)
    assert plan.steps == ()


def test_a_changed_field_plans_one_patch_of_that_field_only() -> None:
    org = _org()
    text = export_text(org).replace("interval_s: 30", "interval_s: 60")
    plan = make_plan(parse(text, {"BILLING_API_AUTHORIZATION": "v"}), org, prune=False)
    [step] = plan.steps
    assert step.line() == '~ monitor "Billing API": interval_s 30 -> 60'
    assert (step.method, step.path, step.body) == (
        "PATCH",
        "/api/v1/monitors/id-1",
        {"interval_s": 60},
    )


def test_a_new_header_is_sent_with_every_header_value_of_the_file() -> None:
    org = _org()
    text = export_text(org).replace(
        "Authorization: ${BILLING_API_AUTHORIZATION}",
        "Authorization: ${BILLING_API_AUTHORIZATION}\n      X-Extra: '1'",
    )
    plan = make_plan(parse(text, {"BILLING_API_AUTHORIZATION": "v"}), org, prune=False)
    [step] = plan.steps
    assert step.detail == 'http.headers ["Authorization"] -> ["Authorization", "X-Extra"]'
    assert step.body == {"http": {"headers": {"Authorization": "v", "X-Extra": "1"}}}


def test_export_refuses_two_monitors_of_one_name() -> None:
    org = _org()
    twin = _current_monitor(9, name="Nightly", kind="heartbeat")
    with pytest.raises(DocumentError, match='"Nightly"'):
        export_text(Current((*org.monitors, twin), org.pages))
