"""A frozen client: it completes the WebSocket handshake, reads `ready`, and never reads again.

Whatever the socket cannot take piles up in the server's memory unless something bounds it.
Two things do: a socket more than 1 MiB behind is cut (a TCP reset: `EventsConsumer.
fell_behind`), and the server's WebSocket keepalive ping drops a client that does not answer
(the Procfile sets 15 s / 30 s; 1 s / 2 s here). Events of ~24 KB are published for 12
seconds (tens of MB): the frozen socket is dropped within seconds, the server's memory stops
growing once it is, a healthy socket beside it gets every event, and the frozen client,
reconnecting with its last event id, gets everything it missed.

With the fast path off (REALTIME_FAST_PATH=0, public ASGI only) there is no way to reset a
connection: ASGI has no abort, and the server's own close waits behind the backlog. There,
"dropped" is the worker giving up on the socket (it leaves the stream, nothing more is
queued for it: its log says so), and the rest holds the same."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import time

import pytest

from django.conf import settings

from ..live import ARTIFACTS, WebServer
from .conftest import PASSWORD, ResumingClient, write_events

pytestmark = [pytest.mark.django_db(transaction=True)]

PING_INTERVAL, PING_TIMEOUT = 1, 2
PADDING = 24_000
BATCH, EVERY, PUBLISH_FOR = 60, 0.25, 12.0
# Dropped within ping interval + timeout + a 2 s check period (daphne's), with slack.
DROP_WITHIN = PING_INTERVAL + PING_TIMEOUT + 2 + 3
MB = 1024 * 1024


def _tcp_state(sock) -> int:
    """Linux TCP_INFO's first byte: 1 ESTABLISHED, 7 CLOSE (reset by the peer), 8 CLOSE_WAIT."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]


class FrozenClient:
    """Raw socket: handshake, read the `ready` frame, then never read again."""

    def __init__(self, port, token):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET /ws/events/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {token}\r\n\r\n".encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        self.ready = json.loads(self._frame())
        assert self.ready["type"] == "ready", self.ready

    def _read(self, n):
        while len(self.buffer) < n:
            self.buffer += self.sock.recv(65536)
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _frame(self) -> bytes:
        first, second = self._read(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack(">H", self._read(2))
        elif length == 127:
            (length,) = struct.unpack(">Q", self._read(8))
        return self._read(length)

    def dropped(self) -> bool:
        return _tcp_state(self.sock) != 1

    def close(self):
        self.sock.close()


def test_frozen_client_is_dropped_memory_stays_bounded_and_it_resumes(live_floor):
    floor = live_floor
    restaurant = floor.restaurant.pk
    server = WebServer(
        "frozen-client",
        ping=(PING_INTERVAL, PING_TIMEOUT),
        OUTBOX_SWEEP_INTERVAL="0.1", OUTBOX_SWEEP_GRACE="0",
    )
    try:
        token = server.login(floor.kitchen.email, PASSWORD)
        log = ARTIFACTS / "frozen-client.log"
        log_from = log.stat().st_size

        def given_up(frozen) -> bool:
            if settings.REALTIME_FAST_PATH:
                return frozen.dropped()  # reset at the TCP level
            return b"socket fell behind; dropping it" in log.read_bytes()[log_from:]

        async def scenario():
            healthy = ResumingClient(server.ws_url, token)
            await healthy.connect()
            frozen = await asyncio.to_thread(FrozenClient, server.port, token)
            frozen_last_id = int(frozen.ready["lastEventId"])
            await asyncio.sleep(0.5)
            baseline = server.rss_bytes()

            samples, dropped_at, head, published = [], None, frozen_last_id, 0
            started = time.monotonic()
            reader = asyncio.create_task(healthy.read_until(10**9, timeout=PUBLISH_FOR + 30))
            while time.monotonic() - started < PUBLISH_FOR:
                head = await asyncio.to_thread(write_events, restaurant, BATCH, PADDING)
                published += BATCH * PADDING
                await asyncio.sleep(EVERY)
                now = time.monotonic() - started
                samples.append((now, server.rss_bytes()))
                if dropped_at is None and given_up(frozen):
                    dropped_at = now
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)  # its recv() is over first
            await healthy.read_until(head, timeout=30)  # the healthy socket got every event
            rss_end = server.rss_bytes()
            frozen.close()

            # The frozen client comes back with the id of the last event it processed.
            resumed = ResumingClient(server.ws_url, token, last_event_id=frozen_last_id)
            await resumed.connect()
            await resumed.read_until(head, timeout=60)
            await resumed.close()
            await healthy.close()
            return baseline, samples, dropped_at, rss_end, head, published, resumed, frozen_last_id

        baseline, samples, dropped_at, rss_end, head, published, resumed, frozen_last_id = (
            asyncio.run(scenario())
        )
        peak = max(rss for _, rss in samples)
        at_drop = max((rss for t, rss in samples if t <= (dropped_at or 0) + 1), default=baseline)
        report = (
            f"published {published / MB:.0f} MB in {PUBLISH_FOR:.0f} s; frozen socket dropped after "
            f"{dropped_at} s; RSS baseline {baseline / MB:.0f} MB, at drop {at_drop / MB:.0f} MB, "
            f"peak {peak / MB:.0f} MB, end {rss_end / MB:.0f} MB"
        )
        print(report)
        assert dropped_at is not None and dropped_at <= DROP_WITHIN, report
        # Once dropped, publishing goes on (tens of MB) without the server growing with it.
        assert peak - at_drop < 16 * MB, report
        assert peak - baseline < published / 2, report
        # Resumed: every event after its last id, in order, none twice (ResumingClient checks).
        assert resumed.received == head - frozen_last_id
    finally:
        server.stop()
