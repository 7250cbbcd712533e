from __future__ import annotations

import json
from collections.abc import Callable

from statpulse.notify.message import Message


def test_payload_has_type_id_timestamp_and_every_field(
    make_message: Callable[..., Message],
) -> None:
    payload = make_message().payload()
    assert payload["type"] == "incident.opened"
    assert payload["id"] == "msg_01"
    assert payload["timestamp"] == "2026-11-23T12:30:00+00:00"
    assert payload["data"]["regions"] == ["eu-west", "us-east"]
    assert set(payload["data"]) >= {"title", "text", "severity", "incident_id", "org"}


def test_payload_is_json_serialisable(make_message: Callable[..., Message]) -> None:
    json.dumps(make_message().payload())
