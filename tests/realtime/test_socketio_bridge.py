"""Socket.IO's rooms in-process: the restaurant's stream (realtime.streams), emitted to its
room in id order exactly once (duplicates dropped, gaps filled from the outbox, silent
streams re-subscribed), and sockets closed on expiry and revocation. The server is a
recorder; the second half runs the real server under uvicorn."""

import asyncio
import time

import pytest
import pytest_asyncio
from channels.layers import get_channel_layer

from orders import services
from orders.models import User
from realtime import handover, internals, streams
from realtime import socketio as sio_module
from realtime.auth import SocketIdentity
from realtime.events import layer_message, restaurant_group
from realtime.models import OutboxEvent
from realtime.publisher import publisher

from ..conftest import Floor
from .conftest import db
from .test_events import _draft_with_items

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


class RecordingServer:
    """Stands in for socketio.AsyncServer: records emits and disconnects."""

    def __init__(self):
        self.emitted: list[tuple[str, str, dict]] = []
        self.offsets: list[tuple[str, str, str]] = []
        self.rooms: dict[str, set] = {}
        self.disconnected: list[str] = []
        self.hub = None

    async def emit(self, event, data=None, to=None, namespace=None):
        if isinstance(data, tuple):  # (payload, offset): every event carries its id
            data, offset = data
            self.offsets.append((to, event, offset))
        self.emitted.append((to, event, data))

    async def enter_room(self, sid, room, namespace=None):
        self.rooms.setdefault(room, set()).add(sid)

    async def disconnect(self, sid, namespace=None):
        self.disconnected.append(sid)
        self.hub.detach(sid)  # what the real server's disconnect handler does

    def to(self, room):
        """What `room` (or sid) got, but the `ready` every socket gets first."""
        return [(event, data) for target, event, data in self.emitted
                if target == room and event != sio_module.READY_EVENT]


@pytest_asyncio.fixture
async def hub():
    server = RecordingServer()
    hub = sio_module.Hub(server, is_alive=lambda sid: True)
    server.hub = hub
    yield hub
    for sid in list(hub.sockets):
        hub.detach(sid)
    if hub._reaper:
        hub._reaper.cancel()
    await asyncio.sleep(0.05)


async def attach(hub, sid, who) -> bool:
    """What the connect handler does: attach, then (once CONNECT is answered) join."""
    if not await hub.attach(sid, who):
        return False
    after, _pid, recovered = await hub.recovery(who, None)
    await hub.join(sid, after, recovered)
    return True


def identity(user, expires_in=600.0, session_id="login-1"):
    return SocketIdentity(
        user_id=str(user.pk), restaurant_id=str(user.restaurant_id), role=user.role, method="token",
        expires_at=time.time() + expires_in, session_id=session_id,
    )


async def until(condition, timeout=3.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def _confirm(floor, order):
    services.order_confirm(actor=floor.waiter, order=order)


def _outbox(restaurant_id):
    return list(OutboxEvent.objects.filter(restaurant_id=restaurant_id).order_by("seq"))


async def test_emits_in_id_order_exactly_once_dropping_duplicates_and_filling_gaps(hub, monkeypatch):
    floor = await db(Floor)()
    rid = str(floor.restaurant.pk)
    room = f"restaurant:{rid}"
    assert await attach(hub, "s1", identity(floor.kitchen))
    stream = hub.rooms[rid].stream
    assert stream.last_id == 0
    # Its first event gives it an offset, even with no event yet (socket.io#5538).
    assert hub.server.offsets == [("s1", "ready", "0")]
    assert hub.server.rooms == {room: {"s1"}}

    # Commit events without publishing them: the test plays the channel layer.
    monkeypatch.setattr(handover, "committed", lambda event: None)
    layer, group = get_channel_layer(), restaurant_group(rid)

    async def commit_order():
        order = await db(_draft_with_items)(floor, 1)
        await db(_confirm)(floor, order)
        return await db(_outbox)(rid)

    events = await commit_order()
    await layer.group_send(group, layer_message(events[1]))  # 1 never came: a gap
    await until(lambda: len(hub.server.to(room)) == 2)
    await layer.group_send(group, layer_message(events[0]))  # late duplicate
    await layer.group_send(group, layer_message(events[1]))  # at-least-once duplicate

    events = await commit_order()
    await layer.group_send(group, layer_message(events[2]))  # live, in order
    await until(lambda: len(hub.server.to(room)) == 3)
    await layer.group_send(group, {"type": "stream.heartbeat", "head": 4})  # 4 was dropped
    await until(lambda: len(hub.server.to(room)) == 4)
    await layer.group_send(group, layer_message(events[3]))  # ... and turns up late

    events = await commit_order()
    for event in events[4:]:
        await layer.group_send(group, layer_message(event))
    await layer.group_send(group, {"type": "stream.heartbeat", "head": 6})
    await until(lambda: len(hub.server.to(room)) == 6)
    await asyncio.sleep(0.2)

    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]
    assert hub.server.to(room) == [(e.name, e.payload) for e in events]
    assert stream.last_id == 6 and stream.subscriptions == 1
    # Every event's last argument is its id (the Socket.IO recovery offset).
    assert [o for target, _, o in hub.server.offsets if target == room] == [str(e.seq) for e in events]


