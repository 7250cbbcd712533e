from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statpulse.engine.dependencies import fold, roots, validate_parents

# db and api both run on host; web calls api.
PARENTS: dict[str, str | None] = {"host": None, "db": "host", "api": "host", "web": "api"}


@pytest.mark.parametrize(
    ("failing", "expected"),
    [
        ({"web"}, {"web": "web"}),
        ({"web", "api"}, {"web": "api", "api": "api"}),
        ({"web", "api", "db", "host"}, dict.fromkeys(["web", "api", "db", "host"], "host")),
        ({"web", "host"}, {"web": "web", "host": "host"}),  # api is up: web's failure is its own
        (set(), {}),
    ],
)
def test_each_failing_monitor_maps_to_its_failing_root(
    failing: set[str], expected: dict[str, str]
) -> None:
    assert roots(failing, PARENTS) == expected


def test_children_of_a_down_parent_fold_into_one_group() -> None:
    children = {f"svc{i}": "host" for i in range(30)}
    groups = fold({"host", *children}, {**children, "host": None})
    assert groups == {"host": frozenset({"host", *children})}


def test_monitor_without_parent_entry_is_its_own_root() -> None:
    assert roots({"lonely"}, PARENTS) == {"lonely": "lonely"}


def test_validate_accepts_a_forest() -> None:
    validate_parents(PARENTS)


@pytest.mark.parametrize(
    "parents",
    [{"a": "a"}, {"a": "b", "b": "a"}, {"x": "a", "a": "b", "b": "c", "c": "a"}],
)
def test_validate_rejects_a_cycle_naming_the_monitor(parents: dict[str, str | None]) -> None:
    with pytest.raises(ValueError, match=r"^parent: monitor [abc] depends on itself"):
        validate_parents(parents)


def test_folding_terminates_on_a_cycle_with_one_root() -> None:
    parents: dict[str, str | None] = {"x": "a", "a": "b", "b": "c", "c": "a"}
    assert roots({"x", "a", "b", "c"}, parents) == dict.fromkeys("xabc", "a")


names = st.sampled_from([f"m{i}" for i in range(12)])


@st.composite
def forests(draw: st.DrawFn) -> dict[str, str | None]:
    # Parents only point to a lower index, so the map is acyclic.
    order = draw(st.permutations([f"m{i}" for i in range(12)]))
    return {
        m: draw(st.one_of(st.none(), st.sampled_from(order[:i]))) if i else None
        for i, m in enumerate(order)
    }


@given(forests(), st.sets(names))
def test_every_failing_monitor_has_one_failing_root_without_failing_parent(
    parents: dict[str, str | None], failing: set[str]
) -> None:
    validate_parents(parents)
    mapping = roots(failing, parents)
    assert set(mapping) == failing
    for root in mapping.values():
        assert root in failing
        assert parents.get(root) not in failing


@given(st.dictionaries(names, st.one_of(st.none(), names)), st.sets(names))
def test_folding_terminates_and_covers_every_failing_monitor_on_any_map(
    parents: dict[str, str | None], failing: set[str]
) -> None:
    mapping = roots(failing, parents)
    assert set(mapping) == failing
    assert all(root in failing for root in mapping.values())
