"""Across processes: several web workers, a crashed worker, a Redis restart."""

import asyncio
import json
import subprocess
import sys
import textwrap

import pytest
import websockets

from ..live import ROOT, WebServer, RedisServer, manage, server_env

pytestmark = [pytest.mark.django_db(transaction=True)]


class Client:
    """A POS-like WebSocket client that remembers its last event id and resumes."""

    def __init__(self, url, token):
        self.url, self.token = url, token
        self.last_event_id = None
        self.events = []

    async def connect(self):
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = self.last_event_id
        self.ws = await websockets.connect(self.url, additional_headers=headers, open_timeout=10)
        ready = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
        assert ready["type"] == "ready", ready
        if self.last_event_id is None:
            self.last_event_id = ready["lastEventId"]
        return ready

    async def reconnect(self, attempts=20):
        """Reconnect with backoff and resume from the last event id, as a POS does."""
        for attempt in range(attempts):
            try:
                return await self.connect()
            except Exception:  # noqa: BLE001 - server or Redis still coming back
                await asyncio.sleep(0.25 * (attempt + 1))
        raise AssertionError("could not reconnect")

    async def collect(self, count, timeout=10.0, reconnect=False):
        async def _collect():
            while len(self.events) < count:
                try:
                    message = json.loads(await self.ws.recv())
                except websockets.ConnectionClosed:
                    if not reconnect:
                        raise
                    await self.reconnect()
                    continue
                if message["type"] == "event":
                    assert int(message["id"]) == int(self.last_event_id) + 1, (message, self.last_event_id)
                    self.last_event_id = message["id"]
                    self.events.append(message)
                else:
                    assert message["type"] != "resync", message

        await asyncio.wait_for(_collect(), timeout)
        return self.events

    async def close(self):
        await self.ws.close()


def _waiter_flow(server, token, session_id, items=1):
    """The README's flow over HTTP: create, add items, confirm. Returns the order id."""
    status, order = server.request("POST", "/api/v1/orders", {"tableSessionId": session_id}, token)
    assert status == 201, order
    for n in range(items):
        status, body = server.request(
            "POST", f"/api/v1/orders/{order['id']}/items",
            {"name": f"Dish {n}", "qty": 1, "unitPrice": "3.00"}, token,
        )
        assert status == 201, body
    status, body = server.request("POST", f"/api/v1/orders/{order['id']}/confirm", None, token)
    assert status == 200, body
    return order["id"]


@pytest.mark.redis
def test_event_caused_on_one_worker_reaches_a_socket_on_another(seeded_floor):
    floor = seeded_floor
    worker_a, worker_b = WebServer("worker-a"), WebServer("worker-b")
    try:
        waiter = worker_a.login(floor.waiter.email, "password123")
        kitchen = worker_b.login(floor.kitchen.email, "password123")

        async def scenario():
            client = Client(worker_b.ws_url, kitchen)
            await client.connect()
            order_id = await asyncio.to_thread(_waiter_flow, worker_a, waiter, str(floor.session.pk))
            new, changed = await client.collect(2)
            await client.close()
            return order_id, new, changed

        order_id, new, changed = asyncio.run(scenario())
        assert new["event"] == "order.new" and new["data"]["orderId"] == order_id
        assert changed["event"] == "order.status.changed"
    finally:
        worker_a.stop()
        worker_b.stop()


CRASH_AFTER_COMMIT = textwrap.dedent("""
    import os, signal, sys
    import django
    django.setup()
    from django.db import transaction
    from orders import services
    from orders.models import Order, User
    order = Order.objects.get(pk=sys.argv[1])
    waiter = User.objects.get(pk=sys.argv[2])
    with transaction.atomic():
        # Runs first among the commit callbacks: the process dies after COMMIT, before the
        # publisher is kicked.
        transaction.on_commit(lambda: os.kill(os.getpid(), signal.SIGKILL))
        services.order_confirm(actor=waiter, order=order)
""")


def _confirm_then_die(order, waiter):
    crashed = subprocess.run(
        [sys.executable, "-c", CRASH_AFTER_COMMIT, str(order.pk), str(waiter.pk)],
        cwd=ROOT, env=server_env(), capture_output=True, text=True, timeout=60,
    )
    assert crashed.returncode == -9, crashed.stderr


@pytest.mark.redis
def test_process_killed_between_commit_and_publish_the_relay_delivers(seeded_floor):
    floor = seeded_floor
    order = floor.order(items=1)
    # Nothing but the relay may publish: no sweep, and no heartbeat (a heartbeat showing the
    # head past what the stream saw fills the gap from the outbox, the healing of another test).
    server = WebServer("worker-no-sweep", OUTBOX_SWEEP="0", WS_HEARTBEAT_INTERVAL="0")
    try:
        kitchen = server.login(floor.kitchen.email, "password123")

        async def scenario():
            client = Client(server.ws_url, kitchen)
            await client.connect()
            await asyncio.to_thread(_confirm_then_die, order, floor.waiter)
            with pytest.raises(asyncio.TimeoutError):
                await client.collect(1, timeout=1.5)  # committed, but nobody published it
            relay = await asyncio.to_thread(manage, "relay_outbox", "--once")
            assert relay.returncode == 0, relay.stderr
            assert "published 2 event(s)" in relay.stdout
            events = await client.collect(2)
            await client.close()
            return events

        new, changed = asyncio.run(scenario())
        assert new["event"] == "order.new" and new["data"]["orderId"] == str(order.pk)
        assert changed["data"]["newStatus"] == "CONFIRMED"
    finally:
        server.stop()