async def test_events_committed_in_this_worker_come_from_the_publisher_once(hub):
    """While subscribed, the stream takes this worker's commits from the hand-over: they reach
    the room without the channel layer; their layer copies are dropped by id."""
    floor = await db(Floor)()
    rid = str(floor.restaurant.pk)
    room = f"restaurant:{rid}"
    assert await attach(hub, "s1", identity(floor.kitchen))
    stream = hub.rooms[rid].stream
    assert stream.listening

    order = await db(_draft_with_items)(floor, 1)
    await db(_confirm)(floor, order)
    await until(lambda: len(hub.server.to(room)) == 2)
    await asyncio.sleep(0.3)  # the layer's copies arrive meanwhile
    assert hub.server.to(room) == [(e.name, e.payload) for e in await db(_outbox)(rid)]
    assert stream.local_deliveries == 2 and stream.last_id == 2

    hub.detach("s1")
    assert stream.stopped and not stream.listening  # no subscriber: no stream
    assert rid not in streams.restaurants_here()


async def test_local_and_layer_deliveries_are_handled_one_at_a_time(hub, monkeypatch):
    """A local event that finds a gap fills it from the outbox (a database round trip);
    the missing event arriving meanwhile must wait, not be emitted twice."""
    floor = await db(Floor)()
    rid = str(floor.restaurant.pk)
    room = f"restaurant:{rid}"
    assert await attach(hub, "s1", identity(floor.kitchen))
    stream = hub.rooms[rid].stream
    monkeypatch.setattr(handover, "committed", lambda event: None)  # the test delivers
    order = await db(_draft_with_items)(floor, 1)
    await db(_confirm)(floor, order)
    first, second = [layer_message(e) for e in await db(_outbox)(rid)]

    await asyncio.gather(stream.handle_one(second), stream.handle_one(first))
    await get_channel_layer().group_send(restaurant_group(rid), first)
    await asyncio.sleep(0.2)
    assert [e for e, _ in hub.server.to(room)] == ["order.new", "order.status.changed"]
    assert stream.last_id == 2


async def test_one_stream_per_restaurant_stopped_with_its_last_socket(hub):
    floor_a, floor_b = await db(Floor)("A"), await db(Floor)("B")
    a, b = str(floor_a.restaurant.pk), str(floor_b.restaurant.pk)
    assert await attach(hub, "a1", identity(floor_a.kitchen))
    assert await attach(hub, "a2", identity(floor_a.waiter))
    assert await attach(hub, "b1", identity(floor_b.kitchen))
    assert set(hub.rooms) == {a, b}
    assert {a, b} <= set(streams.restaurants_here())  # heartbeats for both
    stream_a = hub.rooms[a].stream
    channel = stream_a.channel
    layer = get_channel_layer()
    in_memory = type(layer).__name__ == "InMemoryChannelLayer"
    if in_memory:
        assert channel in layer.groups[restaurant_group(a)]

    hub.detach("a1")
    assert hub.rooms[a].stream is stream_a  # a2 still listens
    hub.detach("a2")
    hub.detach("a2")  # idempotent
    await until(lambda: stream_a._task.done())
    assert a not in hub.rooms and a not in streams.restaurants_here()
    assert stream_a.channel is None  # left the group
    if in_memory:
        assert channel not in layer.groups.get(restaurant_group(a), {})

    # Events of A now go nowhere; B's stream still delivers B's.
    order_b = await db(_draft_with_items)(floor_b, 1)
    await db(_confirm)(floor_b, order_b)
    await until(lambda: len(hub.server.to(f"restaurant:{b}")) == 2)
    assert hub.server.to(f"restaurant:{a}") == []


