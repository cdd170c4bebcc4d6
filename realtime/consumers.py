"""`/ws/events/`: a thin relay from the restaurant's event stream to its sockets.

A socket authenticates, registers with its restaurant's stream on this worker, replays what
the client missed, and gets events in id order exactly once: duplicates (at-least-once
publishing) are dropped and gaps (a message the channel layer dropped, or events published
by another worker first) are filled from the event log. It writes nothing to the database.

Fan-out. Per worker, one `RestaurantStream` per restaurant with sockets here subscribes one
channel to the restaurant's channel-layer group and hands each event to every local socket,
like Socket.IO's room broadcast: the event is received, checked and encoded once, not once
per socket, and a gap is filled from the outbox once for all sockets. Where the ASGI server
lets us reach the socket's transport (uvicorn's `websockets` implementation, daphne), the
pre-encoded WebSocket frame is written to it directly; otherwise (tests, other servers) it
goes through the ASGI `send` like any message. Measured in bench/ (BENCHMARKS.md).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import socket
import struct
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer
from django.conf import settings

from . import selectors
from .auth import AuthRefused, SocketIdentity, authenticate_token
from .events import restaurant_group, user_group, wire_frame
from .publisher import RAW_SEND_KEY, publisher

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_STREAM_INTERRUPTED = 4503
# A socket whose unsent output passes this is too slow to follow: it is closed (4503) and
# resumes from its last id, instead of the worker buffering without bound.
MAX_WRITE_BUFFER = 1 << 20
BATCH = 500
_replay_window = database_sync_to_async(selectors.replay_window)
_events_after = database_sync_to_async(selectors.events_after)
_event_head = database_sync_to_async(selectors.event_head)


def _parse_event_id(value) -> int | None:
    if value is None or value == "":
        return None
    try:
        parsed = int(str(value))
    except ValueError:
        return None
    return parsed if parsed >= 0 else None


def ws_text_frame(payload: bytes) -> bytes:
    """An unmasked, final WebSocket text frame (RFC 6455 5.2): what a server sends. Also
    valid under permessage-deflate, where a frame without RSV1 is an uncompressed message."""
    length = len(payload)
    if length < 126:
        return bytes((0x81, length)) + payload
    if length < 65536:
        return bytes((0x81, 126)) + length.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + length.to_bytes(8, "big") + payload


# --- direct writers: the socket's transport, where the server exposes it ----------------------


def reset_connection(transport) -> None:
    """Cut the connection now, backlog and all: a TCP reset (SO_LINGER 0), not a FIN that
    would queue behind data the client is not reading and keep the kernel's buffers."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass  # already gone
    transport.abort()


class _TransportWriter:
    """uvicorn's protocols: frames go straight to the protocol's asyncio transport."""

    __slots__ = ("protocol", "transport")

    def __init__(self, protocol):
        self.protocol = protocol
        self.transport = protocol.transport

    def _closing(self) -> bool:
        raise NotImplementedError

    def write(self, frame: bytes) -> bool | None:
        """True: written. None: closing, skip. False: too far behind."""
        if self._closing() or self.transport.is_closing():
            return None
        if self.transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            return False
        self.transport.write(frame)
        return True

    def abort(self) -> None:
        reset_connection(self.transport)


class _WebsocketsWriter(_TransportWriter):
    """uvicorn's `websockets` implementation: the ASGI send is a method of the protocol."""

    __slots__ = ()

    def _closing(self) -> bool:
        return not self.protocol.open


class _UvicornSansIOWriter(_TransportWriter):
    """uvicorn's `wsproto` and `websockets-sansio` implementations: protocol objects with a
    transport and a `close_sent` flag, whose sends go straight to `transport.write`."""

    __slots__ = ()

    def _closing(self) -> bool:
        return self.protocol.close_sent


_UVICORN_SANS_IO = {
    "uvicorn.protocols.websockets.wsproto_impl",
    "uvicorn.protocols.websockets.websockets_sansio_impl",
}


