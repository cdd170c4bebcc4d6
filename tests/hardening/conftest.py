"""Shared by the live hardening tests: staff who can log in to a server process, a
WebSocket client that resumes, and events written straight into the outbox."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
import websockets
from django.db import connection, transaction
from django.db.models import F

from realtime.models import EventSequence, OutboxEvent

from ..conftest import Floor

PASSWORD = "password123"


@pytest.fixture
def live_floor(settings):
    """A committed floor whose staff log in with PASSWORD through a server process (which
    knows only the real password hashers)."""
    from django.conf import global_settings

    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    floor = Floor("Live")
    for user in (floor.manager, floor.waiter, floor.kitchen):
        user.set_password(PASSWORD)
        user.save()
    return floor


def write_events(restaurant_id, count: int, padding: int = 0) -> int:
    """Commit `count` events of the restaurant straight into the outbox, unpublished, as a
    crashed process leaves them: the server's sweep publishes them. Returns the new head.

    Called from worker threads (asyncio.to_thread): their connection is given back at the
    end, or it would outlive the thread and keep the test database from being dropped."""
    try:
        return _write_events(restaurant_id, count, padding)
    finally:
        if threading.current_thread() is not threading.main_thread():
            connection.close()


def _write_events(restaurant_id, count: int, padding: int) -> int:
    with transaction.atomic():
        updated = EventSequence.objects.filter(restaurant_id=restaurant_id).update(
            last_id=F("last_id") + count
        )
        if not updated:
            EventSequence.objects.create(restaurant_id=restaurant_id, last_id=count)
        head = EventSequence.objects.get(restaurant_id=restaurant_id).last_id
        OutboxEvent.objects.bulk_create(
            OutboxEvent(
                restaurant_id=restaurant_id, seq=seq, name="hardening.filler",
                payload={"n": seq, "padding": "x" * padding},
            )
            for seq in range(head - count + 1, head + 1)
        )
    return head


class ResumingClient:
    """A POS-like client: remembers the id of the last event it processed, resumes with it,
    and checks that ids arrive consecutive (no gap, no duplicate)."""

    def __init__(self, url, token, last_event_id=None):
        self.url, self.token = url, token
        self.last_event_id = last_event_id
        self.received = 0

    async def connect(self, open_timeout=10):
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = str(self.last_event_id)
        self.ws = await websockets.connect(
            self.url, additional_headers=headers, open_timeout=open_timeout, max_size=None,
            ping_interval=None,
        )
        ready = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
        assert ready["type"] == "ready", ready
        if self.last_event_id is None:
            self.last_event_id = int(ready["lastEventId"])
        return ready

    async def read_until(self, head: int, timeout: float):
        async def _read():
            while self.last_event_id < head:
                message = json.loads(await self.ws.recv())
                if message["type"] != "event":
                    assert message["type"] != "resync", message
                    continue
                assert int(message["id"]) == self.last_event_id + 1, (message["id"], self.last_event_id)
                self.last_event_id = int(message["id"])
                self.received += 1

        await asyncio.wait_for(_read(), timeout)

    async def close(self):
        await self.ws.close()
