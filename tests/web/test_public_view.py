"""The status page view model: overall status, wording, uptime maths, live payload."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statpulse.model import DayUptime, Status
from statpulse.web.public.view import (
    ComponentView,
    GroupView,
    PageView,
    banner_text,
    day_uptime_pct,
    display_utc,
    format_pct,
    iso_utc,
    last_days,
    live_payload,
    overall_status,
    status_label,
    template_globals,
    uptime_pct,
)

NOW = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)


def component(cid: str, status: Status, days: tuple[DayUptime, ...] = ()) -> ComponentView:
    return ComponentView(
        id=cid,
        name=f"Component {cid}",
        description="",
        status=status,
        days=days,
        uptime_pct=uptime_pct(days),
    )


S = Status


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], S.UNKNOWN),
        ([S.UP], S.UP),
        ([S.UP, S.UP, S.UP], S.UP),
        ([S.UP, S.UNKNOWN], S.UP),
        ([S.UNKNOWN, S.UNKNOWN], S.UNKNOWN),
        ([S.UP, S.UNKNOWN, S.MAINTENANCE], S.MAINTENANCE),
        ([S.MAINTENANCE, S.DEGRADED, S.UP], S.DEGRADED),
        ([S.UP, S.DEGRADED, S.DOWN, S.MAINTENANCE, S.UNKNOWN], S.DOWN),
        ([S.DOWN, S.PAUSED], S.DOWN),
        ([S.UP, S.PAUSED], S.UP),
        ([S.PAUSED], S.UNKNOWN),
        ([S.PAUSED, S.PAUSED], S.UNKNOWN),
    ],
)
def test_overall_status_is_the_worst_status_ignoring_paused(
    statuses: list[Status], expected: Status
) -> None:
    assert overall_status(statuses) is expected
    assert overall_status(reversed(statuses)) is expected


@given(st.lists(st.sampled_from(list(Status))))
def test_overall_status_ignores_paused_components(statuses: list[Status]) -> None:
    without_paused = [s for s in statuses if s is not Status.PAUSED]
    assert overall_status(statuses) is overall_status(without_paused)
    assert overall_status(statuses) is not Status.PAUSED


def test_page_overall_uses_component_statuses() -> None:
    page = PageView("p", "P", "", [component("a", S.UP), component("b", S.DEGRADED)], NOW)
    assert page.overall is S.DEGRADED
    assert PageView("p", "P", "", [], NOW).overall is S.UNKNOWN


@pytest.mark.parametrize(
    ("statuses", "banner"),
    [
        ([S.UP, S.UP], "All systems operational"),
        ([S.UP, S.DOWN], "Partial outage"),
        ([S.DEGRADED, S.DOWN], "Partial outage"),
        ([S.DOWN, S.DOWN], "Major outage"),
        ([S.DOWN, S.UNKNOWN, S.PAUSED], "Major outage"),
        ([S.UNKNOWN], "Status currently unavailable"),
    ],
)
def test_banner_tells_a_partial_outage_from_a_major_one(
    statuses: list[Status], banner: str
) -> None:
    components = [component(f"c{i}", s) for i, s in enumerate(statuses)]
    assert PageView("p", "P", "", components, NOW).banner == banner


def test_page_rejects_a_naive_updated_at() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        PageView("p", "P", "", [], datetime(2024, 5, 1, 12, 0))


@pytest.mark.parametrize(
    ("status", "label"),
    [
        (S.UP, "Operational"),
        (S.DEGRADED, "Degraded performance"),
        (S.DOWN, "Major outage"),
        (S.MAINTENANCE, "Under maintenance"),
        (S.PAUSED, "Paused"),
        (S.UNKNOWN, "No data"),
    ],
)
def test_status_label_uses_customer_wording(status: Status, label: str) -> None:
    assert status_label(status) == label


def test_banner_text_exists_for_every_status() -> None:
    assert banner_text(S.UP) == "All systems operational"
    assert banner_text(S.DEGRADED) == "Some systems are degraded"
    assert banner_text(S.DOWN) == "Major outage"
    assert banner_text(S.MAINTENANCE) == "Maintenance in progress"
    assert all(banner_text(s) for s in Status)


def test_day_uptime_counts_degraded_checks_as_up() -> None:
    # degraded checks are a subset of ok checks: 8640 checks, 8636 ok of which 100 slow
    assert day_uptime_pct(DayUptime("2024-05-01", 8640, 8636, 100)) == pytest.approx(
        8636 / 8640 * 100
    )
    assert day_uptime_pct(DayUptime("2024-05-01", 1440, 1440, 1440)) == 100.0
    assert day_uptime_pct(DayUptime("2024-05-01", 0, 0, 0)) is None


def test_uptime_pct_weights_days_by_checks_and_skips_days_without_data() -> None:
    days = [
        DayUptime("2024-04-29", 0, 0, 0),
        DayUptime("2024-04-30", 1000, 900, 0),
        DayUptime("2024-05-01", 9000, 9000, 50),
    ]
    assert uptime_pct(days) == pytest.approx(9900 / 10000 * 100)


def test_uptime_pct_is_none_without_any_data() -> None:
    assert uptime_pct([]) is None
    assert uptime_pct([DayUptime("2024-05-01", 0, 0, 0)] * 3) is None


@given(
    st.lists(
        st.integers(min_value=0, max_value=100_000).flatmap(
            lambda n: st.tuples(st.just(n), st.integers(min_value=0, max_value=n))
        ),
        max_size=90,
    )
)
def test_uptime_pct_stays_between_0_and_100(pairs: list[tuple[int, int]]) -> None:
    days = [DayUptime("2024-05-01", checks, ok, 0) for checks, ok in pairs]
    pct = uptime_pct(days)
    if sum(checks for checks, _ in pairs) == 0:
        assert pct is None
    else:
        assert pct is not None
        assert 0.0 <= pct <= 100.0
        assert (pct == 100.0) == all(ok == checks for checks, ok in pairs)


def test_last_days_returns_exactly_n_days_oldest_first_with_gaps_filled() -> None:
    rows = [
        DayUptime("2024-05-01", 10, 9, 1),
        DayUptime("2024-04-30", 5, 5, 0),
        DayUptime("2024-01-01", 7, 7, 0),  # outside the window
        DayUptime("2024-05-01", 10, 10, 0),  # a second region's row for the same day
    ]
    days = last_days(rows, today=date(2024, 5, 1), n=90)
    assert len(days) == 90
    assert days[0].day == (date(2024, 5, 1) - timedelta(days=89)).isoformat()
    assert days[-1] == DayUptime("2024-05-01", 20, 19, 1)
    assert days[-2] == DayUptime("2024-04-30", 5, 5, 0)
    assert all(d.checks == 0 for d in days[:-2])
    assert [d.day for d in days] == sorted(d.day for d in days)


def test_last_days_rejects_an_empty_window() -> None:
    with pytest.raises(ValueError, match="n must be"):
        last_days([], today=date(2024, 5, 1), n=0)


@pytest.mark.parametrize(
    ("pct", "text"),
    [
        (None, "No data"),
        (100.0, "100 %"),
        (99.95, "99.95 %"),
        (8636 / 8640 * 100, "99.95 %"),
        (99.999, "99.99 %"),  # truncated: never shown as perfect when it was not
        (99.9999999, "99.99 %"),
        (50.0, "50.00 %"),
        (0.0, "0.00 %"),
    ],
)
def test_format_pct_truncates_to_two_decimals(pct: float | None, text: str) -> None:
    assert format_pct(pct) == text


def test_times_render_in_utc_to_the_second() -> None:
    paris = timezone(timedelta(hours=2))
    moment = datetime(2024, 5, 1, 14, 30, 15, 999, tzinfo=paris)
    assert iso_utc(moment) == "2024-05-01T12:30:15Z"
    assert display_utc(moment) == "2024-05-01 12:30 UTC"
    with pytest.raises(ValueError, match="timezone-aware"):
        iso_utc(datetime(2024, 5, 1))


def test_live_payload_carries_overall_banner_time_each_component_and_group() -> None:
    members = [component("c1", S.UP), component("c2", S.DOWN)]
    page = PageView(
        slug="acme",
        title="Acme",
        description="",
        components=[*members, component("c3", S.PAUSED)],
        updated_at=NOW,
        groups=[GroupView(id="g1", name="Core", components=members)],
    )
    payload = live_payload(page)
    assert payload == {
        "overall": "down",
        "banner": "Partial outage",
        "updated_at": "2024-05-01T12:30:15Z",
        "components": [
            {"id": "c1", "status": "up", "label": "Operational"},
            {"id": "c2", "status": "down", "label": "Major outage"},
            {"id": "c3", "status": "paused", "label": "Paused"},
        ],
        "groups": [{"id": "g1", "status": "down", "label": "Major outage"}],
    }
    assert json.loads(json.dumps(payload)) == payload


def test_template_globals_expose_the_helpers_the_template_calls() -> None:
    helpers = template_globals()
    for name in ("status_label", "banner_text", "uptime_bar", "format_pct", "iso_utc"):
        assert callable(helpers[name])
