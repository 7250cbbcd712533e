"""Every channel: registered, validate names the missing field, secrets are declared."""

from __future__ import annotations

from typing import Any

import pytest

from statpulse.notify import NOTIFIERS
from statpulse.notify.base import ConfigError
from statpulse.notify.signing import new_secret

VALID: dict[str, dict[str, Any]] = {
    "webhook": {"url": "https://hooks.example.com/in", "secret": new_secret()},
    "slack": {"url": "https://hooks.slack.com/services/T/B/x"},
    "discord": {"url": "https://discord.com/api/webhooks/1/x"},
    "teams": {"url": "https://prod.westus.logic.azure.com/workflows/x?sig=y"},
    "email": {"host": "smtp.example.com", "from": "a@example.com", "to": ["b@example.com"]},
    "twilio": {"account_sid": "AC1", "auth_token": "t", "from": "+1", "to": ["+2"]},
    "pagerduty": {"routing_key": "r"},
    "opsgenie": {"api_key": "k"},
    "telegram": {"bot_token": "1:x", "chat_id": "42"},
    "ntfy": {"url": "https://ntfy.sh/alerts"},
}
REQUIRED = [(kind, key) for kind, config in VALID.items() for key in config]


def test_every_channel_kind_is_registered_under_its_own_kind() -> None:
    assert set(NOTIFIERS) == set(VALID)
    assert all(notifier.kind == kind for kind, notifier in NOTIFIERS.items())


@pytest.mark.parametrize("kind", sorted(VALID))
def test_validate_accepts_a_minimal_config(kind: str) -> None:
    NOTIFIERS[kind].validate(VALID[kind])


@pytest.mark.parametrize(("kind", "key"), REQUIRED)
def test_validate_names_the_missing_field(kind: str, key: str) -> None:
    config = {k: v for k, v in VALID[kind].items() if k != key}
    with pytest.raises(ConfigError) as caught:
        NOTIFIERS[kind].validate(config)
    assert caught.value.field == f"config.{key}"


@pytest.mark.parametrize("kind", ["webhook", "slack", "discord", "teams", "ntfy"])
def test_validate_refuses_a_non_http_url(kind: str) -> None:
    with pytest.raises(ConfigError) as caught:
        NOTIFIERS[kind].validate({**VALID[kind], "url": "file:///etc/passwd"})
    assert caught.value.field == "config.url"


@pytest.mark.parametrize("kind", ["slack", "discord", "teams", "telegram", "ntfy", "twilio"])
def test_validate_refuses_an_unsafe_template(kind: str) -> None:
    with pytest.raises(ConfigError) as caught:
        NOTIFIERS[kind].validate({**VALID[kind], "template": "{{ title.__class__ }}"})
    assert caught.value.field == "config.template"


@pytest.mark.parametrize(
    ("kind", "secrets"),
    [
        ("webhook", {"secret", "headers"}),
        ("slack", {"url"}),
        ("discord", {"url"}),
        ("teams", {"url"}),
        ("email", {"password"}),
        ("twilio", {"auth_token"}),
        ("pagerduty", {"routing_key", "webhook_secret"}),
        ("opsgenie", {"api_key"}),
        ("telegram", {"bot_token"}),
        ("ntfy", {"token"}),
    ],
)
def test_secret_fields_name_the_credentials(kind: str, secrets: set[str]) -> None:
    assert set(NOTIFIERS[kind].secret_fields()) == secrets


def test_email_refuses_tls_and_starttls_together() -> None:
    with pytest.raises(ConfigError) as caught:
        NOTIFIERS["email"].validate({**VALID["email"], "tls": True, "starttls": True})
    assert caught.value.field == "config.tls"


def test_email_default_port_follows_the_tls_mode() -> None:
    email = NOTIFIERS["email"]
    assert email.validate({**VALID["email"], "tls": True})["port"] == 465
    assert email.validate({**VALID["email"], "starttls": True})["port"] == 587
    assert email.validate(VALID["email"])["port"] == 25


def test_config_error_does_not_echo_a_secret_url() -> None:
    with pytest.raises(ConfigError) as caught:
        NOTIFIERS["slack"].validate({"url": "ftp://hooks.slack.com/services/T/B/SECRET"})
    assert "SECRET" not in str(caught.value)
