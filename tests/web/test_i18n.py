"""Translation (statpulse/i18n.py, web/public/i18n.py): every message the templates and the
Python labels (public pages, subscriber news) use has a German entry with the same
placeholders, ``_``/``ngettext`` escape what they format, and a German page shows no English
label."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jinja2 import Environment, PackageLoader
from jinja2.ext import extract_from_ast
from markupsafe import Markup

import statpulse
from statpulse.engine.regions import RegionView, summary
from statpulse.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    N_,
    catalog,
    language,
    translate,
    translate_plural,
)
from statpulse.model import DayUptime, Status
from statpulse.web.public.data import regions_text
from statpulse.web.public.incidents_view import IncidentView, MaintenanceView, Notices, UpdateView
from statpulse.web.public.svg import day_title, uptime_bar
from statpulse.web.public.view import (
    ComponentView,
    PageView,
    format_pct,
    last_days,
    live_payload,
    template_globals,
    uptime_pct,
)
from tests.api import conftest as api
from tests.api.conftest import Env
from tests.web import browser as real_browser
from tests.web.browser import LiveServer
from tests.web.browser import browser as zone_browser  # noqa: F401  (the module's Chromium)

env = api.env  # the app on a temporary SQLite database (tests/api/conftest.py)
live_server = real_browser.live_server  # a real `statpulse serve` (tests/web/browser.py)

SOURCE = Path(statpulse.__file__).parent
TEMPLATES = SOURCE / "web" / "templates"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

# Python calls whose string arguments are message ids, with the positions of those arguments.
PY_MESSAGE_CALLS = {
    "N_": (0,),
    "translate": (1,),
    "translate_plural": (1, 2),
    "plural_forms": (1, 2),
}


def template_messages() -> Iterator[tuple[str, tuple[str, ...]]]:
    """(where, ids) of every ``_``/``ngettext`` call with literal text in the templates: one
    id, or (singular, plural)."""
    env = Environment()
    for path in sorted(TEMPLATES.glob("*.html")):
        tree = env.parse(path.read_text())
        for line, func, found in extract_from_ast(tree, gettext_functions=("_", "ngettext")):
            texts = found if isinstance(found, tuple) else (found,)
            ids = tuple(t for t in texts if isinstance(t, str))
            if ids:
                yield f"{path.name}:{line} {func}", ids[:2] if func == "ngettext" else ids[:1]


def python_messages() -> Iterator[tuple[str, tuple[str, ...]]]:
    """(where, ids) of every N_/translate/translate_plural/plural_forms call with literal text
    in StatPulse's modules (the public pages', the subscriber news')."""
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            positions = PY_MESSAGE_CALLS.get(node.func.id)
            if positions is None or path.name == "i18n.py":
                continue
            ids = tuple(
                arg.value
                for i, arg in enumerate(node.args)
                if i in positions and isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            )
            where = f"{path.relative_to(SOURCE)}:{node.lineno} {node.func.id}"
            if len(ids) == len(positions):
                yield where, ids
            else:  # translate(lang, label): the label must come from an N_-marked table
                assert node.func.id != "N_", f"{where}: N_ of something not a literal"


def all_messages() -> list[tuple[str, tuple[str, ...]]]:
    return [*template_messages(), *python_messages()]


@pytest.fixture(scope="module")
def jinja() -> Environment:
    environment = Environment(loader=PackageLoader("statpulse", "web/templates"), autoescape=True)
    environment.globals.update(template_globals())
    return environment


