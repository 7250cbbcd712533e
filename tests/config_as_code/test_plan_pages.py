"""Planning pages and components (pure: no server): changes are PATCHes, ``--prune`` deletes
pages and components (or takes a shared component off a page), deletes come after creates and
changes and monitors last; what the file cannot settle is a ``!`` line."""

from __future__ import annotations

from statpulse.config_as_code.document import parse
from statpulse.config_as_code.plan import Plan, make_plan
from statpulse.config_as_code.state import Current, CurrentComponent, CurrentPage
from tests.config_as_code.test_document import _current_monitor

A = _current_monitor(1, name="A", kind="tcp", target="a.example:1")
OLD = _current_monitor(2, name="Old", kind="tcp", target="old.example:1")
API = CurrentComponent("c1", "API", "", "id-1")
WEB = CurrentComponent("c2", "Web", "", None)
SHARED = CurrentComponent("c3", "Shared", "", None)


def _current(*pages: CurrentPage) -> Current:
    return Current((A, OLD), pages)


def _plan(text: str, current: Current, *, prune: bool = True) -> Plan:
    return make_plan(parse(text, {}), current, prune=prune)


def _steps(plan: Plan) -> list[tuple[str, str | None, str]]:
    return [(s.line(), s.method, s.path) for s in plan.steps]


MONITORS = """
monitors:
  - {name: A, kind: tcp, target: "a.example:1"}
  - {name: New, kind: tcp, target: "new.example:1"}
"""


def test_changed_pages_and_components_are_patches_and_deletes_come_last() -> None:
    current = _current(
        CurrentPage("p1", "acme", "Acme", "", (API, WEB, SHARED)),
        CurrentPage("p2", "beta", "Beta", "", (SHARED,)),
        CurrentPage("p3", "old", "Old", "", (CurrentComponent("c4", "Gone", "", None),)),
    )
    text = MONITORS + (
        "pages:\n"
        "  - slug: acme\n"
        "    title: Acme status\n"
        "    description: All of it\n"
        "    components:\n"
        "      - {name: API, description: REST, monitor: New}\n"
        "      - {name: Web, monitor: A}\n"
        "      - {name: Shared}\n"
        "  - {slug: beta, title: Beta}\n"
    )
    plan = _plan(text, current)
    assert _steps(plan) == [
        ('+ monitor "New"', "POST", "/api/v1/monitors"),
        (
            '~ page "acme": title "Acme" -> "Acme status", description "" -> "All of it"',
            "PATCH",
            "/api/v1/pages/acme",
        ),
        (
            '~ component "API" on page "acme": description "" -> "REST", monitor "A" -> "New"',
            "PATCH",
            "/api/v1/components/c1",
        ),
        ('~ component "Web" on page "acme": monitor null -> "A"', "PATCH", "/api/v1/components/c2"),
        (
            '- component "Shared" on page "beta": stays on page "acme"',
            "PATCH",
            "/api/v1/components/c3",
        ),
        ('- component "Gone" on page "old"', "DELETE", "/api/v1/components/c4"),
        ('- page "old"', "DELETE", "/api/v1/pages/old"),
        ('- monitor "Old"', "DELETE", "/api/v1/monitors/id-2"),
    ]
    page, api, web, shared = (plan.steps[i] for i in (1, 2, 3, 4))
    assert page.body == {"title": "Acme status", "description": "All of it"}
    assert (api.body, api.ref) == (
        {"description": "REST", "monitor_id": None},
        ("monitor_id", "New"),
    )
    assert (web.body, web.ref) == ({"monitor_id": None}, ("monitor_id", "A"))
    assert shared.body == {"pages": ["acme"]}
    assert plan.blocked == []
    assert plan.counts() == "1 to create, 3 to change, 4 to delete"


def test_unlinking_a_monitor_sends_null_without_a_reference() -> None:
    current = _current(CurrentPage("p1", "acme", "Acme", "", (API,)))
    text = MONITORS + "pages:\n  - {slug: acme, title: Acme, components: [{name: API}]}\n"
    [_, step] = [s for s in _plan(text, current, prune=False).steps if s.sign != " "]
    assert step.line() == '~ component "API" on page "acme": monitor "A" -> null'
    assert (step.body, step.ref) == ({"monitor_id": None}, None)


def test_without_prune_nothing_is_deleted() -> None:
    current = _current(
        CurrentPage("p1", "acme", "Acme", "", (API, WEB)),
        CurrentPage("p2", "old", "Old", "", ()),
    )
    text = (
        MONITORS + "pages:\n  - {slug: acme, title: Acme, components: [{name: API, monitor: A}]}\n"
    )
    plan = _plan(text, current, prune=False)
    assert [s.line() for s in plan.steps if not s.method] == [
        '  component "Web" on page "acme": not in the file',
        '  page "old": not in the file',
        '  monitor "Old": not in the file (--prune deletes it)',
    ]


def test_a_shared_component_is_deleted_only_when_no_page_of_the_file_lists_it() -> None:
    current = _current(
        CurrentPage("p1", "acme", "Acme", "", (SHARED,)),
        CurrentPage("p2", "beta", "Beta", "", (SHARED,)),
    )
    text = MONITORS + "pages:\n  - {slug: acme, title: Acme}\n  - {slug: beta, title: Beta}\n"
    steps = [s for s in _plan(text, current).steps if s.method == "DELETE"]
    assert [s.line() for s in steps] == [
        '- component "Shared" on pages "acme", "beta"',
        '- monitor "Old"',
    ]
    # Its other page is deleted: the delete of the page takes the link, nothing to patch.
    text = MONITORS + "pages:\n  - {slug: acme, title: Acme, components: [{name: Shared}]}\n"
    assert [s.line() for s in _plan(text, current).steps] == [
        '+ monitor "New"',
        '- page "beta"',
        '- monitor "Old"',
    ]


def test_a_shared_component_is_changed_once_or_refused_when_the_pages_disagree() -> None:
    current = _current(
        CurrentPage("p1", "acme", "Acme", "", (SHARED,)),
        CurrentPage("p2", "beta", "Beta", "", (SHARED,)),
    )
    page = "  - {{slug: {0}, title: {1}, components: [{{name: Shared, description: {2}}}]}}\n"
    same = (
        MONITORS + "pages:\n" + page.format("acme", "Acme", "x") + page.format("beta", "Beta", "x")
    )
    [step] = [s for s in _plan(same, current, prune=False).steps if s.method == "PATCH"]
    assert step.line() == '~ component "Shared" on page "acme": description "" -> "x"'

    differ = (
        MONITORS + "pages:\n" + page.format("acme", "Acme", "x") + page.format("beta", "Beta", "y")
    )
    plan = _plan(differ, current)
    assert [s.line() for s in plan.blocked] == [
        '! component "Shared" on page "beta": it is also on page "acme", where the file gives '
        "it another description or monitor"
    ]


def test_two_components_of_one_name_on_a_page_are_refused() -> None:
    twin = CurrentComponent("c9", "API", "", None)
    current = _current(CurrentPage("p1", "acme", "Acme", "", (API, twin)))
    text = MONITORS + "pages:\n  - {slug: acme, title: Acme, components: [{name: API}]}\n"
    plan = _plan(text, current)
    assert [s.line() for s in plan.blocked] == [
        '! component "API" on page "acme": the page has 2 components of that name'
    ]
    assert not [s for s in plan.steps if s.path.startswith("/api/v1/components")]