def test_crashed_process_events_are_delivered_by_the_servers_own_sweep(seeded_floor):
    """Same crash, no separate relay: the web worker's sweep publishes the event."""
    floor = seeded_floor
    order = floor.order(items=1)
    extra = {"OUTBOX_SWEEP_INTERVAL": "0.5", "OUTBOX_SWEEP_GRACE": "0.5"}
    server = WebServer("worker-sweep", **extra)
    try:
        kitchen = server.login(floor.kitchen.email, "password123")

        async def scenario():
            client = Client(server.ws_url, kitchen)
            await client.connect()
            await asyncio.to_thread(_confirm_then_die, order, floor.waiter)
            events = await client.collect(2, timeout=10)
            await client.close()
            return events

        new, changed = asyncio.run(scenario())
        assert new["event"] == "order.new"
    finally:
        server.stop()


@pytest.mark.redis
def test_redis_restarted_under_live_sockets_clients_recover_every_event(seeded_floor):
    floor = seeded_floor
    redis = RedisServer("redis-restart")
    extra = {
        "REDIS_URL": redis.url, "OUTBOX_SWEEP_INTERVAL": "0.5", "OUTBOX_SWEEP_GRACE": "0.5",
        "WS_HEARTBEAT_INTERVAL": "0.5",
    }
    server = WebServer("worker-redis-restart", **extra)
    try:
        waiter = server.login(floor.waiter.email, "password123")
        kitchen = server.login(floor.kitchen.email, "password123")
        session = str(floor.session.pk)

        async def scenario():
            clients = [Client(server.ws_url, kitchen) for _ in range(3)]
            for client in clients:
                await client.connect()
            await asyncio.to_thread(_waiter_flow, server, waiter, session)
            for client in clients:
                await client.collect(2)

            # Redis goes away; the floor keeps working: requests succeed, events wait.
            await asyncio.to_thread(redis.stop)
            orders_while_down = [
                await asyncio.to_thread(_waiter_flow, server, waiter, session) for _ in range(2)
            ]
            await asyncio.to_thread(redis._start, "redis-restart")

            # Each client gets every event, reconnecting and resuming when its socket drops.
            for client in clients:
                await client.collect(6, timeout=20, reconnect=True)
            # And live events flow again after the restart.
            order_after = await asyncio.to_thread(_waiter_flow, server, waiter, session)
            for client in clients:
                await client.collect(8, timeout=20, reconnect=True)
                await client.close()
            return clients, orders_while_down, order_after

        clients, orders_while_down, order_after = asyncio.run(scenario())
        for client in clients:
            order_ids = [e["data"]["orderId"] for e in client.events if e["event"] == "order.new"]
            assert order_ids[1:] == [*orders_while_down, order_after]
    finally:
        server.stop()
        redis.stop()


class RedisStats:
    """`INFO stats` over one connection of its own, so that reading counts nothing new."""

    def __init__(self, redis):
        import socket as sockets

        self.connection = sockets.create_connection(("127.0.0.1", redis.port), timeout=2)

    def connections_received(self) -> int:
        self.connection.sendall(b"INFO stats\r\n")
        data = b""
        while b"total_connections_received" not in data or not data.endswith(b"\r\n"):
            data += self.connection.recv(65536)
        line = next(l for l in data.decode().splitlines() if l.startswith("total_connections_received"))
        return int(line.split(":")[1])

    def close(self):
        self.connection.close()


@pytest.mark.redis
def test_publishing_opens_no_new_redis_connections_in_steady_state(seeded_floor):
    """channels_redis #125/#332: async_to_sync(group_send) per request opens a connection
    per event. Our publisher reuses the worker's connections."""
    floor = seeded_floor
    redis = RedisServer("redis-connections")
    server = WebServer("worker-connections", REDIS_URL=redis.url, OUTBOX_SWEEP="0")
    try:
        waiter = server.login(floor.waiter.email, "password123")
        kitchen = server.login(floor.kitchen.email, "password123")
        session = str(floor.session.pk)

        async def scenario():
            client = Client(server.ws_url, kitchen)
            await client.connect()
            for _ in range(5):  # warm up: pools grow to their working size
                await asyncio.to_thread(_waiter_flow, server, waiter, session)
            await client.collect(10)
            stats = RedisStats(redis)
            before = stats.connections_received()
            for _ in range(20):
                await asyncio.to_thread(_waiter_flow, server, waiter, session)
            await client.collect(50)
            after = stats.connections_received()
            stats.close()
            await client.close()
            return before, after

        before, after = asyncio.run(scenario())
        assert after - before == 0, f"{after - before} Redis connections opened for 40 events"
    finally:
        server.stop()
        redis.stop()


@pytest.mark.redis
def test_socket_open_longer_than_group_expiry_still_receives_events(seeded_floor):
    """RedisChannelLayer forgets group members after group_expiry; sockets re-join in time."""
    floor = seeded_floor
    server = WebServer(
        "worker-group-expiry",
        CHANNEL_LAYER_BACKEND="channels_redis.core.RedisChannelLayer",
        CHANNEL_GROUP_EXPIRY="2",
        WS_HEARTBEAT_INTERVAL="0",  # no heartbeat to paper over a vanished member
    )
    try:
        waiter = server.login(floor.waiter.email, "password123")
        kitchen = server.login(floor.kitchen.email, "password123")

        async def scenario():
            client = Client(server.ws_url, kitchen)
            await client.connect()
            await asyncio.sleep(5)  # well past group_expiry
            await asyncio.to_thread(_waiter_flow, server, waiter, str(floor.session.pk))
            events = await client.collect(2, timeout=5)
            await client.close()
            return events

        new, changed = asyncio.run(scenario())
        assert new["event"] == "order.new" and changed["event"] == "order.status.changed"
    finally:
        server.stop()
