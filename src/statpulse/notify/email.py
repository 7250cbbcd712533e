"""E-mail over SMTP with aiosmtplib: multipart text + HTML (every value HTML-escaped).

``Message-ID`` is derived from the message id, so a retried message keeps its Message-ID and
mail clients thread or drop the duplicate. SMTP 5xx replies are permanent, 4xx replies,
timeouts and connection errors transient (RFC 5321 §4.2.1).
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import format_datetime
from html import escape
from typing import Any

import aiosmtplib

from statpulse.notify import config as cfg
from statpulse.notify.base import ConfigError, Delivered, DeliveryError, HttpSender
from statpulse.notify.message import Message
from statpulse.security.egress import EgressDenied, EgressPolicy


def _one_line(value: str) -> str:
    return " ".join(value.split())


def build(message: Message, sender: str, recipients: list[str], text: str) -> EmailMessage:
    """The MIME message: text/plain and an escaped text/html alternative."""
    mail = EmailMessage()
    mail["Subject"] = _one_line(message.title)
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    mail["Date"] = format_datetime(message.occurred_at)
    domain = sender.rpartition("@")[2].strip("> ") or "statpulse.invalid"
    digest = hashlib.sha256(message.id.encode()).hexdigest()[:32]
    mail["Message-ID"] = f"<{digest}@{domain}>"
    link = f"\n\n{message.url}" if message.url else ""
    mail.set_content(f"{text}{link}\n")
    open_label = escape(message.link_label)
    html_link = f'<p><a href="{escape(message.url)}">{open_label}</a></p>' if message.url else ""
    mail.add_alternative(
        f"<html><body><h2>{escape(message.title)}</h2>"
        f'<p style="white-space:pre-wrap">{escape(text)}</p>{html_link}</body></html>',
        subtype="html",
    )
    return mail


def _smtp_error(exc: Exception) -> DeliveryError:
    code = getattr(exc, "code", None)
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        permanent = bool(codes) and all(500 <= c < 600 for c in codes)
        return DeliveryError(
            "all recipients refused", permanent=permanent, status=max(codes, default=None)
        )
    if isinstance(code, int) and code > 0:
        reply = " ".join(str(getattr(exc, "message", "")).split())[:200]
        return DeliveryError(
            f"SMTP {code} {reply}".rstrip(), permanent=500 <= code < 600, status=code
        )
    return DeliveryError(f"SMTP {type(exc).__name__}", permanent=False)


async def _guarded_socket(policy: EgressPolicy, host: str, port: int) -> socket.socket:
    """A socket connected to an address the policy allows (raises EgressDenied, OSError)."""
    infos = await policy.resolve(host, port)
    loop = asyncio.get_running_loop()
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, address)
    except BaseException:
        sock.close()
        raise
    return sock


class EmailNotifier:
    kind = "email"

    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``host``, ``from``, ``to`` (list); optional ``port`` (default 465 with ``tls``,
        587 with ``starttls``, else 25), ``username``/``password``, ``template``."""
        tls, starttls = cfg.flag(config, "tls"), cfg.flag(config, "starttls")
        if tls and starttls:
            raise ConfigError("config.tls", "use tls or starttls, not both")
        port = config.get("port", 465 if tls else 587 if starttls else 25)
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise ConfigError("config.port", "must be a port number")
        out: dict[str, Any] = {
            "host": cfg.text(config, "host"),
            "port": port,
            "tls": tls,
            "starttls": starttls,
            "from": cfg.text(config, "from"),
            "to": cfg.text_list(config, "to"),
        }
        if config.get("username") is not None:
            out["username"] = cfg.text(config, "username")
            out["password"] = cfg.text(config, "password")
        return cfg.template(config, out)

    def secret_fields(self) -> tuple[str, ...]:
        return ("password",)

    async def send(
        self, message: Message, config: Mapping[str, Any], http: HttpSender
    ) -> Delivered:
        """Sends one mail to every recipient; ``detail`` is the Message-ID."""
        mail = build(message, config["from"], config["to"], cfg.body_text(message, config))
        host, port = config["host"], config["port"]
        sock: socket.socket | None = None
        try:
            if http.egress is not None:
                async with asyncio.timeout(http.timeout):
                    sock = await _guarded_socket(http.egress, host, port)
            # With a pre-connected socket, hostname still names the host TLS verifies.
            where: dict[str, Any] = {"sock": sock} if sock else {"port": port}
            await aiosmtplib.send(
                mail,
                hostname=host,
                **where,
                username=config.get("username"),
                password=config.get("password"),
                use_tls=config["tls"],
                start_tls=config["starttls"],
                timeout=http.timeout,
            )
        except EgressDenied as exc:
            raise DeliveryError(f"egress denied: {exc}", permanent=True) from None
        except aiosmtplib.SMTPException as exc:
            raise _smtp_error(exc) from None
        except (OSError, TimeoutError) as exc:
            raise DeliveryError(
                f"{type(exc).__name__} connecting to {host}", permanent=False
            ) from None
        finally:
            if sock is not None:
                sock.close()
        return Delivered(250, str(mail["Message-ID"]))
