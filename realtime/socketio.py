"""`/socket.io/`: the reference backend's Socket.IO endpoint, fed by the same outbox.

Clients of the NestJS gateway (socket.io-client 4.x, Engine.IO 4 / Socket.IO 5 protocol)
connect unchanged: `auth: {token}` or `Authorization: Bearer <token>`, the socket joins room
`restaurant:<restaurantId>`, and it receives `order.new`, `order.status.changed` and
`order.item.status.changed` by name, with the `data` of the outbox events as payload.

Where events come from. Nothing here publishes: per worker, one `Bridge` per restaurant that
has Socket.IO clients on that worker subscribes one channel to the restaurant's channel
layer group (the group `/ws/events/` sockets join) and emits each committed event to the
room, encoded once for all its sockets. Like `EventsConsumer`, a bridge sends in id order
exactly once: it drops ids it has sent, fills gaps from the outbox, catches up when a
heartbeat names a newer head, and re-subscribes (new channel, fill from the outbox) when
its stream has been silent for three heartbeat intervals.

Sockets close when their token expires and when their login is revoked (logout, user
deactivated or moved): `publisher.revoke` sends `auth.revoked` to group `user.<id>`, which
one listener per user with sockets on this worker receives. Before closing, the server
emits `auth.closed` `{"reason": ...}` (the plain WebSocket's close reasons).

Delivery to a socket on the websocket transport skips python-socketio's per-socket writer
task: the event's WebSocket frame is built once and written straight to the socket's
transport (see `Bridge._emit` and docs/socketio.md), whenever nothing sent earlier to that
socket may still be waiting in its Engine.IO queue. Everything else (polling, upgraded
sessions, queued packets, servers without a direct writer) takes python-socketio's path.

Polling sessions live in one worker's memory: behind several workers, a load balancer must
keep a client's polling requests on one worker (sticky sessions), or clients must use the
websocket transport only.
"""

from __future__ import annotations

import asyncio
import logging
import time

import socketio
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from . import selectors
from .auth import AuthRefused, SocketIdentity, authenticate_token, origin_allowed
from .consumers import direct_writer, ws_text_frame
from .events import restaurant_group, user_group
from .publisher import RAW_SEND_KEY, publisher

logger = logging.getLogger(__name__)

NAMESPACE = "/"
# Emitted to a socket right before the server disconnects it: {"reason": "Token expired"}.
CLOSED_EVENT = "auth.closed"
NO_TOKEN = "No token provided"
INVALID_TOKEN = "Invalid token"
BATCH = 500

_events_after = database_sync_to_async(selectors.events_after)
_event_head = database_sync_to_async(selectors.event_head)


def room_name(restaurant_id) -> str:
    return f"restaurant:{restaurant_id}"


def token_from_handshake(environ: dict, auth) -> str | None:
    """The reference gateway's rule: `Authorization: Bearer` first, then `auth.token`.

    Tokens in the URL are never read."""
    header = environ.get("HTTP_AUTHORIZATION") or ""
    if header.startswith("Bearer ") and header[7:].strip():
        return header[7:].strip()
    if isinstance(auth, dict) and auth.get("token"):
        token = auth["token"]
        return token if isinstance(token, str) else str(token)  # not a JWT: refused as invalid
    return None


def cors_origin_allowed(origin, environ) -> bool:
    """Engine.IO's Origin check (every handshake, polling or websocket) and its CORS
    headers, with the plain WebSocket's rule: same host, or listed in WS_ALLOWED_ORIGINS."""
    return bool(origin) and origin_allowed(origin, environ.get("HTTP_HOST"))


async def _quietly(awaitable):
    try:
        await awaitable
    except Exception:  # noqa: BLE001 - best-effort cleanup (Redis may be down)
        logger.debug("socket.io cleanup step failed", exc_info=True)


def _group_expiry(layer) -> float | None:
    return getattr(layer, "group_expiry", None) or None


class _Waiters(list):
    """The part of a deque's API asyncio.Queue and asyncio.Event use on their waiters, on a
    list: an empty deque allocates a 64-slot block (~760 bytes); these hold a few items."""

    __slots__ = ()

    def popleft(self):
        return self.pop(0)