async def test_silent_stream_is_resubscribed_and_what_it_missed_is_filled(hub, settings, monkeypatch):
    settings.WS_HEARTBEAT_INTERVAL = 0.2
    floor = await db(Floor)()
    rid = str(floor.restaurant.pk)
    room = f"restaurant:{rid}"
    assert await attach(hub, "s1", identity(floor.kitchen))
    stream = hub.rooms[rid].stream
    old_channel = stream.channel

    # The layer forgets the stream (a Redis restart): events are published to nobody, and
    # they were committed by another worker (no local hand-over).
    await get_channel_layer().group_discard(restaurant_group(rid), old_channel)
    with monkeypatch.context() as patched:
        patched.setattr(handover, "committed", lambda event: None)
        order = await db(_draft_with_items)(floor, 1)
        await db(_confirm)(floor, order)
    await asyncio.sleep(0.1)
    assert hub.server.to(room) == []

    # Three silent intervals later it subscribes again and fills the gap from the outbox.
    await until(lambda: len(hub.server.to(room)) == 2, timeout=3)
    assert stream.subscriptions == 2 and stream.channel != old_channel
    await until(lambda: stream.listening)  # takes local deliveries again once re-subscribed
    # And live events flow again, once.
    order = await db(_draft_with_items)(floor, 1)
    await db(_confirm)(floor, order)
    await until(lambda: len(hub.server.to(room)) == 4)
    await asyncio.sleep(0.2)
    assert [e for e, _ in hub.server.to(room)] == ["order.new", "order.status.changed"] * 2
    assert stream.last_id == 4


async def test_one_stream_feeds_both_transports(hub):
    """A /ws/events/ socket and a Socket.IO room of one restaurant on one worker share one
    stream: one channel in the group, each event handed to both, once."""
    from .conftest import ready_socket

    floor = await db(Floor)()
    rid = str(floor.restaurant.pk)
    ws, _ = await ready_socket(floor.kitchen)
    assert await attach(hub, "s1", identity(floor.waiter))
    stream = streams.RestaurantStream.registry[rid]
    assert hub.rooms[rid].stream is stream and len(stream.subscribers) == 2
    assert stream.subscriptions == 1
    layer = get_channel_layer()
    if type(layer).__name__ == "InMemoryChannelLayer":
        assert list(layer.groups[restaurant_group(rid)]) == [stream.channel]

    order = await db(_draft_with_items)(floor, 1)
    await db(_confirm)(floor, order)
    sent = await ws.events(2)
    await until(lambda: len(hub.server.to(f"restaurant:{rid}")) == 2)
    assert [(e["event"], e["data"]) for e in sent] == hub.server.to(f"restaurant:{rid}")
    await ws.close()
    hub.detach("s1")
    await until(lambda: stream.stopped)


async def test_logout_closes_that_logins_sockets_and_deactivation_all_of_the_users(hub):
    floor = await db(Floor)()
    assert await attach(hub, "login1", identity(floor.waiter, session_id="one"))
    assert await attach(hub, "login2", identity(floor.waiter, session_id="two"))
    assert await attach(hub, "kitchen", identity(floor.kitchen, session_id="three"))

    publisher.revoke(floor.waiter.pk, session_id="one", reason="Logged out")
    await until(lambda: hub.server.disconnected == ["login1"])
    assert hub.server.to("login1") == [("auth.closed", {"reason": "Logged out"})]
    assert set(hub.sockets) == {"login2", "kitchen"}

    def deactivate():
        user = User.objects.get(pk=floor.waiter.pk)
        user.is_active = False
        user.save()

    await db(deactivate)()  # the receivers revoke after commit
    await until(lambda: hub.server.disconnected == ["login1", "login2"])
    assert hub.server.to("login2") == [("auth.closed", {"reason": "Account changed"})]
    assert set(hub.sockets) == {"kitchen"} and set(hub.users) == {str(floor.kitchen.pk)}