class _DaphneWriter:
    """daphne: the ASGI send is `partial(server.handle_reply, protocol)` (autobahn)."""

    __slots__ = ("protocol", "server")

    def __init__(self, server, protocol):
        self.server = server
        self.protocol = protocol

    def write(self, frame: bytes) -> bool | None:
        protocol = self.protocol
        if protocol.state != protocol.STATE_OPEN or protocol.transport is None:
            return None
        connection = self.server.connections.get(protocol)
        if connection is None or connection.get("disconnected"):
            return None
        protocol.transport.write(frame)
        return True

    def abort(self) -> None:
        if self.protocol.transport is not None:
            self.protocol.transport.abortConnection()  # Twisted: a reset, too


def direct_writer(raw_send):
    """A writer of pre-encoded frames for this socket, or None (use the ASGI send)."""
    if raw_send is None:
        return None
    protocol = getattr(raw_send, "__self__", None)
    if protocol is not None and type(protocol).__module__ in _UVICORN_SANS_IO:
        if hasattr(protocol, "close_sent") and getattr(protocol, "transport", None) is not None:
            return _UvicornSansIOWriter(protocol)
        return None
    if protocol is not None and getattr(raw_send, "__name__", "") == "asgi_send":
        try:
            from websockets.legacy.protocol import WebSocketCommonProtocol
        except ImportError:  # pragma: no cover
            return None
        if isinstance(protocol, WebSocketCommonProtocol) and getattr(protocol, "transport", None) is not None:
            return _WebsocketsWriter(protocol)
        return None
    if isinstance(raw_send, functools.partial) and getattr(raw_send.func, "__name__", "") == "handle_reply":
        server = getattr(raw_send.func, "__self__", None)
        protocol = raw_send.args[0] if raw_send.args else None
        if server is not None and hasattr(server, "connections") and hasattr(protocol, "STATE_OPEN"):
            return _DaphneWriter(server, protocol)
    return None


# --- this worker's subscriptions, shared by its sockets --------------------------------------


class _LocalGroup:
    """One channel of this worker in a channel-layer group, on behalf of local sockets."""

    registry: dict  # key -> instance, per subclass

    @classmethod
    def get(cls, key: str):
        found = cls.registry.get(key)
        if found is None or found.stopped:
            found = cls.registry[key] = cls(key)
        return found

    def __init__(self, key: str, group: str):
        self.key = key
        self.group = group
        self.sockets: dict[EventsConsumer, None] = {}  # insertion-ordered set
        self.channel: str | None = None
        self.ready = asyncio.Event()
        self.failed: BaseException | None = None
        self.stopped = False
        self.last_heard = time.monotonic()
        self._serial = asyncio.Lock()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def add(self, socket: "EventsConsumer") -> None:
        self.sockets[socket] = None

    def remove(self, socket: "EventsConsumer") -> None:
        self.sockets.pop(socket, None)
        if not self.sockets and self.ready.is_set():
            self.stop()

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            if self.registry.get(self.key) is self:
                del self.registry[self.key]
            self._stopped()
            self._task.cancel()

    def _stopped(self) -> None:
        """When it stops, before its task is cancelled."""

    async def _subscribed(self) -> None:
        """After joining, before sockets are told the subscription is ready."""

    def _extra_tasks(self) -> list:
        return []

    def _listening(self) -> None:
        """Subscribed, with sockets waiting: messages flow from now on."""

    async def _run(self):
        layer = get_channel_layer()
        try:
            self.channel = await layer.new_channel()
            await layer.group_add(self.group, self.channel)
            await self._subscribed()
        except Exception as error:  # noqa: BLE001 - Redis away: sockets waiting are refused
            self.failed = error
            self.ready.set()
            self.stop()
            return
        self.last_heard = time.monotonic()
        self.ready.set()
        if not self.sockets:
            self.stop()
            return
        self._listening()
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(self._receive(layer)), *self._extra_tasks()]
        expiry = getattr(layer, "group_expiry", None)
        if expiry:
            tasks.append(loop.create_task(self._keep_membership(layer, expiry)))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            try:
                await asyncio.shield(layer.group_discard(self.group, self.channel))
            except BaseException:  # noqa: BLE001 - best effort (Redis may be down)
                logger.debug("leaving %s failed", self.group, exc_info=True)

    async def _keep_membership(self, layer, expiry):
        # channels-redis forgets group members after group_expiry: re-join well before.
        while True:
            await asyncio.sleep(max(1.0, expiry / 2))
            try:
                await layer.group_add(self.group, self.channel)
            except Exception:  # noqa: BLE001 - Redis away: the stream watch handles it
                logger.warning("re-joining %s failed", self.group, exc_info=True)

    async def _receive(self, layer):
        while True:
            message = await layer.receive(self.channel)
            self.last_heard = time.monotonic()
            await self._handle_one(message)

    async def _handle_one(self, message: dict) -> None:
        # One message at a time, whichever way it came (the layer, or this worker's commits).
        async with self._serial:
            try:
                await self._handle(message)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - database away: the next heartbeat fills the gap
                logger.warning("%s: could not handle %s", self.group, message.get("type"), exc_info=True)

    async def _handle(self, message: dict) -> None:
        raise NotImplementedError