class _LeanQueue(asyncio.Queue):
    """python-engineio's per-session packet queue (unbounded, via `eio.create_queue`), with
    lists instead of its four deques (items, getters, putters, `join()` waiters): about
    2.8 KiB less per socket. Same asyncio.Queue code; only the containers differ."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._getters = _Waiters()
        self._putters = _Waiters()
        self._finished._waiters = _Waiters()

    def _init(self, maxsize):
        self._queue = _Waiters()

    def _get(self):
        return self._queue.pop(0)


def _writer_idle(socket) -> bool:
    """True when nothing sent to this Engine.IO websocket session can still be on its way
    through python-engineio: the session is open on the websocket transport, its queue is
    empty, and its writer task is parked in `queue.get()` (a pending getter). A packet the
    writer has taken but not yet written leaves no getter, so it reads as busy."""
    if socket.closing or socket.closed or socket.upgrading or not socket.upgraded:
        return False
    queue = socket.queue
    if queue.qsize():
        return False
    getters = getattr(queue, "_getters", None)  # asyncio.Queue: futures of waiting get()s
    return bool(getters) and not getters[-1].done()


class _UserListener:
    """Receives `auth.revoked` for one user who has Socket.IO clients on this worker.

    One channel per user: the layer's message does not name the user, its group does."""

    def __init__(self, hub: "Hub", user_id: str):
        self.hub = hub
        self.user_id = user_id
        self.group = user_group(user_id)
        self.sids: set[str] = set()
        self.channel: str | None = None
        self.ready = asyncio.Event()
        self._stopped = False
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self):
        layer = get_channel_layer()
        while True:
            channel = None
            try:
                channel = await layer.new_channel()
                await layer.group_add(self.group, channel)
                self.channel = channel
                self.ready.set()
                while True:
                    message = await layer.receive(channel)
                    if message.get("type") == "auth.revoked":
                        self.hub.revoked(self.user_id, message)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis away: subscribe again shortly
                logger.warning("socket.io: user %s listener failed; retrying", self.user_id, exc_info=True)
                await asyncio.sleep(1.0)
            finally:
                if channel is not None:
                    await _quietly(layer.group_discard(self.group, channel))

    async def rejoin(self):
        if self.channel is not None:
            await _quietly(get_channel_layer().group_add(self.group, self.channel))

    def stop(self):
        if not self._stopped:
            self._stopped = True
            self._task.cancel()