async def test_socket_closed_when_its_token_expires(hub):
    floor = await db(Floor)()
    assert await attach(hub, "short", identity(floor.kitchen, expires_in=0.3))
    assert await attach(hub, "long", identity(floor.kitchen, expires_in=600))
    await until(lambda: hub.server.disconnected == ["short"], timeout=2)
    assert hub.server.to("short") == [("auth.closed", {"reason": "Token expired"})]
    assert set(hub.sockets) == {"long"}


async def test_sockets_whose_engineio_session_vanished_are_reaped(hub):
    floor = await db(Floor)()
    alive = {"s1"}
    hub._is_alive = lambda sid: sid in alive
    assert await attach(hub, "s1", identity(floor.kitchen))
    assert await attach(hub, "s2", identity(floor.waiter))
    hub.reap()
    assert set(hub.sockets) == {"s1"}
    alive.clear()
    hub.reap()
    assert hub.sockets == {} and hub.rooms == {} and hub.users == {}


async def test_token_is_read_as_the_reference_gateway_reads_it():
    read = sio_module.token_from_handshake
    assert read({"HTTP_AUTHORIZATION": "Bearer abc"}, {"token": "def"}) == "abc"  # header first
    assert read({}, {"token": "def"}) == "def"
    assert read({"HTTP_AUTHORIZATION": "Basic abc"}, {"token": "def"}) == "def"
    assert read({"HTTP_AUTHORIZATION": "Basic abc"}, None) is None
    assert read({"HTTP_AUTHORIZATION": "Bearer "}, {}) is None
    assert read({"QUERY_STRING": "token=abc"}, None) is None  # never from the URL
    assert read({}, {"token": 42}) == "42"  # not a JWT: refused as invalid, not as missing


# --- the real server under uvicorn: direct frame writes --------------------------------------------
#
# `restaurant.asgi.application` served by uvicorn in this process (wsproto, as in the bench
# and the Procfile's line), so the module's real `sio` and `hub` run, with uvicorn's real
# transports; clients speak Engine.IO 4 / Socket.IO 5 themselves (websockets, HTTP polling).


import json  # noqa: E402
import urllib.request  # noqa: E402

import uvicorn  # noqa: E402
from websockets.asyncio.client import connect as ws_connect  # noqa: E402

from ..conftest import auth_header  # noqa: E402


@pytest_asyncio.fixture
async def live_uvicorn():
    from restaurant.asgi import application

    config = uvicorn.Config(application, host="127.0.0.1", port=0, ws="wsproto", lifespan="off",
                            log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve())
    await until(lambda: server.started or task.done(), timeout=10)
    assert server.started, task
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"127.0.0.1:{port}"
    server.should_exit = server.force_exit = True  # don't wait out pending long-polls
    await asyncio.wait_for(task, 10)
    await until(lambda: not sio_module.hub.sockets, timeout=5)


def _token(user) -> str:
    return auth_header(user)["HTTP_AUTHORIZATION"][7:]


def record_event(client, args):
    """An EVENT packet's arguments: [name, data, offset]; `ready` is kept apart."""
    name, data, *offset = args
    if name == sio_module.READY_EVENT:
        client.ready.append(data)
    else:
        client.events.append((name, data))
        client.offsets.extend(offset)


class WsClient:
    """Socket.IO over the websocket transport, as `bench/clients.py` and browsers open it."""

    record = record_event

    def __init__(self, ws):
        self.ws = ws
        self.events: list[tuple[str, dict]] = []
        self.offsets: list[str] = []
        self.ready: list[dict] = []
        self.frames: list[str] = []
        self.closed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(cls, host, user):
        ws = await ws_connect(f"ws://{host}/socket.io/?EIO=4&transport=websocket")
        opened = await asyncio.wait_for(ws.recv(), 5)
        assert opened.startswith("0{"), opened
        await ws.send("40" + json.dumps({"token": await db(_token)(user)}))
        client = cls(ws)
        await until(lambda: client.frames, timeout=5)
        assert client.frames[0].startswith('40{"sid":'), client.frames
        client.sid = json.loads(client.frames[0][2:])["sid"]
        return client

    async def _read(self):
        try:
            async for frame in self.ws:
                self.frames.append(frame)
                if frame == "2":
                    await self.ws.send("3")  # Engine.IO pong
                elif frame.startswith("42"):
                    self.record(json.loads(frame[2:]))
        except Exception:  # noqa: BLE001 - closed by the server
            pass
        finally:
            self.closed.set()

    async def close(self):
        await self.ws.close()
        await self._task


