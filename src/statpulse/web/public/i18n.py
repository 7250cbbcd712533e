"""The Jinja globals ``_`` and ``ngettext`` that the public templates call, translating with
the render context's ``lang`` (``statpulse.i18n`` holds the catalogs and ``translate``).

In a template the translated text and every placeholder value are escaped (a value that is
already ``Markup`` stays as it is); a message without keyword arguments is not %-formatted,
so a literal ``%`` needs no doubling there. The routes pass ``lang=appearance.language``;
``lang`` is also a global with ``DEFAULT_LANGUAGE``, so a template rendered without it is
English.
"""

from __future__ import annotations

from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from statpulse.i18n import DEFAULT_LANGUAGE, lookup

__all__ = ["jinja_globals"]


def _render(ctx: Context, text: str, params: dict[str, Any]) -> str:
    """``text`` % ``params`` for a template: escaped (values included) under autoescape."""
    if ctx.eval_ctx.autoescape:
        markup: Markup = escape(text)
        return markup % params if params else markup  # Markup's % escapes each value
    return text % params if params else text


@pass_context
def _gettext(ctx: Context, message: str, **params: Any) -> str:
    found = lookup(ctx.get("lang"), message)
    return _render(ctx, found if isinstance(found, str) else message, params)


@pass_context
def _ngettext(ctx: Context, singular: str, plural: str, n: int, **params: Any) -> str:
    found = lookup(ctx.get("lang"), singular)
    forms = found if isinstance(found, list) else [singular, plural]
    return _render(ctx, forms[0 if n == 1 else 1], {"n": n, **params})


def jinja_globals() -> dict[str, object]:
    """``_``, ``ngettext`` and the default ``lang`` for a Jinja2 environment's globals."""
    return {"_": _gettext, "ngettext": _ngettext, "lang": DEFAULT_LANGUAGE}