class Bridge:
    """One restaurant's event stream on this worker, emitted to its Socket.IO room."""

    def __init__(self, hub: "Hub", restaurant_id: str):
        self.hub = hub
        self.restaurant_id = restaurant_id
        self.room = room_name(restaurant_id)
        self.group = restaurant_group(restaurant_id)
        self.sids: set[str] = set()
        self.last_id: int | None = None  # id of the last event emitted to the room
        self.channel: str | None = None
        self.subscriptions = 0  # how many times it has (re)subscribed
        self.last_heard = time.monotonic()
        # Per-socket deliveries: frames written to the transport, packets handed to
        # python-socketio (its queue and writer task).
        self.direct_sends = 0
        self.queued_sends = 0
        self.local_deliveries = 0  # events handed over by this worker's publisher
        # One message at a time, whether it came from the layer or from the publisher.
        self._serial = asyncio.Lock()
        self.ready = asyncio.Event()
        self._stopped = False
        self._task = asyncio.get_running_loop().create_task(self._run())

    @property
    def direct(self) -> int:
        """Sockets of this room with a direct writer."""
        sockets = self.hub.sockets
        return sum(
            1 for sid in self.sids
            if (local := sockets.get(sid)) is not None and local.writer is not None
        )

    def stop(self):
        if not self._stopped:
            self._stopped = True
            publisher.remove_local_sink(self.restaurant_id, self)
            self._task.cancel()

    # --- subscription ---------------------------------------------------------------------

    async def _run(self):
        layer = get_channel_layer()
        while True:
            try:
                await self._subscribe(layer)
            except asyncio.CancelledError:
                await _quietly(self._leave(layer))
                raise
            except Exception:  # noqa: BLE001 - Redis or the database away: try again
                logger.warning("socket.io: restaurant %s could not subscribe; retrying",
                               self.restaurant_id, exc_info=True)
                await _quietly(self._leave(layer))
                await asyncio.sleep(1.0)
                continue
            self.ready.set()
            # last_id is known: events committed in this worker come straight from the
            # publisher from now on (their layer copies are then dropped by id).
            if not self._stopped:
                publisher.add_local_sink(self.restaurant_id, self)
            receiver = asyncio.get_running_loop().create_task(self._receive(layer, self.channel))
            try:
                await self._watch(layer, receiver)
            finally:
                publisher.remove_local_sink(self.restaurant_id, self)
                receiver.cancel()
                await asyncio.gather(receiver, return_exceptions=True)
                await _quietly(self._leave(layer))
            if receiver.done() and not receiver.cancelled() and receiver.exception() is not None:
                await asyncio.sleep(1.0)  # the layer failed under us: don't spin

    async def _subscribe(self, layer):
        """Join before reading the head: an event committed meanwhile is then either at or
        below the head or in the channel, never in neither."""
        channel = await layer.new_channel()
        self.channel = channel
        await layer.group_add(self.group, channel)
        self.subscriptions += 1
        self.last_heard = time.monotonic()
        head = await _event_head(self.restaurant_id)
        if self.last_id is None:
            self.last_id = head
        else:
            # A re-subscription: what the silent stream lost is in the outbox.
            await self.hub.rejoin_users()
            async with self._serial:  # a local delivery may still be running
                if head > self.last_id:
                    await self._fill()

    async def _leave(self, layer):
        channel, self.channel = self.channel, None
        if channel is not None:
            await layer.group_discard(self.group, channel)

    async def _watch(self, layer, receiver: asyncio.Task):
        """Returns when the stream must be re-subscribed: the receiver failed, or nothing
        (no event, no heartbeat) arrived for three heartbeat intervals."""
        interval = settings.WS_HEARTBEAT_INTERVAL
        expiry = _group_expiry(layer)
        tick = interval if interval > 0 else 60.0
        if expiry:
            tick = min(tick, max(1.0, expiry / 2))
        joined = time.monotonic()
        while True:
            await asyncio.wait({receiver}, timeout=tick)
            if receiver.done():
                return
            now = time.monotonic()
            if interval > 0 and now - self.last_heard > 3 * interval:
                logger.warning("socket.io: event stream of restaurant %s went silent; re-subscribing",
                               self.restaurant_id)
                return
            if expiry and now - joined > expiry / 2:
                # channels-redis forgets group members after group_expiry.
                await _quietly(layer.group_add(self.group, self.channel))
                joined = now

    # --- delivery ---------------------------------------------------------------------------

    async def _receive(self, layer, channel: str):
        while True:
            message = await layer.receive(channel)
            self.last_heard = time.monotonic()
            await self._handle_serially(message)

    async def deliver_local(self, message: dict):
        """The publisher's sink: an event committed in this worker, before its layer copy."""
        if self._stopped:
            return
        self.local_deliveries += 1
        await self._handle_serially(message)

    async def _handle_serially(self, message: dict):
        try:
            async with self._serial:
                await self._handle(message)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - database away: the next heartbeat fills the gap
            logger.warning("socket.io: restaurant %s could not deliver %s", self.restaurant_id,
                           message.get("type"), exc_info=True)

    async def _handle(self, message: dict):
        kind = message.get("type")
        if kind == "outbox.event":
            event_id = message["id"]
            if event_id <= self.last_id:
                return  # already emitted (publishing is at least once)
            if event_id > self.last_id + 1:
                return await self._fill()  # a gap: the outbox has it, and this one
            await self._emit(event_id, message["event"], message["data"])
        elif kind == "stream.heartbeat":
            if message.get("head", 0) > self.last_id:
                await self._fill()  # an event never reached us

    async def _fill(self):
        """Emit every committed event after `last_id`, in order, from the outbox."""
        while True:
            batch = await _events_after(self.restaurant_id, self.last_id, BATCH)
            for event in batch:
                await self._emit(event.seq, event.name, event.payload)
            if len(batch) < BATCH:
                return

    async def _emit(self, event_id: int, name: str, data: dict):
        if self.direct:
            await self._emit_direct(name, data)
        else:
            await self.hub.server.emit(name, data, to=self.room, namespace=NAMESPACE)
            self.queued_sends += len(self.sids)
        self.last_id = event_id

    async def _emit_direct(self, name: str, data: dict):
        """What python-socketio's room emit sends, encoded once: the WebSocket frame is
        written to each idle websocket session's transport; the Engine.IO packet goes through
        python-socketio (`eio.send_packet`, the call its emit makes) for every other socket."""
        hub, server = self.hub, self.hub.server
        encoded = server.packet_class(sio_packet.EVENT, namespace=NAMESPACE, data=[name, data]).encode()
        if isinstance(encoded, list):  # binary attachments: never for JSON payloads
            await server.emit(name, data, to=self.room, namespace=NAMESPACE)
            self.queued_sends += len(self.sids)
            return
        pkt = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        frame = None
        sessions = server.eio.sockets
        for sid, eio_sid in server.manager.get_participants(NAMESPACE, self.room):  # a copy
            local = hub.sockets.get(sid)
            writer = local.writer if local is not None else None
            if writer is not None:
                session = sessions.get(eio_sid)
                if session is not None and _writer_idle(session):
                    if frame is None:
                        frame = ws_text_frame(pkt.encode().encode())
                    written = writer.write(frame)
                    if written:
                        self.direct_sends += 1
                        continue
                    if written is False:
                        hub.too_slow(sid)
                        continue
            await server.eio.send_packet(eio_sid, pkt)
            self.queued_sends += 1