class PollingClient:
    """Socket.IO over HTTP long-polling only (no upgrade)."""

    def __init__(self, host):
        self.base = f"http://{host}/socket.io/?EIO=4&transport=polling"
        self.events: list[tuple[str, dict]] = []
        self.offsets: list[str] = []
        self.ready: list[dict] = []
        self.frames: list[str] = []
        self._task = None

    def _request(self, url, body=None):
        request = urllib.request.Request(url, data=body.encode() if body else None, method="POST" if body else "GET")
        if body:
            request.add_header("Content-Type", "text/plain;charset=UTF-8")
        with urllib.request.urlopen(request, timeout=40) as response:
            return response.read().decode()

    @classmethod
    async def open(cls, host, user):
        client = cls(host)
        opened = await asyncio.to_thread(client._request, client.base)
        assert opened.startswith("0{"), opened
        client.url = f"{client.base}&sid={json.loads(opened[1:])['sid']}"
        token = await db(_token)(user)
        assert await asyncio.to_thread(client._request, client.url, "40" + json.dumps({"token": token})) == "OK"
        client._task = asyncio.get_running_loop().create_task(client._poll())
        await until(lambda: client.frames, timeout=5)
        assert client.frames[0].startswith('40{"sid":'), client.frames
        client.sid = json.loads(client.frames[0][2:])["sid"]
        return client

    async def _poll(self):
        while True:
            try:
                body = await asyncio.to_thread(self._request, self.url)
            except Exception:  # noqa: BLE001 - session closed
                return
            for frame in body.split("\x1e"):
                self.frames.append(frame)
                if frame == "2":
                    await asyncio.to_thread(self._request, self.url, "3")
                elif frame.startswith("42"):
                    record_event(self, json.loads(frame[2:]))
                elif frame == "1":
                    return

    async def close(self):
        try:
            await asyncio.to_thread(self._request, self.url, "1")
        except Exception:  # noqa: BLE001
            pass
        self._task.cancel()


async def _commit_orders(floor, count):
    for _ in range(count):
        order = await db(_draft_with_items)(floor, 1)
        await db(_confirm)(floor, order)
    return [(e.name, e.payload) for e in await db(_outbox)(str(floor.restaurant.pk))]


def _jsonable(events):
    return json.loads(json.dumps(events))


FAST = pytest.mark.skipif(not internals.enabled(), reason="the fast path is off (REALTIME_FAST_PATH=0)")


def _counts():
    fast = sio_module.hub.fast
    return (fast.direct_sends, fast.queued_sends) if fast is not None else (0, sio_module.hub.emits)


async def _direct_writers(room, count):
    """Wait for `count` sockets of the room with a direct writer; with the fast path off
    (no direct writers), for every socket of the room to have joined it."""
    fast = sio_module.hub.fast
    if fast is None:
        await until(lambda: all(sio_module.hub.sockets[sid].joined for sid in room.sids))
        return
    await until(lambda: fast.count_in(room.sids) == count)


async def test_websocket_sockets_get_events_written_straight_to_their_transport(live_uvicorn):
    floor = await db(Floor)()
    rid = str(floor.restaurant.pk)
    clients = [await WsClient.open(live_uvicorn, user) for user in (floor.kitchen, floor.waiter)]
    room = sio_module.hub.rooms[rid]
    await _direct_writers(room, 2)
    direct, queued = _counts()

    expected = _jsonable(await _commit_orders(floor, 3))
    assert len(expected) == 6
    for client in clients:
        await until(lambda: len(client.events) >= 6)
    await asyncio.sleep(0.2)
    for client in clients:
        assert [tuple(e) for e in client.events] == [tuple(e) for e in expected]  # payloads, order, once
        assert client.offsets == [str(n) for n in range(1, 7)]  # each event's id as its offset
        assert client.ready == [{"restaurantId": rid, "lastEventId": "0", "recovered": False}]
    if internals.enabled():
        # Every delivery went straight to the transport, none through python-socketio's queue.
        assert _counts() == (direct + 12, queued)
    else:
        assert _counts() == (0, queued + 6)  # one public room emit per event
    for client in clients:
        await client.close()


