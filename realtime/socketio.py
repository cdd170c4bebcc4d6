"""`/socket.io/`: the reference backend's Socket.IO endpoint, a thin subscriber of the streams.

Clients of the NestJS gateway (socket.io-client 4.x, Engine.IO 4 / Socket.IO 5 protocol)
connect unchanged: `auth: {token}` or `Authorization: Bearer <token>`, the socket joins room
`restaurant:<restaurantId>`, and it receives every event by name with the outbox event's
`data` as payload, and its event id as a last (offset) argument.

Per worker, one `Room` per restaurant with Socket.IO clients here subscribes to that
restaurant's stream (realtime.streams, the one `/ws/events/` sockets subscribe to) and
emits each event to the room, encoded once; the stream does dedupe, gap fill, heartbeats
and re-subscription. Revocations come from the user's stream.

Connection state recovery (socket.io-client 4.6+, realtime.recovery): a client that
reconnects with its `pid` and `offset`, to any worker, gets every event after `offset` from
the outbox, in order, before any live one (`Hub.join`). Then every socket gets
`ready` `{restaurantId, lastEventId, recovered}` with `lastEventId` as offset, so a client
that has seen no event yet can still recover (socket.io#5538). Recovery works any number of
times in a row and however long the socket lived: it rests on the outbox.

Sockets close when their token expires and when their login is revoked (logout, user
deactivated or moved): before closing, the server emits `auth.closed` `{"reason": ...}`.
"""

from __future__ import annotations

import asyncio
import logging
import time

import socketio

from . import internals
from . import loop as realtime_loop
from .auth import AuthRefused, SocketIdentity, authenticate_token, origin_allowed
from .recovery import ConnectAnswer, new_pid, recoverable_offset
from .streams import RestaurantStream, UserStream, events_after

logger = logging.getLogger(__name__)

NAMESPACE = "/"
# Emitted to a socket right before the server disconnects it: {"reason": "Token expired"}.
CLOSED_EVENT = "auth.closed"
# Sent at every connect, after any recovered events, carrying an offset (socket.io#5538).
READY_EVENT = "ready"
NO_TOKEN = "No token provided"
INVALID_TOKEN = "Invalid token"


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


# --- this worker's sockets ---------------------------------------------------------------------


class Room:
    """The restaurant's stream, emitted to its Socket.IO room on this worker."""

    __slots__ = ("hub", "restaurant_id", "name", "sids", "stream")

    def __init__(self, hub: "Hub", restaurant_id: str):
        self.hub = hub
        self.restaurant_id = restaurant_id
        self.name = room_name(restaurant_id)
        self.sids: set[str] = set()  # attached sockets (in the room once joined)
        self.stream = RestaurantStream.get(restaurant_id)
        self.stream.add(self)

    def push(self, event):
        return self.hub.emit_event(self, event)


class _UserSockets:
    __slots__ = ("hub", "user_id", "sids", "stream")

    def __init__(self, hub: "Hub", user_id: str):
        self.hub = hub
        self.user_id = user_id
        self.sids: set[str] = set()
        self.stream = UserStream.get(user_id)
        self.stream.add(self)

    def revoked(self, message: dict) -> None:
        self.hub.revoked(self, message)


def _leave(subscriptions: dict, key: str, sid: str) -> None:
    """`sid` leaves a room or user subscription; the last one out unsubscribes it."""
    subscription = subscriptions.get(key)
    if subscription is not None:
        subscription.sids.discard(sid)
        if not subscription.sids:
            del subscriptions[key]
            subscription.stream.remove(subscription)


class _Local:
    __slots__ = ("identity", "timer", "joined")

    def __init__(self, identity: SocketIdentity, timer: asyncio.TimerHandle | None):
        self.identity = identity
        self.timer = timer  # token expiry: a TimerHandle, far smaller than a Task per socket
        self.joined = False