class _Local:
    __slots__ = ("identity", "timer", "writer")

    def __init__(self, identity: SocketIdentity, timer: asyncio.TimerHandle | None):
        self.identity = identity
        self.timer = timer  # token expiry: a TimerHandle, far smaller than a Task per socket
        self.writer = None  # direct writer to the socket's transport, once usable


class Hub:
    """This worker's Socket.IO sockets, their restaurants' bridges and users' listeners."""

    READY_TIMEOUT = 10.0

    def __init__(self, server, is_alive=None):
        self.server = server
        self.bridges: dict[str, Bridge] = {}
        self.users: dict[str, _UserListener] = {}
        self.sockets: dict[str, _Local] = {}
        self._is_alive = is_alive or self._engineio_session_open
        self._background: set[asyncio.Task] = set()
        self._reaper: asyncio.Task | None = None
        self.slow_disconnects = 0

    async def attach(self, sid: str, identity: SocketIdentity) -> bool:
        """Start delivering to `sid` (already in its room). False if the stream could not
        be set up in time (the connection is then refused)."""
        loop = asyncio.get_running_loop()
        publisher.bind_loop(loop)
        if self._reaper is None or self._reaper.done():
            self._reaper = loop.create_task(self._reap_forever())
        restaurant_id, user_id = identity.restaurant_id, identity.user_id
        bridge = self.bridges.get(restaurant_id)
        if bridge is None:
            bridge = self.bridges[restaurant_id] = Bridge(self, restaurant_id)
        listener = self.users.get(user_id)
        if listener is None:
            listener = self.users[user_id] = _UserListener(self, user_id)
        bridge.sids.add(sid)
        listener.sids.add(sid)
        timer = None
        if identity.expires_at is not None:
            timer = loop.call_later(max(0.0, identity.expires_at - time.time()), self._expired, sid)
        self.sockets[sid] = _Local(identity, timer)
        publisher.socket_opened(restaurant_id)
        try:
            await asyncio.wait_for(
                asyncio.gather(bridge.ready.wait(), listener.ready.wait()), self.READY_TIMEOUT
            )
        except asyncio.TimeoutError:
            logger.warning("socket.io: event stream of restaurant %s not ready; refusing", restaurant_id)
            self.detach(sid)
            return False
        except BaseException:
            self.detach(sid)
            raise
        return True

    def detach(self, sid: str) -> None:
        """Forget `sid`; stop its bridge and listener when it was their last socket. Idempotent."""
        local = self.sockets.pop(sid, None)
        if local is None:
            return
        if local.timer is not None:
            local.timer.cancel()
        identity = local.identity
        publisher.socket_closed(identity.restaurant_id)
        bridge = self.bridges.get(identity.restaurant_id)
        if bridge is not None:
            bridge.sids.discard(sid)
            if not bridge.sids:
                del self.bridges[identity.restaurant_id]
                bridge.stop()
        listener = self.users.get(identity.user_id)
        if listener is not None:
            listener.sids.discard(sid)
            if not listener.sids:
                del self.users[identity.user_id]
                listener.stop()

    async def close(self, sid: str, reason: str) -> None:
        """Tell the client why, then disconnect it (its client will not auto-reconnect)."""
        if sid not in self.sockets:
            return
        try:
            await self.server.emit(CLOSED_EVENT, {"reason": reason}, to=sid, namespace=NAMESPACE)
            await self.server.disconnect(sid, namespace=NAMESPACE)
        except Exception:  # noqa: BLE001 - already gone
            logger.debug("socket.io: closing %s failed", sid, exc_info=True)
        finally:
            self.detach(sid)

    def revoked(self, user_id: str, message: dict) -> None:
        session_id = message.get("session_id")
        reason = message.get("reason") or "Session ended"
        listener = self.users.get(user_id)
        for sid in list(listener.sids if listener else ()):
            local = self.sockets.get(sid)
            if local and (session_id is None or local.identity.session_id == session_id):
                self._spawn(self.close(sid, reason))

    async def rejoin_users(self) -> None:
        for listener in list(self.users.values()):
            await listener.rejoin()

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _expired(self, sid: str) -> None:
        self._spawn(self.close(sid, "Token expired"))

    # --- direct writes ---------------------------------------------------------------------------

    def enable_direct(self, sid: str, writer) -> None:
        """Let the bridge write `sid`'s frames to its transport. Called once python-socketio
        has queued the CONNECT answer, so no event can overtake it."""
        local = self.sockets.get(sid)
        if local is None or local.writer is not None:
            return
        bridge = self.bridges.get(local.identity.restaurant_id)
        if bridge is None or sid not in bridge.sids:
            return
        local.writer = writer

    def too_slow(self, sid: str) -> None:
        """Its unsent output passed the limit: drop the connection instead of buffering
        without bound. The connection is reset, so python-engineio sees the websocket end
        and python-socketio runs its disconnect (our `disconnect` detaches the socket); the
        client sees "transport close" and reconnects (Socket.IO has no resume)."""
        local = self.sockets.get(sid)
        if local is None or local.writer is None:
            return
        writer, local.writer = local.writer, None
        self.slow_disconnects += 1
        logger.warning("socket.io: %s is too slow to follow its events; disconnecting", sid)
        writer.abort()  # a TCP reset: a FIN would queue behind the unread backlog

    # --- sockets python-socketio lost track of -------------------------------------------------

    def _engineio_session_open(self, sid: str) -> bool:
        eio_sid = self.server.manager.eio_sid_from_sid(sid, NAMESPACE)
        return eio_sid is not None and eio_sid in self.server.eio.sockets

    def reap(self) -> None:
        """A client that vanishes while its connect handler runs gets no disconnect event:
        forget sockets whose Engine.IO session is gone, so their bridges stop."""
        for sid in list(self.sockets):
            if not self._is_alive(sid):
                self.detach(sid)

    async def _reap_forever(self):
        while self.sockets:
            await asyncio.sleep(30.0)
            self.reap()