class UserListener(_LocalGroup):
    """A user's `auth.revoked` (logout, deactivation), for the user's sockets on this worker."""

    registry: dict = {}

    def __init__(self, user_id: str):
        super().__init__(user_id, user_group(user_id))

    async def _handle(self, message: dict) -> None:
        if message.get("type") == "auth.revoked":
            for socket in list(self.sockets):
                socket.revoked(message)


class RestaurantStream(_LocalGroup):
    """Receives a restaurant's events once per worker and fans them out to its sockets."""

    registry: dict = {}

    def __init__(self, restaurant_id: str):
        self.restaurant_id = restaurant_id
        self.last_id: int | None = None  # highest event id handed to the sockets
        super().__init__(restaurant_id, restaurant_group(restaurant_id))

    async def _subscribed(self) -> None:
        try:
            self.last_id = await _event_head(self.restaurant_id)
        except Exception:  # noqa: BLE001 - database away: sockets fill their own gaps
            logger.warning("restaurant %s: could not read the event head", self.restaurant_id, exc_info=True)

    def _listening(self) -> None:
        publisher.add_local_sink(self.restaurant_id, self)

    def _stopped(self) -> None:
        publisher.remove_local_sink(self.restaurant_id, self)

    async def deliver_local(self, message: dict) -> None:
        """An event committed in this worker, before the channel layer brings it back."""
        if not self.stopped:
            await self._handle_one(message)

    def _extra_tasks(self) -> list:
        if settings.WS_HEARTBEAT_INTERVAL > 0:
            return [asyncio.get_running_loop().create_task(self._watch())]
        return []

    async def _watch(self):
        """No event and no heartbeat for three intervals: the stream broke under us (Redis
        restarted). Close the sockets (4503) so that their clients resume; the next socket
        starts a fresh subscription."""
        interval = settings.WS_HEARTBEAT_INTERVAL
        while True:
            await asyncio.sleep(interval)
            if time.monotonic() - self.last_heard > 3 * interval:
                logger.warning("event stream of restaurant %s went silent; closing its sockets", self.restaurant_id)
                self.stop()
                for socket in list(self.sockets):
                    socket.stream_interrupted()
                return

    async def _handle(self, message: dict) -> None:
        kind = message.get("type")
        if kind == "outbox.event":
            await self._event(message)
        elif kind == "stream.heartbeat":
            if self.last_id is not None and message.get("head", 0) > self.last_id:
                await self._fill()  # an event never reached us

    # --- delivery --------------------------------------------------------------------------

    async def _event(self, message: dict):
        event_id = message["id"]
        if self.last_id is not None:
            if event_id <= self.last_id:
                return  # already handed out (publishing is at least once)
            if event_id > self.last_id + 1:
                return await self._fill()  # a gap: the outbox has it, and this one
        await self._fan_out(event_id, message["frame"])

    async def _fill(self):
        """Hand out every committed event after `last_id`, in order, from the outbox."""
        while True:
            batch = await _events_after(self.restaurant_id, self.last_id, BATCH)
            for event in batch:
                await self._fan_out(event.seq, wire_frame(event.seq, event.name, event.payload))
            if len(batch) < BATCH:
                return

    async def _fan_out(self, event_id: int, text: str):
        self.last_id = event_id
        frame = ws_text_frame(text.encode())
        slow = None
        for socket in list(self.sockets):
            pending = socket.push(event_id, text, frame)
            if pending is not None:
                if slow is None:
                    slow = []
                slow.append(pending)
        if slow:
            await asyncio.gather(*slow)