def test_extraction_finds_the_messages_of_templates_and_python_labels() -> None:
    found = {ids for _, ids in all_messages()}
    assert ("Active incidents",) in found  # template, _()
    assert ("Uptime over the past %(n)s day.", "Uptime over the past %(n)s days.") in found
    assert ("Operational",) in found  # view._LABELS via N_
    assert ("Critical impact",) in found  # incidents_view via N_
    assert ("%(failing)s of %(total)s regions failing",) in found  # data.py via translate
    assert ("New incident",) in found  # engine/subscriber_news.py via N_
    assert len(found) > 40


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != DEFAULT_LANGUAGE])
def test_every_message_has_a_translation_with_the_same_placeholders(lang: str) -> None:
    entries = catalog(lang)
    problems = []
    for where, ids in all_messages():
        entry = entries.get(ids[0])
        if entry is None:
            problems.append(f"{where}: no {lang} entry for {ids[0]!r}")
            continue
        if len(ids) == 2:
            if not isinstance(entry, list):
                problems.append(f"{where}: {ids[0]!r} is plural, the {lang} entry is not")
                continue
            wanted = set(PLACEHOLDER.findall(ids[0])) | set(PLACEHOLDER.findall(ids[1]))
            for form in entry:
                if set(PLACEHOLDER.findall(form)) - wanted - {"n"}:
                    problems.append(f"{where}: {form!r} has a placeholder English lacks")
            if not set(PLACEHOLDER.findall(entry[1])) >= wanted - {"n"}:
                problems.append(f"{where}: {entry[1]!r} drops a placeholder")
        elif not isinstance(entry, str):
            problems.append(f"{where}: {ids[0]!r} is not plural, the {lang} entry is")
        elif sorted(PLACEHOLDER.findall(entry)) != sorted(PLACEHOLDER.findall(ids[0])):
            problems.append(f"{where}: placeholders of {entry!r} differ from {ids[0]!r}")
    assert problems == []


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != DEFAULT_LANGUAGE])
def test_the_catalog_holds_no_message_nothing_uses(lang: str) -> None:
    used = {ids[0] for _, ids in all_messages()}
    assert sorted(set(catalog(lang)) - used) == []


def test_catalog_files_are_objects_of_strings_and_two_form_lists() -> None:
    for lang in LANGUAGES[1:]:
        raw = json.loads(files("statpulse").joinpath("locales", f"{lang}.json").read_text())
        assert raw == dict(catalog(lang))
    assert catalog("en") == {}
    with pytest.raises(ValueError, match="unknown language"):
        catalog("fr")


def test_unknown_language_falls_back_to_english() -> None:
    assert language("de") == "de"
    assert language("fr") == language(None) == language(3) == DEFAULT_LANGUAGE
    assert translate("fr", "Operational") == "Operational"
    assert translate("de", "Operational") == "Betriebsbereit"
    assert translate("de", "Not in any catalog %(x)s", x=1) == "Not in any catalog 1"
    assert N_("Operational") == "Operational"


def test_plural_forms_follow_n() -> None:
    one, many = "%(n)s day ago", "%(n)s days ago"
    assert translate_plural("en", one, many, 1) == "1 day ago"
    assert translate_plural("en", one, many, 90) == "90 days ago"
    assert translate_plural("de", one, many, 1) == "vor 1 Tag"
    assert translate_plural("de", one, many, 90) == "vor 90 Tagen"


def test_template_gettext_escapes_the_text_and_the_placeholder_values(jinja: Environment) -> None:
    template = jinja.from_string(
        '{{ _("Affects %(names)s", names=names) }}|{{ _("Back to %(title)s", title=link) }}'
        '|{{ _("100 % <sure> & %(x)s") }}|{{ ngettext("%(n)s day ago", "%(n)s days ago", n) }}'
    )
    html = template.render(names='<script>"x"</script>', link=Markup("<a>y</a>"), n=2, lang="de")
    assert html == (
        "Betrifft &lt;script&gt;&#34;x&#34;&lt;/script&gt;|Zurück zu <a>y</a>"
        "|100 % &lt;sure&gt; &amp; %(x)s|vor 2 Tagen"
    )
    english = template.render(names="a & b", link="<b>", n=1)  # no lang: the global "en"
    assert english == "Affects a &amp; b|Back to &lt;b&gt;|100 % &lt;sure&gt; &amp; %(x)s|1 day ago"


def test_without_autoescape_gettext_returns_plain_text() -> None:
    plain = Environment(autoescape=False)
    plain.globals.update(template_globals())
    html = plain.from_string('{{ _("Affects %(names)s", names="<a>") }}').render(lang="de")
    assert html == "Betrifft <a>"


