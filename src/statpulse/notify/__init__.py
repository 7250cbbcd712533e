"""Notification channels: one small module per channel over ``base`` (HTTP, errors, egress)
and ``signing`` (Standard Webhooks). ``NOTIFIERS`` maps a channel kind to its Notifier."""

from statpulse.notify.base import (
    ConfigError,
    Delivered,
    DeliveryError,
    HttpSender,
    Notifier,
)
from statpulse.notify.discord import DiscordNotifier
from statpulse.notify.email import EmailNotifier
from statpulse.notify.message import Message
from statpulse.notify.ntfy import NtfyNotifier
from statpulse.notify.opsgenie import OpsgenieNotifier
from statpulse.notify.pagerduty import PagerDutyNotifier
from statpulse.notify.slack import SlackNotifier
from statpulse.notify.teams import TeamsNotifier
from statpulse.notify.telegram import TelegramNotifier
from statpulse.notify.twilio import TwilioNotifier
from statpulse.notify.webhook import WebhookNotifier

NOTIFIERS: dict[str, Notifier] = {
    "webhook": WebhookNotifier(),
    "slack": SlackNotifier(),
    "discord": DiscordNotifier(),
    "teams": TeamsNotifier(),
    "email": EmailNotifier(),
    "twilio": TwilioNotifier(),
    "pagerduty": PagerDutyNotifier(),
    "opsgenie": OpsgenieNotifier(),
    "telegram": TelegramNotifier(),
    "ntfy": NtfyNotifier(),
}

__all__ = [
    "NOTIFIERS",
    "ConfigError",
    "Delivered",
    "DeliveryError",
    "HttpSender",
    "Message",
    "Notifier",
]
