"""E-mail against a real aiosmtpd server on 127.0.0.1 port 0, in the test's event loop."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from statpulse.notify.base import DeliveryError, HttpSender
from statpulse.notify.email import EmailNotifier
from statpulse.notify.message import Message
from statpulse.security.egress import EgressPolicy

MakeMessage = Callable[..., Message]
notifier = EmailNotifier()


@dataclass
class Mailbox:
    """An aiosmtpd handler (its hook names are handle_RCPT/handle_DATA) that keeps mail."""

    port: int = 0
    envelopes: list[Envelope] = field(default_factory=list)
    rcpt_reply: str | None = None
    data_reply: str | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        self.envelopes.append(envelope)
        return "250 Message accepted"


@pytest.fixture
async def mailbox() -> AsyncIterator[Mailbox]:
    box = Mailbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(box), "127.0.0.1", 0)
    box.port = server.sockets[0].getsockname()[1]
    yield box
    server.close()
    await server.wait_closed()


def config(box: Mailbox) -> dict[str, Any]:
    return notifier.validate(
        {
            "host": "127.0.0.1",
            "port": box.port,
            "from": "StatPulse <alerts@statpulse.test>",
            "to": ["ops@example.com", "oncall@example.com"],
        }
    )


async def test_email_arrives_with_text_and_escaped_html_parts(
    mailbox: Mailbox, http: HttpSender, make_message: MakeMessage
) -> None:
    await notifier.send(make_message(text="5 < 6 & <script>x</script>"), config(mailbox), http)
    [envelope] = mailbox.envelopes
    assert envelope.rcpt_tos == ["ops@example.com", "oncall@example.com"]
    assert isinstance(envelope.content, bytes)
    mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert mail["Subject"] == "API is down"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    assert "5 < 6 & <script>x</script>" in text.get_content()
    assert "5 &lt; 6 &amp; &lt;script&gt;x&lt;/script&gt;" in html.get_content()
    assert "<script>" not in html.get_content()


async def test_email_message_id_is_stable_for_one_message(
    mailbox: Mailbox, http: HttpSender, make_message: MakeMessage
) -> None:
    first = await notifier.send(make_message(id="m1"), config(mailbox), http)
    again = await notifier.send(make_message(id="m1"), config(mailbox), http)
    other = await notifier.send(make_message(id="m2"), config(mailbox), http)
    ids = [email.message_from_bytes(e.content)["Message-ID"] for e in mailbox.envelopes]  # type: ignore[arg-type]
    assert ids[0] == ids[1] == first.detail == again.detail
    assert ids[2] == other.detail != ids[0]
    assert ids[0].endswith("@statpulse.test>")


async def test_email_5xx_rejection_is_permanent(
    mailbox: Mailbox, http: HttpSender, make_message: MakeMessage
) -> None:
    mailbox.rcpt_reply = "550 No such user"
    with pytest.raises(DeliveryError) as caught:
        await notifier.send(make_message(), config(mailbox), http)
    assert (caught.value.permanent, caught.value.status) == (True, 550)


async def test_email_4xx_rejection_is_transient(
    mailbox: Mailbox, http: HttpSender, make_message: MakeMessage
) -> None:
    mailbox.data_reply = "451 Try again later"
    with pytest.raises(DeliveryError) as caught:
        await notifier.send(make_message(), config(mailbox), http)
    assert (caught.value.permanent, caught.value.status) == (False, 451)


async def test_email_connection_refused_is_transient(
    http: HttpSender, make_message: MakeMessage
) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg = notifier.validate({"host": "127.0.0.1", "port": port, "from": "a@b.c", "to": "d@e.f"})
    with pytest.raises(DeliveryError) as caught:
        await notifier.send(make_message(), cfg, http)
    assert not caught.value.permanent


async def test_email_guarded_sender_never_connects_to_loopback(
    mailbox: Mailbox, make_message: MakeMessage
) -> None:
    async with HttpSender(egress=EgressPolicy.guarded()) as guarded:
        with pytest.raises(DeliveryError) as caught:
            await notifier.send(make_message(), config(mailbox), guarded)
    assert caught.value.permanent
    assert mailbox.envelopes == []


async def test_email_guard_with_an_allow_range_delivers(
    mailbox: Mailbox, make_message: MakeMessage
) -> None:
    policy = EgressPolicy.guarded(allow=["127.0.0.0/8"])
    async with HttpSender(egress=policy) as guarded:
        await notifier.send(make_message(), config(mailbox), guarded)
    assert len(mailbox.envelopes) == 1