def test_python_labels_render_in_the_page_language() -> None:
    assert format_pct(99.956, "de") == "99,95 %"
    assert format_pct(99.956) == "99.95 %"
    assert format_pct(None, "de") == "Keine Daten"
    assert format_pct(100.0, "de") == "100 %"
    day = DayUptime("2024-05-01", 8640, 8630, 200)
    assert (
        day_title(day, "de")
        == "2024-05-01: 99,88 % Verfügbarkeit, 8640 Prüfungen, 200 beeinträchtigt"
    )
    assert (
        day_title(DayUptime("2024-05-01", 1, 1, 0), "de")
        == "2024-05-01: 100 % Verfügbarkeit, 1 Prüfung"
    )
    assert day_title(DayUptime("2024-05-01", 0, 0, 0), "de") == "2024-05-01: Keine Daten"
    bar = uptime_bar((day,), label="API <v2>", uid="x", lang="de")
    assert "API &lt;v2&gt;: Verfügbarkeit am letzten 1 Tag: 99,88 %" in bar
    assert "Tage mit Ausfällen: 1. Tage mit eingeschränkter Leistung: 1. Tage ohne Daten: 0." in bar


def test_regions_text_keeps_the_english_words_and_translates() -> None:
    views = [
        RegionView("eu", Status.DOWN, "fresh", NOW, "timeout"),
        RegionView("us", Status.UP, "fresh", NOW, None),
        RegionView("ap", Status.UNKNOWN, "stale", NOW, None),
        RegionView("sa", Status.UNKNOWN, "missing", None, None),
    ]
    assert regions_text(views) == summary(views) == "1 of 2 regions failing, 1 stale, 1 missing"
    assert regions_text(views, "de") == "1 von 2 Regionen gestört, 1 veraltet, 1 ohne Meldung"


def test_live_payload_speaks_the_page_language() -> None:
    page = PageView("acme", "Acme", "", [component(0, Status.UP), component(1, Status.DOWN)], NOW)
    english = live_payload(page)
    german = live_payload(page, "de")
    assert english["banner"] == "Partial outage"
    assert german["banner"] == "Teilweiser Ausfall"
    assert [c["label"] for c in german["components"]] == ["Betriebsbereit", "Schwerer Ausfall"]  # type: ignore[attr-defined]
    assert german["overall"] == english["overall"] == "down"  # machine-readable stays


def component(i: int, status: Status) -> ComponentView:
    rows = [DayUptime("2024-05-01", 100, 98 + i, 1), DayUptime("2024-04-30", 10, 10, 0)]
    days = last_days(rows, today=NOW.date(), n=90)
    return ComponentView(f"c{i}", f"Service <{i}>", "", status, days, uptime_pct(days), "x")


def notices() -> Notices:
    updates = (
        UpdateView("resolved", "Resolved", Markup("<p>fixed</p>"), NOW),
        UpdateView(
            "investigating", "Investigating", Markup("<p>looking</p>"), NOW - timedelta(hours=1)
        ),
    )
    active = IncidentView(
        "i1",
        "Login errors",
        "monitoring",
        "Monitoring",
        "critical",
        "Critical impact",
        NOW,
        None,
        ("Service <0>",),
        updates,
    )
    history = [
        IncidentView(
            "i2",
            "Slow API",
            "resolved",
            "Resolved",
            impact,
            label,
            NOW - timedelta(days=3),
            NOW - timedelta(days=2) if impact != "none" else None,
            (),
            updates,
        )
        for impact, label in (
            ("minor", "Minor impact"),
            ("major", "Major impact"),
            ("none", "No impact"),
        )
    ]
    in_progress = MaintenanceView(
        "m1", "DB", Markup(""), NOW, NOW + timedelta(hours=1), True, ("Service <0>",)
    )
    upcoming = MaintenanceView(
        "m2", "DB", Markup(""), NOW + timedelta(days=1), NOW + timedelta(days=2), False, ()
    )
    return Notices(
        active=[active],
        history=history,
        older="i9",
        paged=True,
        maintenance_active=[in_progress],
        maintenance_upcoming=[upcoming],
    )


def visible_english(html: str) -> list[str]:
    """English messages (without placeholders, with a German text of their own) that show in
    ``html`` as an element's whole text or an attribute's whole value."""
    return [
        english
        for english, german in catalog("de").items()
        if isinstance(german, str) and german != english and "%(" not in english
        for shown in (f">{Markup.escape(english)}<", f'"{Markup.escape(english)}"')
        if shown in html
    ]