sio = socketio.AsyncServer(
    async_mode="asgi",
    # Every handshake's Origin is checked by Engine.IO itself with the plain WebSocket's
    # rule; allowed cross-origin pages get CORS headers for polling, never credentials
    # (authentication is by token, not cookie).
    cors_allowed_origins=cors_origin_allowed,
    cors_credentials=False,
    transports=["polling", "websocket"],
    logger=False,
    engineio_logger=False,
)
sio.eio.create_queue = _LeanQueue  # the hook python-engineio creates each session's queue with
hub = Hub(sio)


@sio.event
async def connect(sid, environ, auth=None):
    publisher.bind_loop(asyncio.get_running_loop())
    origin = environ.get("HTTP_ORIGIN")
    if origin and not origin_allowed(origin, environ.get("HTTP_HOST")):
        raise socketio.exceptions.ConnectionRefusedError("Origin not allowed")  # Engine.IO refused it first
    token = token_from_handshake(environ, auth)
    if token is None:
        raise socketio.exceptions.ConnectionRefusedError(NO_TOKEN)
    try:
        identity = await authenticate_token(token)
    except AuthRefused as refused:
        # The reference's two messages for token problems; a database outage is not one.
        raise socketio.exceptions.ConnectionRefusedError(
            refused.reason if refused.retryable else INVALID_TOKEN
        ) from None
    await sio.enter_room(sid, room_name(identity.restaurant_id), namespace=NAMESPACE)
    if not await hub.attach(sid, identity):
        raise socketio.exceptions.ConnectionRefusedError("Event stream unavailable; retry")
    # A socket that connected on the websocket transport (not upgraded from polling): its
    # handshake environ is the websocket request's, whose scope holds the server's send.
    scope = environ.get("asgi.scope")
    if scope is not None and scope.get("type") == "websocket":
        # This environ lives as long as the session (python-socketio keeps it, and so does
        # python-engineio's request frame). Its request-body reader, an instance of a class
        # python-engineio defines per request (~2.7 KiB), is only read by polling POSTs,
        # which bring environs of their own: a websocket session never reads it.
        environ.pop("wsgi.input", None)
        writer = direct_writer(scope.get(RAW_SEND_KEY))
        if writer is not None:
            # After python-socketio queues its CONNECT answer, right after this returns.
            asyncio.get_running_loop().call_soon(hub.enable_direct, sid, writer)


@sio.event
async def disconnect(sid, reason=None):
    hub.detach(sid)


def socketio_application(other_asgi_app):
    """`/socket.io/` (HTTP long-polling and websocket) to Socket.IO, the rest to `other_asgi_app`."""
    return socketio.ASGIApp(sio, other_asgi_app=other_asgi_app, socketio_path="socket.io")