async def _websocket_and_polling_clients(live_uvicorn):
    """A floor, a kitchen client on the websocket transport (written to directly) and a
    waiter client on long-polling, in one room; and the room."""
    floor = await db(Floor)()
    ws = await WsClient.open(live_uvicorn, floor.kitchen)
    polling = await PollingClient.open(live_uvicorn, floor.waiter)
    room = sio_module.hub.rooms[str(floor.restaurant.pk)]
    await _direct_writers(room, 1)
    await until(lambda: all(sio_module.hub.sockets[sid].joined for sid in room.sids))
    return floor, ws, polling, room


async def test_polling_and_websocket_sockets_in_one_room_each_get_every_event_in_order(live_uvicorn):
    floor, ws, polling, room = await _websocket_and_polling_clients(live_uvicorn)
    direct, queued = _counts()

    expected = _jsonable(await _commit_orders(floor, 3))
    await until(lambda: len(ws.events) >= 6 and len(polling.events) >= 6, timeout=10)
    await asyncio.sleep(0.2)
    assert [tuple(e) for e in ws.events] == [tuple(e) for e in expected]
    assert [tuple(e) for e in polling.events] == [tuple(e) for e in expected]
    assert ws.offsets == polling.offsets == [str(n) for n in range(1, 7)]
    if internals.enabled():
        assert polling.sid not in sio_module.hub.fast.writers
        assert _counts() == (direct + 6, queued + 6)
    await ws.close()
    await polling.close()


@FAST
async def test_event_waits_behind_a_packet_still_in_the_engineio_queue(live_uvicorn):
    """A packet python-socketio queued for the socket (here `auth.closed`-style server emit)
    must reach the client before the next event: that event goes through the queue too."""
    floor = await db(Floor)()
    rid = str(floor.restaurant.pk)
    client = await WsClient.open(live_uvicorn, floor.kitchen)
    room = sio_module.hub.rooms[rid]
    await _direct_writers(room, 1)
    sio, hub = sio_module.hub.server, sio_module.hub
    direct, queued = _counts()

    # Queue a packet and, before the writer task can take it, emit an event to the room.
    await sio.emit("before", {"n": 1}, to=client.sid)
    await hub.emit_event(room, streams.Event(room.stream.last_id, "order.test", {"n": 2}))
    await until(lambda: len(client.events) >= 2)
    assert client.events == [("before", {"n": 1}), ("order.test", {"n": 2})]
    assert _counts() == (direct, queued + 1)
    # Once the queue is drained, the next one is written directly again.
    await asyncio.sleep(0.1)
    await hub.emit_event(room, streams.Event(room.stream.last_id, "order.test", {"n": 3}))
    await until(lambda: len(client.events) >= 3)
    assert client.events[2] == ("order.test", {"n": 3}) and _counts() == (direct + 1, queued + 1)
    await client.close()


@FAST
async def test_socket_too_slow_to_follow_is_disconnected_and_others_keep_receiving(live_uvicorn, monkeypatch):
    floor, slow, polling, room = await _websocket_and_polling_clients(live_uvicorn)
    fast = sio_module.hub.fast
    slow_disconnects = fast.slow_disconnects
    direct, _ = _counts()

    monkeypatch.setattr(internals, "MAX_WRITE_BUFFER", -1)  # every write is over the limit
    expected = _jsonable(await _commit_orders(floor, 1))
    await asyncio.wait_for(slow.closed.wait(), 5)  # the server dropped the connection
    assert slow.events == []
    assert fast.slow_disconnects == slow_disconnects + 1
    await until(lambda: slow.sid not in sio_module.hub.sockets)  # python-socketio's disconnect ran
    await until(lambda: len(polling.events) >= 2)
    assert [tuple(e) for e in polling.events] == [tuple(e) for e in expected]
    assert fast.count_in(room.sids) == 0 and _counts()[0] == direct
    await polling.close()


