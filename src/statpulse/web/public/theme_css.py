"""``/s/{slug}/theme.css``: one page's appearance as CSS, loaded after ``static/status.css``.

``status.css`` holds the default palettes: light, and dark under ``prefers-color-scheme: dark``
when the page's ``data-scheme`` (on ``<html>``) is ``auto``, always when it is ``dark``. This
file adds, in order:

1. the page's theme (``THEMES``): its light and dark palettes, for the page's scheme only
   (the dark one under ``@media (prefers-color-scheme: dark)`` for ``auto``), and its rules.
   Themes live here rather than in ``status.css``, so a page loads only its own;
2. the font stack (``--font``) and the colour scheme (``color-scheme``);
3. the owner's colours as the CSS variables of ``COLOR_VARIABLES``, ``!important`` so that no
   theme or scheme rule overrides them. Text must stay readable (WCAG AA, 4.5:1): ``text`` on
   ``background`` is checked when stored; the accent and status colours, also shown as text,
   are darkened or lightened (toward black or white) just enough to reach 4.5:1 on the
   background they are shown on: the owner's, else the light one and, under
   ``@media (prefers-color-scheme: dark)`` for ``auto``, the dark one. With an owner's
   background, the banner text (``--on-s``) is that background and muted text and lines are
   mixed from the owner's text and background;
4. the owner's custom CSS (checked by ``css_sanitize``), last, so it can override anything.

Every theme keeps text at 4.5:1 or more on whatever it can sit on (tests/web/test_appearance.py
composites the glass panels over each gradient stop).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from statpulse.web.public.appearance import MIN_TEXT_CONTRAST, PageAppearance, contrast, luminance

COLOR_VARIABLES: Final = {
    "accent": "--accent",
    "up": "--up",
    "degraded": "--degraded",
    "down": "--down",
    "maintenance": "--maintenance",
    "background": "--bg",
    "text": "--fg",
}
FONT_STACKS: Final = {
    "system": 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif',
    "serif": 'ui-serif, Georgia, Cambria, "Times New Roman", Times, serif',
    "mono": 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace',
    "rounded": 'ui-rounded, "SF Pro Rounded", "Arial Rounded MT Bold", Quicksand, Nunito, '
    "system-ui, sans-serif",
}
LIGHT_BG: Final = "#ffffff"  # status.css :root --bg
DARK_BG: Final = "#0d1117"  # status.css dark --bg
DARK_THRESHOLD: Final = 0.18  # a background darker than this gets dark form controls
_TEXT_COLORS: Final = ("accent", "up", "degraded", "down", "maintenance")
_THEMED = ":root[data-theme]"  # beats status.css's dark :root:not([data-scheme=light])


@dataclass(frozen=True, slots=True)
class Theme:
    light: tuple[str, ...] = ()
    """Declarations of the light palette."""
    dark: tuple[str, ...] = ()
    """Declarations of the dark palette: every variable ``light`` sets, and maybe more."""
    rules: str = ""


_GLASS_DARK = (
    "--bg: #0b1020; --g1: #172554; --g2: #3b0764; --g3: #042f2e; --accent: #4493f8;",
    "--glass: rgb(13 17 23 / .6); --edge: rgb(255 255 255 / .14);",
    "--line: rgb(230 237 243 / .16);",
)
THEMES: Final = {
    "default": Theme(),
    # Translucent panels (blurred, saturated) over a soft gradient; opaque enough that text
    # keeps 4.5:1 on them.
    "liquid-glass": Theme(
        light=(
            "--bg: #eef2fb; --g1: #dbeafe; --g2: #fae8ff; --g3: #ccfbf1; --accent: #0550ae;",
            "--glass: rgb(255 255 255 / .72); --edge: rgb(255 255 255 / .9);",
            "--line: rgb(31 35 40 / .14);",
        ),
        dark=_GLASS_DARK,
        rules="""body {
  background: radial-gradient(at 0 0, var(--g1), transparent 60%),
    radial-gradient(at 100% 10%, var(--g2), transparent 55%),
    radial-gradient(at 50% 100%, var(--g3), transparent 60%) var(--bg) fixed;
}
:is(.components, .notice, .history, .banner) {
  background-color: var(--glass); border: 1px solid var(--edge); border-radius: 1rem;
  box-shadow: 0 .5rem 2rem rgb(15 23 42 / .12), inset 0 1px 0 var(--edge);
  -webkit-backdrop-filter: blur(16px) saturate(180%); backdrop-filter: blur(16px) saturate(180%);
}
.banner { background-color: var(--s); }
.notice { border-left: .25rem solid var(--s); }
.history { padding: 0 1.25rem; }
.history > li:last-child { border-bottom: 0; }""",
    ),
    # Black on white (white on black in dark), 7:1 text, full-strength lines, underlines.
    "high-contrast": Theme(
        light=(
            "--bg: #fff; --fg: #000; --muted: #1f2328; --line: #000; --on-s: #fff;",
            "--accent: #0550ae; --up: #0a5c24; --degraded: #6b4700; --down: #a40e26;",
            "--maintenance: #0550ae; --unknown: #1f2328;",
        ),
        dark=(
            "--bg: #000; --fg: #fff; --muted: #e6edf3; --line: #fff; --on-s: #000;",
            "--accent: #79c0ff; --up: #56d364; --degraded: #e3b341; --down: #ff7b72;",
            "--maintenance: #79c0ff; --unknown: #e6edf3;",
        ),
        rules="""a { text-decoration-thickness: .125em; }
