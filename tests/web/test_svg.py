"""Server-drawn uptime bars: one rect per day, colours by threshold, escaped, accessible."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

import pytest
from markupsafe import Markup

from statpulse.model import DayUptime
from statpulse.web.public.svg import day_class, day_title, uptime_bar
from statpulse.web.public.view import last_days

TODAY = date(2024, 5, 1)


def full_days(n: int = 90, checks: int = 8640) -> tuple[DayUptime, ...]:
    rows = [DayUptime(d.day, checks, checks, 0) for d in last_days([], today=TODAY, n=n)]
    return tuple(rows)


def rect_classes(svg: str) -> list[str]:
    """The colour class of every rect, in drawing order (the class sits on its group)."""
    root = ET.fromstring(svg)
    return [g.get("class", "") for g in root.iter("g") for _ in g.iter("rect")]


def test_draws_one_rect_per_day_left_to_right() -> None:
    svg = str(uptime_bar(full_days(), label="API"))
    root = ET.fromstring(svg)
    rects = list(root.iter("rect"))
    assert len(rects) == 90
    assert [float(r.get("x", "nan")) for r in rects] == list(range(90))
    titles = [r.findtext("title") for r in rects]
    assert titles[0] == "2024-02-02: 100 % uptime, 8640 checks"
    assert titles[-1] == "2024-05-01: 100 % uptime, 8640 checks"


def test_scales_with_width() -> None:
    root = ET.fromstring(str(uptime_bar(full_days(), label="API")))
    assert root.get("viewBox") == "0 0 90 1"
    assert root.get("preserveAspectRatio") == "none"


@pytest.mark.parametrize(
    ("checks", "ok", "degraded", "expected"),
    [
        (0, 0, 0, "u-none"),
        (8640, 8640, 0, "u-ok"),
        (8640, 8640, 86, "u-ok"),  # under 1 % slow: still a good day
        (8640, 8639, 0, "u-minor"),
        (100, 99, 0, "u-minor"),  # exactly 99 %
        (8640, 8640, 87, "u-degraded"),  # 1 % or more slow
        (8640, 8600, 4000, "u-degraded"),
        (100, 98, 0, "u-partial"),
        (100, 95, 50, "u-partial"),  # exactly 95 %: downtime outranks slowness
        (100, 94, 0, "u-major"),
        (1440, 0, 0, "u-major"),
    ],
)
def test_day_colour_follows_thresholds(checks: int, ok: int, degraded: int, expected: str) -> None:
    assert day_class(DayUptime("2024-05-01", checks, ok, degraded)) == expected


def test_rendered_bars_carry_each_days_colour_class() -> None:
    days = list(full_days(6))
    days[1] = DayUptime(days[1].day, 0, 0, 0)
    days[2] = DayUptime(days[2].day, 100, 90, 0)
    days[3] = DayUptime(days[3].day, 100, 97, 0)
    days[4] = DayUptime(days[4].day, 100, 100, 5)
    classes = rect_classes(str(uptime_bar(days, label="API")))
    assert classes == ["u-ok", "u-none", "u-major", "u-partial", "u-degraded", "u-ok"]


def test_day_titles_give_date_uptime_and_checks() -> None:
    assert day_title(DayUptime("2024-05-01", 8640, 8636, 0)) == (
        "2024-05-01: 99.95 % uptime, 8640 checks"
    )
    assert day_title(DayUptime("2024-05-01", 1, 1, 0)) == "2024-05-01: 100 % uptime, 1 check"
    assert day_title(DayUptime("2024-05-01", 100, 100, 7)) == (
        "2024-05-01: 100 % uptime, 100 checks, 7 degraded"
    )
    assert day_title(DayUptime("2024-05-01", 0, 0, 0)) == "2024-05-01: No data"


def test_has_an_accessible_name_and_description() -> None:
    days = list(full_days())
    days[0] = DayUptime(days[0].day, 0, 0, 0)
    days[10] = DayUptime(days[10].day, 8640, 8000, 0)
    svg = uptime_bar(days, label="Checkout API", uid="c1")
    root = ET.fromstring(str(svg))
    assert root.get("role") == "img"
    name = root.find(f"title[@id='{root.get('aria-labelledby')}']")
    desc = root.find(f"desc[@id='{root.get('aria-describedby')}']")
    assert name is not None
    assert desc is not None
    assert name.text == "Checkout API: uptime over the last 90 days: 99.91 %"
    assert desc.text == (
        "Days with downtime: 1. Days with degraded performance: 0. Days without data: 1."
    )


def test_accessible_name_says_no_data_without_checks() -> None:
    days = last_days([], today=TODAY)
    root = ET.fromstring(str(uptime_bar(days, label="New API")))
    assert root.findtext("title") == "New API: uptime over the last 90 days: No data"
    assert set(rect_classes(str(uptime_bar(days, label="New API")))) == {"u-none"}


def test_ids_are_unique_per_uid_and_safe() -> None:
    a = ET.fromstring(str(uptime_bar(full_days(), label="Same", uid="a")))
    b = ET.fromstring(str(uptime_bar(full_days(), label="Same", uid="b")))
    assert a.get("aria-labelledby") != b.get("aria-labelledby")
    hostile = ET.fromstring(str(uptime_bar(full_days(), label="x", uid='"><script>')))
    assert hostile.get("aria-labelledby") == "ub-script-t"


def test_text_is_escaped_and_output_is_csp_safe() -> None:
    name = '<script>alert("x")</script> & "Co"'
    days = [DayUptime('<img src=x onerror="1">', 10, 9, 1), *full_days(3)]
    svg = uptime_bar(days, label=name)
    assert isinstance(svg, Markup)
    text = str(svg)
    assert "<script" not in text
    assert "<img" not in text
    assert "style=" not in text
    assert "&lt;script&gt;" in text
    root = ET.fromstring(text)  # escaping kept it well-formed
    assert root.findtext("title", "").startswith(name + ": uptime")
    assert next(root.iter("rect")).findtext("title", "").startswith('<img src=x onerror="1">:')


def test_empty_input_draws_an_empty_but_valid_bar() -> None:
    root = ET.fromstring(str(uptime_bar([], label="API")))
    assert list(root.iter("rect")) == []
    assert root.findtext("title") == "API: uptime over the last 0 days: No data"


def test_output_stays_compact() -> None:
    uid = "0190a6b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"  # a component's UUIDv7, as the page passes
    size = len(str(uptime_bar(full_days(), label="API", uid=uid)))
    print(f"uptime bar, 90 full days: {size} bytes")
    assert size < 9_500