async def test_lean_engineio_queue_keeps_asyncio_queue_semantics():
    queue = internals.LeanQueue()
    assert not any(type(c).__name__ == "deque"
                   for c in (queue._queue, queue._getters, queue._putters, queue._finished._waiters))
    # A waiting get() is woken by put(), in FIFO order; task_done() releases join().
    waiting = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert queue.empty() and len(queue._getters) == 1
    await queue.put("a")
    queue.put_nowait("b")
    assert await waiting == "a" and queue.get_nowait() == "b" and queue.qsize() == 0
    joined = asyncio.ensure_future(queue.join())
    await asyncio.sleep(0)
    assert not joined.done()
    queue.task_done()
    queue.task_done()
    await asyncio.wait_for(joined, 1)
    # A get() that times out (python-engineio's wait_for) leaves no getter behind.
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(queue.get(), 0.01)
    assert len(queue._getters) == 0
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()


async def test_an_existing_queue_moved_onto_lists_keeps_its_items_and_order():
    queue = asyncio.Queue()
    queue.put_nowait("connect")
    internals.lean_containers(queue)
    assert type(queue._queue).__name__ != "deque"
    waiting = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert waiting.done() and waiting.result() == "connect"
    later = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait("receive")
    assert await later == "receive" and queue.empty()


async def test_live_sessions_use_the_lean_queue_only_on_the_fast_path(live_uvicorn):
    floor = await db(Floor)()
    client = await WsClient.open(live_uvicorn, floor.kitchen)
    polling = await PollingClient.open(live_uvicorn, floor.waiter)
    sessions = sio_module.sio.eio.sockets
    assert len(sessions) >= 2
    fast = internals.enabled()
    assert all(isinstance(session.queue, internals.LeanQueue) == fast for session in sessions.values())
    # Dropped at connect on the fast path; polling reads it.
    assert ("wsgi.input" not in sio_module.sio.get_environ(client.sid)) == fast
    if fast:  # uvicorn's own receive queue and writable event, on lists too
        scope = sio_module.sio.get_environ(client.sid)["asgi.scope"]
        protocol = scope[internals.RAW_SEND_KEY].__self__
        containers = (protocol.queue._queue, protocol.queue._getters, protocol.writable._waiters)
        assert not any(type(c).__name__ == "deque" for c in containers)
    assert "wsgi.input" in sio_module.sio.get_environ(polling.sid)
    await client.close()
    await polling.close()


async def test_ping_timer_sends_what_engineio_would_when_due():
    sent = []

    class Session:
        last_ping = 1.0
        closing = closed = False

        class server:
            ping_interval = 0.05

        async def send(self, pkt):
            sent.append(pkt.packet_type)

    session = Session()
    internals.schedule_ping_by_timer(session)
    assert session.last_ping is None and sent == []
    internals.schedule_ping_by_timer(session)  # a cycle already pending: not scheduled twice
    await asyncio.sleep(0.15)
    from engineio import packet as eio_packet

    assert sent == [eio_packet.PING] and session.last_ping is not None


@FAST
async def test_live_sessions_are_pinged_by_timer_and_stay_open(live_uvicorn, monkeypatch):
    from engineio.async_socket import AsyncSocket

    assert AsyncSocket.schedule_ping is internals.schedule_ping_by_timer
    monkeypatch.setattr(sio_module.sio.eio, "ping_interval", 0.2)
    floor = await db(Floor)()
    client = await WsClient.open(live_uvicorn, floor.kitchen)
    await until(lambda: client.frames.count("2") >= 3, timeout=5)  # pinged, answered, pinged again
    assert not client.closed.is_set()
    room = sio_module.hub.rooms[str(floor.restaurant.pk)]
    await _direct_writers(room, 1)
    expected = _jsonable(await _commit_orders(floor, 1))
    await until(lambda: len(client.events) >= 2)
    assert [tuple(e) for e in client.events] == [tuple(e) for e in expected]
    await client.close()