@pytest.mark.parametrize(
    "statuses",
    [
        (Status.UP,),
        (Status.UP, Status.DOWN),
        (Status.DEGRADED,),
        (Status.MAINTENANCE,),
        (Status.PAUSED,),
        (),
    ],
)
def test_a_german_status_page_shows_no_english_label(
    jinja: Environment, statuses: tuple[Status, ...]
) -> None:
    page = PageView("acme", "Acme", "", [component(i, s) for i, s in enumerate(statuses)], NOW)
    html = jinja.get_template("status_page.html").render(page=page, notices=notices(), lang="de")
    assert '<html lang="de">' in html
    assert visible_english(html) == []
    assert "Vergangene Störungen" in html and "Bereitgestellt mit StatPulse" in html
    # The server writes UTC; live.js shows it in the visitor's zone, keeping the ISO time.
    assert '<time id="updated" datetime="2024-05-01T12:00:00Z">2024-05-01 12:00 UTC</time>' in html
    assert "Zuletzt aktualisiert: <time" in html


def test_the_german_page_translates_each_part(jinja: Environment) -> None:
    page = PageView("acme", "Acme", "", [component(0, Status.UP), component(1, Status.DOWN)], NOW)
    html = jinja.get_template("status_page.html").render(page=page, notices=notices(), lang="de")
    for expected in (
        ">Teilweiser Ausfall</p>",
        "<strong>Behoben</strong> <time",
        "Wird beobachtet · Kritische Auswirkung · Betrifft Service &lt;0&gt;</p>",
        'aria-label="Updates zu Login errors"',
        "<strong>Läuft</strong> bis <time",
        "Geplant von <time",
        "Verfügbarkeit in den letzten 90 Tagen.",
        "<span>vor 90 Tagen</span>",
        "Verfügbarkeit</span>",
        "Geringe Auswirkung · <time",
        "</time> bis <time",
        'aria-label="Störungsverlauf"',
    ):
        assert expected in html, expected


def test_a_german_incident_page(jinja: Environment) -> None:
    class Page:
        slug, title = "acme", "Acme & Co"

    incident = notices().history[0]
    html = jinja.get_template("incident.html").render(page=Page, incident=incident, lang="de")
    assert '<html lang="de">' in html
    assert visible_english(html) == []
    assert "Begonnen: <time" in html and " · Behoben: <time" in html
    assert ">Aktueller Status von Acme &amp; Co</a>" in html


