"""The subscribe form of a status page (``GET /s/{slug}/subscribe``, and the answer to a
subscription the server refused): one small form per way of being told (e-mail, SMS, webhook,
Slack), each only when this server can deliver it, with the page's components to choose from.

Plain HTML forms posting to ``POST /s/{slug}/subscribe`` (``subscribe.py``): they work without
JavaScript and under the pages' strict CSP (no inline script or style). Each form is a
``<details>`` element, so only the chosen one is open; a refused form comes back open, with
what was typed, and the message next to the field it is about (``aria-invalid`` and
``aria-describedby`` tie the two together for screen readers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from statpulse.i18n import DEFAULT_LANGUAGE
from statpulse.model import Component, Monitor, StatusPage
from statpulse.settings import Settings
from statpulse.web.public.i18n import jinja_globals
from statpulse.web.public.routes import CSP

_templates = Environment(
    loader=PackageLoader("statpulse", "web/templates"), autoescape=select_autoescape(default=True)
)
_templates.globals.update(jinja_globals())


def sms_available(settings: Settings) -> bool:
    return bool(
        settings.sms_twilio_account_sid
        and settings.sms_twilio_auth_token
        and settings.sms_twilio_from
    )


def kinds(settings: Settings) -> list[str]:
    """The kinds this server can deliver: e-mail needs ``smtp_host`` and ``smtp_from``, SMS
    the ``sms_twilio_*`` settings; webhooks and Slack need nothing."""
    found = []
    if settings.smtp_host and settings.smtp_from:
        found.append("email")
    if sms_available(settings):
        found.append("sms")
    return [*found, "webhook", "slack"]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a subscription was refused: ``kind`` is the form it came from, ``errors`` maps a
    field (``kind``, ``address``, ``secret``, ``components``) to its message, ``values`` holds
    what was typed (shown again)."""

    kind: str
    errors: Mapping[str, str]
    values: Mapping[str, str] = field(default_factory=dict)
    components: Sequence[str] = ()


def form_response(
    page: StatusPage,
    components: Sequence[tuple[Component, Monitor | None]],
    settings: Settings,
    status: int = 200,
    refusal: Refusal | None = None,
    lang: str = DEFAULT_LANGUAGE,
) -> HTMLResponse:
    """The form in ``lang`` (the page's language; ``refusal``'s messages come in it)."""
    return render(
        "subscribe_form.html",
        status,
        page=page,
        components=[(str(c.id), c.name) for c, _ in components],
        kinds=kinds(settings),
        refusal=refusal,
        lang=lang,
    )


def render(template: str, status: int, **context: object) -> HTMLResponse:
    """``template`` rendered with ``context`` (``lang``: the page's language), never cached,
    under the pages' CSP."""
    html = _templates.get_template(template).render(**context)
    headers = {"Content-Security-Policy": CSP, "Cache-Control": "no-store"}
    return HTMLResponse(html, status_code=status, headers=headers)
