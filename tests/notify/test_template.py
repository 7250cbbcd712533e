from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statpulse.notify.base import ConfigError
from statpulse.notify.message import Message
from statpulse.notify.template import FIELDS, render, validate_template


def test_render_substitutes_allowed_fields(make_message: Callable[..., Message]) -> None:
    message = make_message()
    out = render("[{{ severity }}] {{title}} at {{ occurred_at_iso }} in {{ regions }}", message)
    assert out == "[major] API is down at 2026-11-23T12:30:00+00:00 in eu-west, us-east"


def test_render_shows_a_missing_optional_field_as_empty(
    make_message: Callable[..., Message],
) -> None:
    assert render("<{{ url }}>", make_message(url=None)) == "<>"


def test_render_does_not_expand_placeholders_inside_values(
    make_message: Callable[..., Message],
) -> None:
    assert render("{{ title }}", make_message(title="{{ id }}")) == "{{ id }}"


@pytest.mark.parametrize(
    "template",
    [
        "{{ title.__class__ }}",
        "{{ components[0] }}",
        "{{ title|upper }}",
        "{{ title() }}",
        "{{ 7 * 7 }}",
        "{% for x in regions %}{% endfor %}",
        "{% include 'x' %}",
        "{# comment #}",
        "{{ secret }}",
        "{{ title }",
        "}} {{",
    ],
)
def test_validate_rejects_anything_but_allowed_placeholders(template: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_template(template)
    assert caught.value.field == "config.template"


def test_validate_accepts_every_allowed_field() -> None:
    text = " ".join(f"{{{{ {name} }}}}" for name in sorted(FIELDS))
    assert validate_template(text) == text


MESSAGE = Message(
    id="m",
    event="test",
    title="T",
    text="X",
    occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
)
SYNTAX = st.text(alphabet="{}%#|.()[]_ abctile*'\"", max_size=40)


@given(st.one_of(SYNTAX, st.text(max_size=60)))
def test_validated_templates_render_without_raising(text: str) -> None:
    try:
        validate_template(text)
    except ConfigError:
        return
    out = render(text, MESSAGE)
    # Only substitution happened: no template syntax survives, nothing was evaluated.
    assert not re.search(r"\{\{|\{%|\{#", out)


@given(st.text(max_size=60))
def test_validate_only_ever_raises_config_error(text: str) -> None:
    errors: list[ConfigError] = []
    try:
        validate_template(text)
    except ConfigError as exc:
        errors.append(exc)
    assert all(e.field == "config.template" for e in errors)
