"""PagerDuty, Opsgenie and Twilio: what the recording server received."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from statpulse.notify.base import HttpSender
from statpulse.notify.message import Message
from statpulse.notify.opsgenie import OpsgenieNotifier
from statpulse.notify.pagerduty import PagerDutyNotifier
from statpulse.notify.twilio import MAX_BODY, TwilioNotifier
from tests.notify.conftest import Recorder

MakeMessage = Callable[..., Message]
pagerduty = PagerDutyNotifier()
opsgenie = OpsgenieNotifier()
twilio = TwilioNotifier()


@pytest.mark.parametrize(
    ("event", "status", "action"),
    [
        ("incident.opened", "investigating", "trigger"),
        ("incident.updated", "identified", "trigger"),
        ("monitor.down", "down", "trigger"),
        ("incident.updated", "acknowledged", "acknowledge"),
        ("incident.resolved", "resolved", "resolve"),
        ("monitor.up", "up", "resolve"),
    ],
)
async def test_pagerduty_action_follows_the_event_and_reuses_the_incident_dedup_key(
    server: Recorder,
    http: HttpSender,
    make_message: MakeMessage,
    event: str,
    status: str,
    action: str,
) -> None:
    server.answer(202, {"status": "success", "dedup_key": "inc_7"})
    config = pagerduty.validate({"routing_key": "R0UTING", "url": server.url + "/v2/enqueue"})
    delivered = await pagerduty.send(make_message(event=event, status=status), config, http)
    body = server.last.json()
    assert (body["event_action"], body["dedup_key"], body["routing_key"]) == (
        action,
        "inc_7",
        "R0UTING",
    )
    assert delivered == type(delivered)(202, "inc_7")


async def test_pagerduty_trigger_maps_severity_and_summary(
    server: Recorder, http: HttpSender, make_message: MakeMessage
) -> None:
    config = pagerduty.validate({"routing_key": "r", "url": server.url})
    await pagerduty.send(make_message(severity="minor"), config, http)
    payload = server.last.json()["payload"]
    assert (payload["summary"], payload["severity"], payload["source"]) == (
        "API is down",
        "warning",
        "API",
    )


async def test_pagerduty_monitor_event_uses_the_monitor_id_without_an_incident(
    server: Recorder, http: HttpSender, make_message: MakeMessage
) -> None:
    config = pagerduty.validate({"routing_key": "r", "url": server.url})
    await pagerduty.send(make_message(event="monitor.down", incident_id=None), config, http)
    assert server.last.json()["dedup_key"] == "mon_3"


async def test_pagerduty_skips_maintenance_events(
    server: Recorder, http: HttpSender, make_message: MakeMessage
) -> None:
    config = pagerduty.validate({"routing_key": "r", "url": server.url})
    delivered = await pagerduty.send(make_message(event="maintenance.started"), config, http)
    assert delivered.status is None
    assert server.received == []


async def test_opsgenie_creates_an_alert_with_the_incident_alias(
    server: Recorder, http: HttpSender, make_message: MakeMessage
) -> None:
    server.answer(202, {"result": "Request will be processed", "requestId": "req-1"})
    config = opsgenie.validate({"api_key": "gk-1", "url": server.url})
    delivered = await opsgenie.send(make_message(severity="critical"), config, http)
    got = server.last
    assert got.path == "/v2/alerts"
    assert got.headers["Authorization"] == "GenieKey gk-1"
    body = got.json()
    assert (body["alias"], body["priority"], body["message"]) == ("inc_7", "P1", "API is down")
    assert delivered.detail == "req-1"


async def test_opsgenie_closes_the_alert_by_alias_on_resolve(
    server: Recorder, http: HttpSender, make_message: MakeMessage
) -> None:
    config = opsgenie.validate({"api_key": "gk-1", "url": server.url})
    await opsgenie.send(make_message(event="incident.resolved"), config, http)
    got = server.last
    assert got.path == "/v2/alerts/inc_7/close"
    assert got.query == {"identifierType": "alias"}


async def test_twilio_posts_a_form_with_basic_auth_and_idempotency_token(
    server: Recorder, http: HttpSender, make_message: MakeMessage
) -> None:
    server.answer(201, {"sid": "SM1"})
    config = twilio.validate(
        {
            "account_sid": "AC1",
            "auth_token": "t0k",
            "from": "+15550001",
            "to": ["+15550002"],
            "base_url": server.url,
        }
    )
    delivered = await twilio.send(make_message(id="msg_sms"), config, http)
    got = server.last
    assert got.path == "/2010-04-01/Accounts/AC1/Messages.json"
    assert got.headers["Authorization"] == "Basic " + base64.b64encode(b"AC1:t0k").decode()
    assert got.headers["I-Twilio-Idempotency-Token"] == "msg_sms"
    form = got.form()
    assert (form["To"], form["From"]) == ("+15550002", "+15550001")
    assert form["Body"].startswith("API is down\n")
    assert delivered == type(delivered)(201, "SM1")


async def test_twilio_sends_one_request_per_recipient_with_distinct_tokens(
    server: Recorder, http: HttpSender, make_message: MakeMessage
) -> None:
    config = twilio.validate(
        {
            "account_sid": "AC1",
            "auth_token": "t",
            "from": "+1",
            "to": ["+2", "+3"],
            "base_url": server.url,
        }
    )
    await twilio.send(make_message(id="m"), config, http)
    assert [r.form()["To"] for r in server.received] == ["+2", "+3"]
    tokens = {r.headers["I-Twilio-Idempotency-Token"] for r in server.received}
    assert tokens == {"m:+2", "m:+3"}


async def test_twilio_body_is_cut_to_1600_characters(
    server: Recorder, http: HttpSender, make_message: MakeMessage
) -> None:
    config = twilio.validate(
        {"account_sid": "A", "auth_token": "t", "from": "+1", "to": "+2", "base_url": server.url}
    )
    await twilio.send(make_message(text="x" * 5000), config, http)
    assert len(server.last.form()["Body"]) == MAX_BODY


async def test_opsgenie_acknowledges_the_alert_by_alias(
    server: Recorder, http: HttpSender, make_message: MakeMessage
) -> None:
    config = opsgenie.validate({"api_key": "gk-1", "url": server.url})
    await opsgenie.send(make_message(event="incident.updated", status="acknowledged"), config, http)
    assert server.last.path == "/v2/alerts/inc_7/acknowledge"
