"""The component page's SVG charts (pure): the calendar heatmap's grid, colours, labels and
titles, the response time chart's ticks, gaps and summary, escaping, and (Hypothesis) that
any input gives well-formed SVG."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statpulse.model import DayUptime
from statpulse.web.public.svg import day_class
from statpulse.web.public.svg_charts import (
    CELL,
    HEATMAP_KEY,
    HM_LEFT,
    HM_TOP,
    PITCH,
    RT_LEFT,
    RT_RIGHT,
    RT_WIDTH,
    TICKS,
    LatencyPoint,
    calendar_heatmap,
    format_ms,
    heatmap_cell_title,
    nice_ticks,
    response_time_chart,
)
from statpulse.web.public.view import last_days

SVG = "{http://www.w3.org/2000/svg}"
TODAY = date(2026, 11, 23)  # a Monday


def parse(markup: str) -> ET.Element:
    """The markup as XML (SVG's namespace made explicit, as a browser infers it in HTML)."""
    return ET.fromstring(str(markup).replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" '))


def heatmap(days: list[DayUptime], label: str = "API") -> ET.Element:
    root = parse(calendar_heatmap(days, label=label, uid="x"))
    assert root.tag == "div" and root.get("class") == "hm"
    svg = root.find(f"{SVG}svg")
    assert svg is not None and svg.get("role") == "img"
    return svg


def cells(svg: ET.Element) -> dict[str, tuple[int, int, str]]:
    """Each cell by its title's date part: (x, y, colour class)."""
    found = {}
    for group in svg.findall(f"{SVG}g"):
        for rect in group.findall(f"{SVG}rect"):
            title = rect.findtext(f"{SVG}title", "")
            found[title.split(":")[0]] = (
                int(rect.get("x", "")),
                int(rect.get("y", "")),
                group.get("class", ""),
            )
    return found


def window(n: int = 90, today: date = TODAY, **rows: DayUptime) -> list[DayUptime]:
    return list(last_days(rows.values(), today=today, n=n))


def test_heatmap_has_one_cell_per_day_in_week_columns_with_monday_on_top() -> None:
    svg = heatmap(window())
    found = cells(svg)
    assert len(found) == 90
    # 90 days ending Monday 23 Nov 2026 start on Wednesday 26 Aug: row 2 of the first column.
    assert found["26 Aug 2026"][:2] == (HM_LEFT, HM_TOP + 2 * PITCH)
    assert found["30 Aug 2026"][:2] == (HM_LEFT, HM_TOP + 6 * PITCH)  # Sunday: the last row
    assert found["31 Aug 2026"][:2] == (HM_LEFT + PITCH, HM_TOP)  # Monday: a new column
    assert found["23 Nov 2026"][:2] == (HM_LEFT + 13 * PITCH, HM_TOP)
    assert all(rect.get("width") == str(CELL) for rect in svg.iter(f"{SVG}rect"))
    assert len({xy[:2] for xy in found.values()}) == 90  # no two cells overlap
    title = svg.findtext(f"{SVG}title")
    assert title == "API: daily uptime from 26 Aug 2026 to 23 Nov 2026"
    assert svg.get("aria-labelledby") == "hm-x-t" and svg.get("aria-describedby") == "hm-x-d"


def test_heatmap_labels_months_at_their_first_day_and_weekdays_mon_wed_fri() -> None:
    svg = heatmap(window(today=date(2026, 11, 10)))  # 13 Aug (Thursday) to 10 Nov
    texts = [(t.text, t.get("x"), t.get("y")) for t in svg.iter(f"{SVG}text")]
    months = [(text, int(x or 0)) for text, x, y in texts if y == str(HM_TOP - 4)]
    # Week columns start on 10 Aug; 1 Sep (a Tuesday) is in column 3, 1 Oct in 7, 1 Nov in 11.
    assert months == [
        ("Aug", HM_LEFT),
        ("Sep", HM_LEFT + 3 * PITCH),
        ("Oct", HM_LEFT + 7 * PITCH),
        ("Nov", HM_LEFT + 11 * PITCH),
    ]
    assert [text for text, _, y in texts if y != str(HM_TOP - 4)] == ["Mon", "Wed", "Fri"]


def test_heatmap_across_a_year_end_names_january_at_its_week() -> None:
    days = window(n=14, today=date(2027, 1, 6))  # 24 Dec 2026 to 6 Jan 2027
    svg = heatmap(days)
    found = cells(svg)
    assert len(found) == 14
    # Monday 21 Dec is column 0, so 1 Jan 2027 (a Friday) is column 1, row 4.
    assert found["1 Jan 2027"][:2] == (HM_LEFT + PITCH, HM_TOP + 4 * PITCH)
    assert found["6 Jan 2027"][:2] == (HM_LEFT + 2 * PITCH, HM_TOP + 2 * PITCH)
    months = [t.text for t in svg.iter(f"{SVG}text") if t.get("y") == str(HM_TOP - 4)]
    assert months == ["Jan"]  # December's label would have no room before it


@pytest.mark.parametrize(
    ("checks", "ok", "degraded", "cls"),
    [
        (0, 0, 0, "u-none"),
        (1440, 1440, 0, "u-ok"),
        (1440, 1439, 0, "u-minor"),
        (1440, 1440, 15, "u-degraded"),
        (1440, 1400, 0, "u-partial"),
        (1440, 1000, 0, "u-major"),
    ],
)
def test_heatmap_cells_take_the_uptime_bars_colour_class(
    checks: int, ok: int, degraded: int, cls: str
) -> None:
    day = DayUptime("2026-11-20", checks, ok, degraded)
    assert day_class(day) == cls
    found = cells(heatmap(window(n=7, d=day)))
    assert found["20 Nov 2026"][2] == cls
    assert {c for key, (_, _, c) in found.items() if key != "20 Nov 2026"} == {"u-none"}


def test_heatmap_cell_titles_say_uptime_failures_and_missing_days() -> None:
    day = date(2026, 11, 21)
    assert (
        heatmap_cell_title(day, DayUptime("2026-11-21", 4000, 3998, 0))
        == "21 Nov 2026: 99.95 % uptime, 2 failed checks of 4,000"
    )
    assert (
        heatmap_cell_title(day, DayUptime("2026-11-21", 1, 0, 0))
        == "21 Nov 2026: 0.00 % uptime, 1 failed check of 1"
    )
    assert (
        heatmap_cell_title(day, DayUptime("2026-11-21", 1440, 1440, 30))
        == "21 Nov 2026: 100 % uptime, 0 failed checks of 1,440, 30 degraded"
    )
    assert heatmap_cell_title(day, None) == "21 Nov 2026: No data"
    assert heatmap_cell_title(day, DayUptime("2026-11-21", 0, 0, 0)) == "21 Nov 2026: No data"


def test_heatmap_fills_dates_missing_from_the_input_as_no_data() -> None:
    days = [DayUptime("2026-11-01", 10, 10, 0), DayUptime("2026-11-05", 10, 5, 0)]
    found = cells(heatmap(days))
    assert len(found) == 5
    assert [found[f"{d} Nov 2026"][2] for d in range(1, 6)] == [
        "u-ok",
        "u-none",
        "u-none",
        "u-none",
        "u-major",
    ]


def test_heatmap_description_summarises_the_window() -> None:
    days = window(
        a=DayUptime("2026-11-20", 100, 90, 0),
        b=DayUptime("2026-11-21", 100, 99, 0),
        c=DayUptime("2026-11-22", 100, 100, 5),
    )
    desc = heatmap(days).findtext(f"{SVG}desc")
    assert desc == (
        "Uptime over the 90 days: 96.33 %. Days with downtime: 2; the worst, 20 Nov 2026, "
        "had 90.00 % uptime. Days with degraded performance: 1. Days without data: 87."
    )


def test_heatmap_key_lists_every_colour_class_in_text() -> None:
    root = parse(calendar_heatmap(window(n=3), label="API"))
    key = root.find("ul")
    assert key is not None and key.get("aria-label") == "Colour key"
    items = key.findall("li")
    assert [li.find(f"{SVG}svg/{SVG}rect").get("class") for li in items] == [  # type: ignore[union-attr]
        cls for cls, _ in HEATMAP_KEY
    ]
    assert ["".join(li.itertext()) for li in items] == [text for _, text in HEATMAP_KEY]
    assert all(li.find(f"{SVG}svg").get("aria-hidden") == "true" for li in items)  # type: ignore[union-attr]


def test_heatmap_without_days_says_no_data() -> None:
    svg = heatmap([])
    assert [t.text for t in svg.iter(f"{SVG}text")] == ["No data"]
    assert svg.findtext(f"{SVG}desc") == "No data."


NASTY = '<script>alert("x")</script> & <b>'


def test_component_names_stay_text_in_both_charts() -> None:
    heat = calendar_heatmap(window(n=7), label=NASTY, uid='"><script>')
    chart = response_time_chart(
        [LatencyPoint(datetime(2026, 11, 20, tzinfo=UTC), 5.0, 9.0)],
        label=NASTY,
        period="<i>daily</i>",
        uid="<x>",
    )
    for markup in (heat, chart):
        assert "<script" not in markup and "<b>" not in markup and "<i>" not in markup
    svg = heatmap(window(n=7), label=NASTY)
    assert (svg.findtext(f"{SVG}title") or "").startswith(NASTY + ": daily uptime")
    rt = parse(chart)
    assert rt.findtext(f"{SVG}title") == f"{NASTY}: response time, <i>daily</i>"
    assert rt.get("aria-labelledby") == "rt-x-t"


# --- response time chart ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("high", "ticks"),
    [
        (430, [0, 200, 400, 600]),
        (1000, [0, 250, 500, 750, 1000]),
        (80, [0, 20, 40, 60, 80]),
        (81, [0, 25, 50, 75, 100]),
        (0.3, [0, 0.25, 0.5, 0.75, 1]),
        (0, [0, 0.25, 0.5, 0.75, 1]),
        (float("nan"), [0, 0.25, 0.5, 0.75, 1]),
        (12345, [0, 5000, 10000, 15000]),
    ],
)
def test_nice_ticks_are_round_and_reach_the_highest_value(high: float, ticks: list[float]) -> None:
    assert nice_ticks(high) == ticks


@given(st.floats(min_value=0, max_value=1e9))
def test_nice_ticks_start_at_zero_cover_the_value_in_equal_steps(high: float) -> None:
    ticks = nice_ticks(high)
    assert ticks[0] == 0 and ticks[-1] >= high and 2 <= len(ticks) <= TICKS + 1
    steps = {round(b - a, 6) for a, b in pairwise(ticks)}
    assert len(steps) == 1
    mantissa = f"{steps.pop():e}".split("e")[0].rstrip("0").rstrip(".")
    assert mantissa in {"1", "2", "2.5", "5"}


def points(*values: tuple[float | None, float | None], hourly: bool = False) -> list[LatencyPoint]:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    return [LatencyPoint(start + i * step, a, b) for i, (a, b) in enumerate(values)]


def chart(pts: list[LatencyPoint], hourly: bool = False) -> ET.Element:
    return parse(response_time_chart(pts, label="API", period="daily", hourly=hourly, uid="t"))


def subpaths(root: ET.Element, cls: str) -> list[list[float]]:
    """The x coordinates of each subpath of the path of class ``cls``."""
    path = root.find(f"{SVG}path[@class='{cls}']")
    if path is None:
        return []
    return [
        [float(pair.split()[0]) for pair in part.split("L")]
        for part in path.get("d", "").split("M")[1:]
    ]


def test_chart_lines_break_at_missing_buckets_and_dot_isolated_points() -> None:
    pts = points((10, 20), (11, 22), (None, None), (12, 30), (13, 31), (14, 32), (None, 5), (9, 9))
    root = chart(pts)
    slot = (RT_WIDTH - RT_LEFT - RT_RIGHT) / len(pts)
    xs = [RT_LEFT + (i + 0.5) * slot for i in range(len(pts))]
    p50 = subpaths(root, "rt-p50")
    assert [[round(x, 1) for x in run] for run in p50] == [
        [round(xs[0], 1), round(xs[1], 1)],
        [round(xs[3], 1), round(xs[4], 1), round(xs[5], 1)],
    ]
    # p95 is known at index 6 too, so its second run goes on to the end.
    assert [len(run) for run in subpaths(root, "rt-p95")] == [2, 5]
    dots = [(c.get("class"), float(c.get("cx", ""))) for c in root.iter(f"{SVG}circle")]
    assert [(cls, round(x, 1)) for cls, x in dots] == [("rt-p50", round(xs[7], 1))]
    # The band (between p50 and p95) only spans buckets where both are known.
    band = root.find(f"{SVG}path[@class='rt-band']")
    assert band is not None and band.get("d", "").count("M") == 2


def test_chart_has_ticks_date_labels_and_a_titled_slot_per_bucket() -> None:
    pts = points(*[(100.0 + i, 300.0 + i) for i in range(30)])  # 1 to 30 Nov
    root = chart(pts)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts == ["0 ms", "100 ms", "200 ms", "300 ms", "400 ms", "1 Nov", "15 Nov"]
    titles = [t.text for t in root.iter(f"{SVG}title")][1:]
    assert len(titles) == 30
    assert titles[0] == "1 Nov 2026: p50 100 ms, p95 300 ms"
    hourly = chart(points(*[(1.5, None)] * 24, hourly=True), hourly=True)
    hours = [t.text for t in hourly.iter(f"{SVG}text") if t.text and ":" in t.text]
    assert hours == ["00:00", "06:00", "12:00", "18:00"]
    assert [t.text for t in hourly.iter(f"{SVG}title")][1] == (
        "1 Nov 2026 00:00 UTC: p50 1.5 ms, p95 No data"
    )


def test_chart_description_gives_min_median_max_and_missing_buckets() -> None:
    root = chart(points((10, 100), (None, None), (30, 300), (20, 1200)))
    assert root.findtext(f"{SVG}desc") == (
        "p95: min 100 ms, median 300 ms, max 1,200 ms. "
        "p50: min 10 ms, median 20 ms, max 30 ms. Days without data: 1 of 4."
    )
    assert root.get("role") == "img"


def test_chart_without_data_says_no_data() -> None:
    for pts in ([], points((None, None), (None, None)), points((float("nan"), -1.0))):
        root = chart(pts)
        assert [t.text for t in root.iter(f"{SVG}text")] == ["No data"]
        assert root.findtext(f"{SVG}desc") == "No response time data in this period."
        assert root.find(f"{SVG}path") is None


def test_format_ms() -> None:
    assert [format_ms(v) for v in (None, 0.25, 9.94, 10.4, 1234.5, float("inf"))] == [
        "No data",
        "0.2 ms",
        "9.9 ms",
        "10 ms",
        "1,234 ms",
        "No data",
    ]


day_texts = st.one_of(
    st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)).map(date.isoformat),
    st.text(max_size=12),
)
ints = st.integers(min_value=-(10**6), max_value=10**9)


@given(st.lists(st.builds(DayUptime, day_texts, ints, ints, ints), max_size=120), st.text())
def test_heatmap_never_fails_and_is_well_formed(days: list[DayUptime], label: str) -> None:
    # What XML cannot hold, or normalises (CR), is no concern of the chart's: drop it here.
    label = re.sub(r"[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]", "", label)
    svg = heatmap(days, label)
    assert svg.findtext(f"{SVG}title", "").startswith(label)


values = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))


@given(
    st.lists(
        st.builds(
            LatencyPoint,
            st.datetimes(timezones=st.just(UTC)),
            values,
            values,
        ),
        max_size=100,
    ),
    st.booleans(),
)
def test_chart_never_fails_and_is_well_formed(pts: list[LatencyPoint], hourly: bool) -> None:
    root = chart(pts, hourly=hourly)
    assert root.get("role") == "img"
    for path in root.iter(f"{SVG}path"):
        assert "nan" not in path.get("d", "") and "inf" not in path.get("d", "")