class EventsConsumer(AsyncWebsocketConsumer):
    identity: SocketIdentity | None = None
    last_id: int | None = None  # id of the last event this socket has been sent
    stream: RestaurantStream | None = None
    listener: UserListener | None = None
    _writer = None
    _replaying = False
    _expiry: asyncio.TimerHandle | None = None
    _tasks: list | None = None
    groups = ()  # channels joins these per socket; ours are joined once per worker

    async def __call__(self, scope, receive, send):
        """Channels' loop minus what a socket here does not use: no channel-layer channel of
        its own (its restaurant's and its user's messages reach it through the worker's
        RestaurantStream and UserListener), so one pending `receive` per idle socket instead
        of a channel, a queue and two tasks."""
        self.scope = scope
        self.channel_layer = None
        self.channel_name = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message):
        # Channels' default dispatch first hops to a thread to close stale database
        # connections, before every message. This relay's queries go through
        # database_sync_to_async, which does that itself, so messages skip the hop.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- lifecycle ---------------------------------------------------------------------------

    async def connect(self):
        publisher.bind_loop(asyncio.get_running_loop())
        await self.accept()
        if self.scope.get("auth_error"):
            return await self._refuse(
                self.scope["auth_error"], retryable=self.scope.get("auth_retryable", False)
            )
        identity = self.scope.get("identity")
        if identity is not None:
            return await self._start(identity, self.scope.get("last_event_id"))
        self._spawn(self._auth_deadline())

    async def disconnect(self, code):
        identity = self.identity
        logger.info(
            "socket disconnected code=%s userId=%s restaurantId=%s", code,
            identity.user_id if identity else "-", identity.restaurant_id if identity else "-",
        )
        for task in self._tasks or ():
            task.cancel()
        if self._expiry is not None:
            self._expiry.cancel()
        self._leave_stream()
        if self.listener is not None:
            self.listener.remove(self)
            self.listener = None
        if self.identity is not None:
            publisher.socket_closed(self.identity.restaurant_id)

    async def _refuse(self, reason: str, *, retryable: bool = False):
        # 1013 "Try Again Later" when the refusal is ours (database down), not the client's.
        await self.close(code=CLOSE_TRY_AGAIN_LATER if retryable else CLOSE_UNAUTHENTICATED, reason=reason)

    async def _auth_deadline(self):
        await asyncio.sleep(settings.WS_AUTH_TIMEOUT)
        if self.identity is None:
            await self._refuse("No token provided")

    def _spawn(self, coroutine):
        task = asyncio.get_running_loop().create_task(coroutine)
        if self._tasks is None:
            self._tasks = []
        self._tasks = [t for t in self._tasks if not t.done()]
        self._tasks.append(task)
        return task

    async def _start(self, identity: SocketIdentity, last_event_id):
        self.identity = identity
        logger.info(
            "socket connected userId=%s restaurantId=%s via=%s", identity.user_id,
            identity.restaurant_id, identity.method,
        )
        publisher.socket_opened(identity.restaurant_id)
        # Register before reading the head: an event committed meanwhile is then either in
        # the replay or handed to us by the stream, never in neither.
        stream = RestaurantStream.get(identity.restaurant_id)
        stream.add(self)
        self.stream = stream
        listener = UserListener.get(identity.user_id)
        listener.add(self)
        self.listener = listener
        await stream.ready.wait()
        await listener.ready.wait()
        if stream.failed is not None or listener.failed is not None:
            return self.stream_interrupted()
        head = await _event_head(identity.restaurant_id)
        await self._send_json(
            {"type": "ready", "restaurantId": identity.restaurant_id, "lastEventId": str(head)}
        )
        self._writer = direct_writer(self.scope.get(RAW_SEND_KEY))
        after = _parse_event_id(last_event_id)
        self.last_id = head
        if after is not None:
            await self._replay(after)
        if identity.expires_at is not None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, identity.expires_at - time.time())
            self._expiry = loop.call_later(delay, self._expired)

    def _expired(self):
        self._spawn(self._refuse("Token expired"))

    def _leave_stream(self) -> None:
        if self.stream is not None:
            self.stream.remove(self)
            self.stream = None

    def stream_interrupted(self):
        self._leave_stream()
        self._spawn(self.close(code=CLOSE_STREAM_INTERRUPTED, reason="Event stream interrupted; resume"))

    def fell_behind(self, writer) -> None:
        """Over MAX_WRITE_BUFFER unsent: the client stopped reading. Its connection is cut
        (a close frame would queue behind the backlog, and the server's own close waits for
        the backlog to drain); the client reconnects and resumes from its last id."""
        logger.warning(
            "socket fell %d bytes behind; dropping it userId=%s restaurantId=%s", MAX_WRITE_BUFFER,
            self.identity.user_id if self.identity else "-",
            self.identity.restaurant_id if self.identity else "-",
        )
        self._writer = None
        self._leave_stream()
        writer.abort()

    def revoked(self, message: dict):
        """`auth.revoked` for this socket's user (from the worker's UserListener)."""
        session_id = message.get("session_id")
        if session_id is None or (self.identity and self.identity.session_id == session_id):
            self._spawn(self._refuse(message.get("reason") or "Session ended"))

    # --- from the client -----------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        try:
            message = json.loads(text_data) if text_data is not None else None
        except ValueError:
            message = None
        if not isinstance(message, dict):
            return await self._send_json({"type": "error", "detail": "Send JSON objects."})
        kind = message.get("type")
        if self.identity is None:
            if kind != "auth":
                return await self._refuse("No token provided")
            token = message.get("token")
            if not isinstance(token, str) or not token:
                return await self._refuse("No token provided")
            try:
                identity = await authenticate_token(token)
            except AuthRefused as refused:
                return await self._refuse(refused.reason, retryable=refused.retryable)
            return await self._start(identity, message.get("lastEventId"))
        if kind == "resume":
            after = _parse_event_id(message.get("lastEventId"))
            if after is None:
                return await self._send_json({"type": "error", "detail": "lastEventId must be an event id."})
            return await self._replay(after)
        if kind == "ping":
            return await self._send_json({"type": "pong"})
        if kind == "auth":
            return await self._send_json({"type": "error", "detail": "Already authenticated."})
        await self._send_json({"type": "error", "detail": f"Unknown message type {kind!r}."})

    # --- from this worker's restaurant stream --------------------------------------------------

    def push(self, event_id: int, text: str, frame: bytes):
        """Hand this socket an event. Returns None when done, or an awaitable for the slow
        paths (an ASGI send, a gap to fill)."""
        last = self.last_id
        if last is None or self._replaying or event_id <= last:
            return None  # not ready yet or replaying (it catches up itself), or already sent
        if event_id > last + 1:
            return self._replay(last)  # a gap: fill it from the log
        writer = self._writer
        if writer is not None:
            written = writer.write(frame)
            if written:
                self.last_id = event_id
            elif written is False:
                self.fell_behind(writer)
            return None
        return self._send_event(event_id, text)

    async def _send_event(self, event_id: int, text: str):
        await self.send(text_data=text)
        self.last_id = event_id

    # --- replay ------------------------------------------------------------------------------

    async def _replay(self, after: int):
        """Send every event after `after`, in order, or `resync` if they are gone; then
        catch up with whatever the stream handed out meanwhile."""
        if self._replaying:
            return
        self._replaying = True
        try:
            window = await _replay_window(self.identity.restaurant_id, after)
            if window is None:
                self.last_id = await _event_head(self.identity.restaurant_id)
                return await self._send_json({"type": "resync"})
            while True:
                head, batch = window
                while batch:
                    for event in batch:
                        await self.send(text_data=wire_frame(event.seq, event.name, event.payload))
                    after = batch[-1].seq
                    batch = await _events_after(self.identity.restaurant_id, after) if after < head else []
                self.last_id = max(self.last_id or 0, after)
                stream = self.stream
                if stream is None or stream.last_id is None or stream.last_id <= self.last_id:
                    return
                window = (stream.last_id, await _events_after(self.identity.restaurant_id, self.last_id))
                after = self.last_id
        finally:
            self._replaying = False

    async def _send_json(self, payload: dict):
        await self.send(text_data=json.dumps(payload, separators=(",", ":")))
