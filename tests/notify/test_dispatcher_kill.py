"""A dispatcher process SIGKILLed after the provider answered and before it marked the row:
the message is sent again, with the same idempotency key, once the lease has run out."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web

from statpulse.model import utcnow
from statpulse.notify import NOTIFIERS, HttpSender
from statpulse.notify.dispatcher import Dispatcher, RetryPolicy, message_doc
from statpulse.notify.signing import new_secret
from statpulse.store.sql import open_store

CHILD = """
import asyncio, sys
from statpulse.notify import NOTIFIERS, HttpSender
from statpulse.notify.dispatcher import Dispatcher
from statpulse.store.sql import open_store

async def main():
    store = await open_store(sys.argv[1], migrate=False)
    async with HttpSender() as http:
        await Dispatcher(store, http, NOTIFIERS).drain()
    await store.close()

asyncio.run(main())
"""


@pytest.mark.slow
async def test_a_dispatcher_killed_between_send_and_mark_resends_with_the_same_id(
    tmp_path: Path, make_message
) -> None:
    received: list[dict[str, str]] = []
    child: dict[str, subprocess.Popen[bytes]] = {}
    answered = asyncio.Event()

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        received.append(dict(request.headers))
        if "proc" in child:
            # Freeze the dispatcher before it can read our answer, so it can never mark the
            # row; it is killed once the answer is on the wire.
            os.kill(child["proc"].pid, signal.SIGSTOP)
            answered.set()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    await web.SockSite(runner, sock).start()

    db = f"sqlite:///{tmp_path / 'statpulse.db'}"
    store = await open_store(db)
    try:
        org = await store.create_org("acme", "Acme")
        webhook = NOTIFIERS["webhook"]
        config = webhook.validate({"url": url, "secret": new_secret()})
        channel = await store.create_channel(
            org.id, "webhook", "ops", config, webhook.secret_fields()
        )
        await store.enqueue(org.id, "monitor.down", "c1", message_doc(make_message()), utcnow())

        child["proc"] = subprocess.Popen([sys.executable, "-c", CHILD, db])
        try:
            async with asyncio.timeout(60):
                await answered.wait()
            await asyncio.sleep(0.2)  # the answer is written
        finally:
            child["proc"].kill()
            child["proc"].wait(timeout=10)
        assert child["proc"].returncode == -signal.SIGKILL
        [row] = await store.outbox_rows(channel.id)
        assert row["state"] == "pending" and row["attempts"] == 1

        del child["proc"]
        lease = timedelta(seconds=RetryPolicy().lease_s)
        later = utcnow() + lease + timedelta(seconds=1)
        async with HttpSender() as http:
            dispatcher = Dispatcher(store, http, NOTIFIERS)
            assert await dispatcher.drain() == 0  # still leased by the dead process
            dispatcher = Dispatcher(store, http, NOTIFIERS, clock=lambda: later)
            assert await dispatcher.drain() == 1
        [row] = await store.outbox_rows(channel.id)
        assert row["state"] == "sent" and row["attempts"] == 2
        assert [h["webhook-id"] for h in received] == [str(row["id"])] * 2
    finally:
        await store.close()
        await runner.cleanup()
