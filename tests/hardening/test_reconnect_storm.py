"""Reconnect storm: 1,000 sockets of one restaurant, on one daphne worker, drop and come back
at the same moment with `Last-Event-ID`. Every socket gets exactly the events it missed, in
order, the server stays up, and the time it takes is reported (printed, and written to
tests/artifacts/reconnect-storm.json).
"""

from __future__ import annotations

import asyncio
import json
import resource
import time

import pytest
import websockets

from ..live import ARTIFACTS, WebServer
from .conftest import PASSWORD, ResumingClient, write_events

pytestmark = [pytest.mark.django_db(transaction=True)]

SOCKETS = 1000
MISSED = 20
STORM_LIMIT = 120.0  # seconds: far above what it takes; only a hang trips it


def _enough_file_descriptors(needed: int) -> None:
    """Each socket is a descriptor in this process and one in the server (which inherits
    the limit): raise the soft limit as far as the hard one allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        pytest.fail(f"RLIMIT_NOFILE hard limit {hard} is below the {needed} this test needs")


async def _connect_all(clients, concurrency=None) -> int:
    """Connect every client, each retrying with backoff and jitter as the documented client
    does (a server flooded with handshakes drops those it cannot finish in time). Returns
    how many attempts failed and were retried."""
    gate = asyncio.Semaphore(concurrency or len(clients))
    retries = 0

    async def one(client, index):
        nonlocal retries
        async with gate:
            for attempt in range(8):
                try:
                    return await client.connect(open_timeout=30)
                except (OSError, EOFError, asyncio.TimeoutError, websockets.InvalidHandshake,
                        websockets.ConnectionClosed):
                    retries += 1
                    await asyncio.sleep(min(0.25 * 2**attempt, 4) * (1 + (index % 10) / 10))
            return await client.connect(open_timeout=30)

    await asyncio.gather(*(one(c, i) for i, c in enumerate(clients)))
    return retries


def test_thousand_sockets_reconnect_at_once_and_each_gets_what_it_missed(live_floor):
    _enough_file_descriptors(2 * SOCKETS + 512)
    floor = live_floor
    server = WebServer(
        "reconnect-storm", OUTBOX_SWEEP_INTERVAL="0.2", OUTBOX_SWEEP_GRACE="0",
        DB_CONN_MAX_AGE="60",
    )
    try:
        token = server.login(floor.kitchen.email, PASSWORD)

        async def scenario():
            clients = [ResumingClient(server.ws_url, token) for _ in range(SOCKETS)]
            started = time.monotonic()
            await _connect_all(clients, concurrency=100)
            connect_seconds = time.monotonic() - started
            last_ids = {c.last_event_id for c in clients}
            assert len(last_ids) == 1, last_ids
            # The floor's Wi-Fi drops: every socket goes; events commit meanwhile.
            await asyncio.gather(*(c.close() for c in clients))
            head = await asyncio.to_thread(write_events, floor.restaurant.pk, MISSED)
            # And comes back: all at once, each with the id of the last event it processed.
            started = time.monotonic()
            retries = await _connect_all(clients)
            all_connected = time.monotonic() - started
            await asyncio.gather(*(c.read_until(head, timeout=STORM_LIMIT) for c in clients))
            all_caught_up = time.monotonic() - started
            await asyncio.gather(*(c.close() for c in clients))
            return clients, head, connect_seconds, all_connected, all_caught_up, retries

        clients, head, connect_seconds, all_connected, all_caught_up, retries = asyncio.run(scenario())
        assert all(c.received == MISSED and c.last_event_id == head for c in clients)
        assert server.proc.poll() is None, "the server died"
        status, health = server.request("GET", "/healthz")
        assert status == 200, health
        report = {
            "sockets": SOCKETS,
            "missedEventsEach": MISSED,
            "firstConnectSeconds": round(connect_seconds, 2),
            "stormAllReadySeconds": round(all_connected, 2),
            "stormRetriedHandshakes": retries,
            "stormAllCaughtUpSeconds": round(all_caught_up, 2),
            "serverRssMB": round(server.rss_bytes() / 1024 / 1024, 1),
        }
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "reconnect-storm.json").write_text(json.dumps(report, indent=2) + "\n")
        print(f"reconnect storm: {json.dumps(report)}")
    finally:
        server.stop()