:is(.components, .notice) { border-width: 2px; }""",
    ),
}


def theme_css(appearance: PageAppearance) -> str:
    """The text of the page's ``theme.css``."""
    colors = appearance.colors
    scheme = {"auto": "light dark", "light": "light", "dark": "dark"}[appearance.color_scheme]
    root = [f"--font: {FONT_STACKS[appearance.font]};", f"color-scheme: {scheme};"]
    out = ["/* StatPulse page theme (web/public/theme_css.py); custom CSS last. */"]
    out += _theme(THEMES[appearance.theme], appearance.color_scheme)
    bg, fg = colors.get("background"), colors.get("text")
    if bg and fg:
        muted = _readable(mix(fg, bg, 0.72), bg)
        root += [
            f"--bg: {bg} !important;",
            f"--fg: {fg} !important;",
            f"--muted: {muted} !important;",
            f"--line: {mix(fg, bg, 0.25)} !important;",
            f"--on-s: {bg} !important;",
            f"color-scheme: {'light' if luminance(bg) > DARK_THRESHOLD else 'dark'};",
        ]
        root += _text_colors(colors, bg)
        out.append(_rule(":root", root))
    elif appearance.color_scheme == "auto":
        out.append(_rule(":root", root + _text_colors(colors, LIGHT_BG)))
        dark = _text_colors(colors, DARK_BG)
        if dark:
            out.append(_media_dark(_rule(":root", dark)))
    else:
        page_bg = DARK_BG if appearance.color_scheme == "dark" else LIGHT_BG
        out.append(_rule(":root", root + _text_colors(colors, page_bg)))
    if appearance.custom_css.strip():
        out.append("/* Custom CSS of the page's owner. */\n" + appearance.custom_css.strip())
    return "\n".join(out) + "\n"


def _theme(theme: Theme, scheme: str) -> list[str]:
    out = []
    if theme.light and scheme != "dark":
        out.append(_rule(_THEMED, list(theme.light)))
    if theme.dark and scheme == "dark":
        out.append(_rule(_THEMED, list(theme.dark)))
    elif theme.dark and scheme == "auto":
        out.append(_media_dark(_rule(_THEMED, list(theme.dark))))
    if theme.rules:
        out.append(theme.rules)
    return out


def _media_dark(css: str) -> str:
    return "@media (prefers-color-scheme: dark) {\n" + css + "\n}"


def _rule(selector: str, declarations: list[str]) -> str:
    return selector + " {\n" + "".join(f"  {d}\n" for d in declarations) + "}"


def _text_colors(colors: Mapping[str, str], bg: str) -> list[str]:
    return [
        f"{COLOR_VARIABLES[name]}: {_readable(colors[name], bg)} !important;"
        for name in _TEXT_COLORS
        if name in colors
    ]


def mix(a: str, b: str, weight: float) -> str:
    """``weight`` of ``#rrggbb`` ``a`` and the rest of ``b``."""
    channels = (
        round(int(a[i : i + 2], 16) * weight + int(b[i : i + 2], 16) * (1 - weight))
        for i in (1, 3, 5)
    )
    return "#" + "".join(f"{c:02x}" for c in channels)


def _readable(color: str, bg: str) -> str:
    """``color``, or the least mix of it with black or white (whichever contrasts more with
    ``bg``) that reaches ``MIN_TEXT_CONTRAST`` on ``bg``."""
    if contrast(color, bg) >= MIN_TEXT_CONTRAST:
        return color
    toward = "#000000" if contrast("#000000", bg) > contrast("#ffffff", bg) else "#ffffff"
    for step in range(1, 21):
        candidate = mix(toward, color, step / 20)
        if contrast(candidate, bg) >= MIN_TEXT_CONTRAST:
            return candidate
    return toward