class Hub:
    """This worker's Socket.IO sockets, their rooms' and users' stream subscriptions."""

    READY_TIMEOUT = 10.0

    def __init__(self, server, is_alive=None, fast_path=None):
        self.server = server
        self.rooms: dict[str, Room] = {}
        self.users: dict[str, _UserSockets] = {}
        self.sockets: dict[str, _Local] = {}
        self.fast = fast_path  # realtime.internals.SocketIOFastPath, or None
        self._is_alive = is_alive or self._session_open
        self._background: set[asyncio.Task] = set()
        self._reaper: asyncio.Task | None = None
        self.emits = 0  # room emits through python-socketio's public emit

    async def attach(self, sid: str, identity: SocketIdentity) -> bool:
        """Subscribe `sid` to its restaurant's and user's streams. False if they could not
        be set up in time (the connection is then refused)."""
        loop = asyncio.get_running_loop()
        realtime_loop.bind(loop)
        if self._reaper is None or self._reaper.done():
            self._reaper = loop.create_task(self._reap_forever())
        restaurant_id, user_id = identity.restaurant_id, identity.user_id
        room = self.rooms.get(restaurant_id)
        if room is None or room.stream.stopped:
            room = self.rooms[restaurant_id] = Room(self, restaurant_id)
        user = self.users.get(user_id)
        if user is None or user.stream.stopped:
            user = self.users[user_id] = _UserSockets(self, user_id)
        room.sids.add(sid)
        user.sids.add(sid)
        timer = None
        if identity.expires_at is not None:
            timer = loop.call_later(max(0.0, identity.expires_at - time.time()), self._expired, sid)
        self.sockets[sid] = _Local(identity, timer)
        try:
            await asyncio.wait_for(
                asyncio.gather(room.stream.ready.wait(), user.stream.ready.wait()), self.READY_TIMEOUT
            )
        except asyncio.TimeoutError:
            pass
        except BaseException:
            self.detach(sid)
            raise
        if room.stream.failed is None and user.stream.failed is None and room.stream.ready.is_set() \
                and user.stream.ready.is_set():
            return True
        logger.warning("socket.io: event stream of restaurant %s not ready; refusing", restaurant_id)
        self.detach(sid)
        return False

    async def recovery(self, identity: SocketIdentity, auth) -> tuple[int, str, bool]:
        """(the event id the socket has, the pid to answer, recovered?) for a socket about
        to connect: the client's own pid and offset when they can be recovered
        (realtime.recovery), else the head of this worker's stream and a new pid."""
        restaurant_id = identity.restaurant_id
        offset = await recoverable_offset(restaurant_id, auth)
        if offset is not None:
            return offset, auth["pid"], True
        room = self.rooms.get(restaurant_id)  # gone only if the socket went meanwhile
        head = room.stream.last_id if room is not None else 0
        return head, new_pid(restaurant_id), False

    async def join(self, sid: str, after: int, recovered: bool, writer=None) -> None:
        """Once the CONNECT answer is queued: send `sid` every event after `after`, then
        `ready`, then put it in the room, where live events reach it. The room's stream is
        held while it catches up the last stretch, so nothing is sent twice or skipped."""
        local = self.sockets.get(sid)
        if local is None:
            return
        room = self.rooms[local.identity.restaurant_id]
        stream = room.stream
        while stream.last_id is not None and after < stream.last_id:  # most of it, unlocked
            batch = await events_after(room.restaurant_id, after)
            if sid not in self.sockets or not batch:
                break
            after = await self._send_each(sid, batch)
        async with stream.serial:
            if sid not in self.sockets:
                return
            await stream.catch_up(after)  # the client may be ahead of this worker's stream
            while after < stream.last_id:
                batch = await events_after(room.restaurant_id, after)
                if not batch:
                    break
                after = await self._send_each(sid, batch)
            await self.server.emit(
                READY_EVENT,
                ({"restaurantId": room.restaurant_id, "lastEventId": str(after), "recovered": recovered},
                 str(after)),
                to=sid, namespace=NAMESPACE,
            )
            await self.server.enter_room(sid, room.name, namespace=NAMESPACE)
            local.joined = True
            if writer is not None and self.fast is not None:
                self.fast.enable(sid, writer)  # behind what is queued: see _writer_idle

    async def _send_each(self, sid, events) -> int:
        for event in events:
            await self.server.emit(event.name, (event.data, str(event.id)), to=sid, namespace=NAMESPACE)
        return events[-1].id

    async def emit_event(self, room: Room, event) -> None:
        if self.fast is not None and self.fast.count_in(room.sids):
            await self.fast.emit(room.name, NAMESPACE, [event.name, event.data, str(event.id)], event)
        else:
            await self.server.emit(event.name, (event.data, str(event.id)), to=room.name, namespace=NAMESPACE)
            self.emits += 1

    def detach(self, sid: str) -> None:
        """Forget `sid`; unsubscribe its room and user when it was their last. Idempotent."""
        ConnectAnswer.pids.pop(sid, None)
        if self.fast is not None:
            self.fast.forget(sid)
        local = self.sockets.pop(sid, None)
        if local is None:
            return
        if local.timer is not None:
            local.timer.cancel()
        _leave(self.rooms, local.identity.restaurant_id, sid)
        _leave(self.users, local.identity.user_id, sid)

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

    def revoked(self, user: _UserSockets, message: dict) -> None:
        session_id = message.get("session_id")
        reason = message.get("reason") or "Session ended"
        for sid in list(user.sids):
            local = self.sockets.get(sid)
            if local and (session_id is None or local.identity.session_id == session_id):
                self.spawn(self.close(sid, reason))

    def spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _expired(self, sid: str) -> None:
        self.spawn(self.close(sid, "Token expired"))

    # --- sockets python-socketio lost track of -------------------------------------------------

    def _session_open(self, sid: str) -> bool:
        return self.server.get_environ(sid, namespace=NAMESPACE) is not None

    def reap(self) -> None:
        """A client that vanishes while its connect handler runs gets no disconnect event:
        forget sockets whose session is gone, so their subscriptions stop."""
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
    serializer=ConnectAnswer,
    logger=False,
    engineio_logger=False,
)
_fast = internals.SocketIOFastPath(sio) if internals.enabled() else None
if _fast is not None:
    _fast.install()
hub = Hub(sio, fast_path=_fast)


@sio.event
async def connect(sid, environ, auth=None):
    realtime_loop.bind(asyncio.get_running_loop())
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
    if not await hub.attach(sid, identity):
        raise socketio.exceptions.ConnectionRefusedError("Event stream unavailable; retry")
    try:
        after, pid, recovered = await hub.recovery(identity, auth)
    except BaseException:
        hub.detach(sid)
        raise
    if sid not in hub.sockets:
        return False  # it went while we checked
    ConnectAnswer.pids[sid] = pid
    writer = hub.fast.connected(sid, environ) if hub.fast is not None else None
    # Runs once python-socketio has queued the CONNECT answer, right after this returns.
    asyncio.get_running_loop().call_soon(
        lambda: hub.spawn(hub.join(sid, after, recovered, writer))
    )


@sio.event
async def disconnect(sid, reason=None):
    hub.detach(sid)


def socketio_application(other_asgi_app):
    """`/socket.io/` (HTTP long-polling and websocket) to Socket.IO, the rest to `other_asgi_app`."""
    return socketio.ASGIApp(sio, other_asgi_app=other_asgi_app, socketio_path="socket.io")