async def _post(env: Env, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await env.client.post(path, json=body, headers=env.write)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_the_pages_speak_the_language_of_their_appearance(env: Env) -> None:
    monitor = await _post(
        env, "/api/v1/monitors", {"name": "API", "kind": "http", "target": "http://127.0.0.1:9/"}
    )
    await _post(env, "/api/v1/pages", {"slug": "acme", "title": "Acme & Co"})
    api_c = await _post(
        env, "/api/v1/components", {"name": "API", "monitor_id": monitor["id"], "pages": ["acme"]}
    )
    incident = await _post(
        env,
        "/api/v1/incidents",
        {"title": "Errors", "body": "Looking", "impact": "major", "components": [api_c["id"]],
         "publish": True},
    )  # fmt: skip
    english = await env.client.get("/s/acme")
    assert english.status_code == 200
    assert '<html lang="en"' in english.text and ">Active incidents</h2>" in english.text

    put = await env.client.put(
        "/api/v1/pages/acme/appearance", json={"language": "de"}, headers=env.write
    )
    assert put.status_code == 200, put.text
    german = await env.client.get("/s/acme")
    assert german.status_code == 200
    assert '<html lang="de"' in german.text
    assert visible_english(german.text) == []
    for expected in (">Aktuelle Störungen</h2>", "<strong>Wird untersucht</strong>",
                     "Große Auswirkung · Betrifft API</p>", ">Keine Daten</span>"):  # fmt: skip
        assert expected in german.text, expected

    permalink = await env.client.get(f"/s/acme/incidents/{incident['id']}")
    assert permalink.status_code == 200
    assert '<html lang="de"' in permalink.text
    assert visible_english(permalink.text) == []
    assert ">Aktueller Status von Acme &amp; Co</a>" in permalink.text


# In a real browser: live.js shows every <time> in the visitor's zone and the page's language.

TIME_FIELDS = (
    "{year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit',"
    " timeZoneName: 'short'}"
)


@pytest.fixture(scope="module")
def zone_pages(live_server: LiveServer) -> dict[str, str]:
    """Two pages with an incident (so several <time>): "zeit" in German, "time" in English."""
    urls = {}
    for slug, lang in (("zeit", "de"), ("time", "en")):
        live_server.api("POST", "/api/v1/pages", {"slug": slug, "title": slug})
        component = live_server.api("POST", "/api/v1/components", {"name": "API", "pages": [slug]})
        live_server.api(
            "POST",
            "/api/v1/incidents",
            {"title": "Errors", "body": "x", "impact": "minor", "components": [component["id"]],
             "publish": True},
        )  # fmt: skip
        if lang != "en":
            appearance = {"language": lang}
            live_server.api("PUT", f"/api/v1/pages/{slug}/appearance", appearance, expect=200)
        urls[lang] = f"{live_server.base}/s/{slug}"
    return urls


def _times(page: Any) -> list[tuple[str, str, str]]:
    """(datetime, text, title) of every <time datetime> of the page."""
    found: list[tuple[str, str, str]] = page.eval_on_selector_all(
        "time[datetime]",
        "els => els.map(e => [e.getAttribute('datetime'), e.textContent, e.title])",
    )
    return found


@pytest.mark.slow
@pytest.mark.parametrize(
    ("lang", "zone", "browser_locale"),
    [("de", "Europe/Berlin", "en-US"), ("en", "America/New_York", "de-DE")],
)
def test_times_show_in_the_visitors_zone_and_the_pages_language(
    zone_browser: Any,  # noqa: F811
    zone_pages: dict[str, str],
    lang: str,
    zone: str,
    browser_locale: str,
) -> None:
    context = zone_browser.new_context(timezone_id=zone, locale=browser_locale)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        held: list[Any] = []  # the live stream, held until the page is checked as served
        page.route("**/events", lambda route: held.append(route))
        response = page.goto(zone_pages[lang], wait_until="load")
        assert response is not None and response.status == 200
        server_html = response.text()
        assert f'<html lang="{lang}"' in server_html

        times = _times(page)
        assert len(times) >= 2  # the incident's update, "Last updated"
        for iso, text, title in times:
            assert f'datetime="{iso}"' in server_html  # the ISO time stays as served
            moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
            local = moment.astimezone(ZoneInfo(zone))
            shown = text.replace("\u202f", " ").replace("\xa0", " ")
            assert "UTC" not in shown, text
            assert f"{local.hour % 12 or 12}:{local:%M}" in shown or f"{local:%H:%M}" in shown
            assert str(local.year) in shown
            assert f"{moment.hour % 12 or 12}:{moment:%M}" in title or f"{moment:%H:%M}" in title
            assert title.endswith("UTC"), title
            same = page.evaluate(
                f"([iso, lang, zone]) => new Intl.DateTimeFormat(lang, {{...{TIME_FIELDS},"
                " timeZone: zone}).format(new Date(iso))",
                [iso, lang, zone],
            )
            assert text == same  # the page's language, not the browser's
        banner = page.text_content("#overall")

        # A live update re-renders every time (and keeps the page's language).
        page.evaluate(
            "() => { document.querySelectorAll('time[datetime]').forEach(t => {"
            " t.textContent = 'x'; t.removeAttribute('title'); });"
            " document.getElementById('overall').textContent = 'x'; }"
        )
        assert len(held) == 1
        held[0].continue_()
        page.wait_for_function(
            "() => document.getElementById('overall').textContent !== 'x'"
            " && [...document.querySelectorAll('time[datetime]')]"
            ".every(t => t.textContent !== 'x' && t.title)"
        )
        assert page.text_content("#overall") == banner
        assert [(iso, text) for iso, text, _ in _times(page)][:-1] == [
            (iso, text) for iso, text, _ in times
        ][:-1]  # the last, "Last updated", moves on with the stream
        assert errors == []
    finally:
        context.close()
