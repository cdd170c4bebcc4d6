"""Every use of a server's or library's non-public attributes, in one place, behind one switch.

`settings.REALTIME_FAST_PATH` (env `REALTIME_FAST_PATH`, default on). With it off, nothing
here is used: the consumers speak plain Channels (a channel and a receive loop per socket)
and ASGI `send`, and Socket.IO delivers through python-socketio's public `emit`; the
realtime, Socket.IO and hardening suites pass in both modes (.ci/run runs them twice).
tests/realtime/test_internals.py fails if any other module touches these attributes.

What each part relies on, on which version, and what it buys (BENCHMARKS.md, bench/):

1. `lean_consumer_call` / `dispatch_without_db_hop`: Channels 4.3 `AsyncConsumer.__call__`
   internals (`channel_layer`, `channel_name`, `base_send`). A `/ws/events/` socket gets
   its restaurant's and user's messages from the worker's streams, so it needs no channel of
   its own: one pending ASGI `receive` per idle socket instead of a channel, a queue and two
   tasks, and no thread hop per message to close stale database connections.
2. `direct_writer`: uvicorn 0.54 protocol objects behind the ASGI `send` (wsproto and
   websockets-sansio: `protocol.transport`, `protocol.close_sent`; websockets (legacy):
   `asgi_send.__self__`, `protocol.open`, `protocol.transport`). An event's WebSocket frame
   is built once and written straight to each socket's asyncio transport: at 1,000 sockets
   uvicorn's per-socket send path (a task switch and a frame encode per socket) was most of
   the worker's time. Flow control is kept: a socket whose transport buffer holds more
   than `MAX_WRITE_BUFFER` unsent is not written past; it is reset and its client resumes.
   daphne gets no direct writer: Twisted exposes no buffer size to respect.
3. `SocketIOFastPath`: python-engineio 4.15 sessions (`eio.sockets`, `socket.queue`,
   `socket.upgraded`/`upgrading`/`closing`/`closed`, `eio.send_packet`) and python-socketio
   5.18 `manager.get_participants`. python-socketio's room emit queues a packet per socket
   and its writer task sends it (a task per message in `asyncio.wait_for`); the fast path
   writes the encoded frame to each idle websocket session's transport instead, and queues
   for the others (polling, upgraded, busy), so a socket's packets never change order.
   `_writer_idle` reads asyncio.Queue's `_getters` (CPython 3.11) to know the writer task
   is parked in `queue.get()` with nothing in flight.
4. `LeanQueue` installed as `eio.create_queue`: asyncio.Queue (CPython 3.11) with lists
   instead of its four deques (`_queue`, `_getters`, `_putters`, `_finished._waiters`):
   about 2.8 KiB less per Socket.IO session.
5. `drop_request_body`: python-engineio keeps a websocket session's handshake environ for
   its whole life; its `wsgi.input` (a per-request class instance, ~2.7 KiB) is only read
   by polling POSTs, which bring their own environs.
6. `server_websocket` (from the outermost ASGI wrapper, realtime.loop): keeps the server's
   own `send` in the scope for `direct_writer`, and gives uvicorn 0.54's wsproto and
   websockets-sansio protocols (`protocol.queue`, an asyncio.Queue, and `protocol.writable`,
   an asyncio.Event) lists instead of their five deques, on both endpoints: idle Socket.IO
   socket 34.4 -> 31.0 KiB RSS at 3,000 (bench --quick), 31.0 KiB at 10,000.
7. `schedule_ping_by_timer` replaces python-engineio 4.15's `AsyncSocket.schedule_ping`
   (which starts a task per session that sleeps `ping_interval`, then sends a PING) with a
   `loop.call_later` handle that queues the same PING when due: a TimerHandle per idle
   session instead of a task, its coroutine and `asyncio.sleep`'s frame and future (idle
   Socket.IO socket 35.4 -> 34.4 KiB RSS at 3,000, bench --quick).
8. `SharedClientRedisCache`: Django 5.2's Redis cache builds a new `redis.Redis` client (and
   its table of ~170 response callbacks) for every cache call (`RedisCacheClient.get_client`,
   `_client`, `_get_connection_pool`), and its cache objects are per thread and per ASGI
   request context (`django.core.cache.caches`), so under ASGI every request (each in a
   thread of its own) opened a new Redis connection, with redis-py's CLIENT SETINFO round
   trips, for its one cache call (restaurant.tenancy's `get_many`). This one keeps one
   client object per process and configuration (`RedisCache._cache`, `_class`) and one
   `redis.Redis` per connection pool: redis-py clients and pools are thread-safe, each
   command borrowing a pooled connection. Wired as the cache `BACKEND` in
   restaurant/settings.py while the switch is on.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time

from django.conf import settings

# Where `server_websocket` leaves the server's own ASGI `send` of a WebSocket.
RAW_SEND_KEY = "realtime.server_send"
# A socket whose unsent output passes this is too slow to follow: it is reset and resumes
# from its last id, instead of the worker buffering without bound.
MAX_WRITE_BUFFER = 1 << 20


def enabled() -> bool:
    return settings.REALTIME_FAST_PATH


# --- 1. Channels: a consumer without a channel of its own -------------------------------------


async def lean_consumer_call(consumer, scope, receive, send):
    """Channels' `AsyncConsumer.__call__` minus the channel: the ASGI messages only."""
    from channels.exceptions import StopConsumer

    consumer.scope = scope
    consumer.channel_layer = None
    consumer.channel_name = None
    consumer.base_send = send
    try:
        while True:
            await dispatch_without_db_hop(consumer, await receive())
    except StopConsumer:
        pass


async def dispatch_without_db_hop(consumer, message):
    # Channels' dispatch first hops to a thread to close stale database connections before
    # every message; our queries go through database_sync_to_async, which does that itself.
    from channels.consumer import get_handler_name

    handler = getattr(consumer, get_handler_name(message), None)
    if handler is None:
        raise ValueError(f"No handler for message type {message['type']}")
    await handler(message)


# --- 2. direct writers: the socket's transport, where the server exposes it --------------------


def ws_text_frame(payload: bytes) -> bytes:
    """An unmasked, final WebSocket text frame (RFC 6455 5.2): what a server sends. Also
    valid under permessage-deflate, where a frame without RSV1 is an uncompressed message."""
    length = len(payload)
    if length < 126:
        return bytes((0x81, length)) + payload
    if length < 65536:
        return bytes((0x81, 126)) + length.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + length.to_bytes(8, "big") + payload


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
    __slots__ = ("protocol", "transport")

    def __init__(self, protocol):
        self.protocol = protocol
        self.transport = protocol.transport

    def _closing(self) -> bool:
        raise NotImplementedError

    def write(self, frame: bytes) -> bool | None:
        """True: written. None: closing, skip. False: too far behind (flow control)."""
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
    """uvicorn's `wsproto` and `websockets-sansio` implementations."""

    __slots__ = ()

    def _closing(self) -> bool:
        return self.protocol.close_sent


_UVICORN_SANS_IO = {
    "uvicorn.protocols.websockets.wsproto_impl",
    "uvicorn.protocols.websockets.websockets_sansio_impl",
}


def direct_writer(raw_send):
    """A writer of pre-encoded frames for this socket, or None (use the ASGI send)."""
    if raw_send is None or not enabled():
        return None
    protocol = getattr(raw_send, "__self__", None)
    if protocol is None:
        return None
    if type(protocol).__module__ in _UVICORN_SANS_IO:
        if hasattr(protocol, "close_sent") and getattr(protocol, "transport", None) is not None:
            return _UvicornSansIOWriter(protocol)
        return None
    if getattr(raw_send, "__name__", "") == "asgi_send":
        try:
            from websockets.legacy.protocol import WebSocketCommonProtocol
        except ImportError:  # pragma: no cover
            return None
        if isinstance(protocol, WebSocketCommonProtocol) and getattr(protocol, "transport", None) is not None:
            return _WebsocketsWriter(protocol)
    return None


def server_websocket(scope: dict, receive, send) -> None:
    """A WebSocket as the server hands it over, before any middleware wraps it."""
    if not enabled():
        return
    scope[RAW_SEND_KEY] = send  # in place: a copy of the scope per socket costs memory
    protocol = getattr(receive, "__self__", None)
    if protocol is not None and type(protocol).__module__ in _UVICORN_SANS_IO:
        queue, writable = getattr(protocol, "queue", None), getattr(protocol, "writable", None)
        if type(queue) is asyncio.Queue:
            lean_containers(queue)
        if type(writable) is asyncio.Event and not writable._waiters:
            writable._waiters = _Waiters()


def writer_for(scope: dict):
    """The direct writer of a socket's frames, or None (the ASGI send then)."""
    return direct_writer(scope.get(RAW_SEND_KEY))


def frame_of(event) -> bytes:
    """The WebSocket frame of an event's plain-WebSocket text, once per event."""
    return event.encoded("ws", lambda e: ws_text_frame(e.text.encode()))


# --- 3-5. python-engineio / python-socketio ------------------------------------------------------


class _Waiters(list):
    """The part of a deque's API asyncio.Queue and asyncio.Event use on their waiters, on a
    list: an empty deque allocates a 64-slot block (~760 bytes); these hold a few items."""

    __slots__ = ()

    def popleft(self):
        return self.pop(0)


def lean_containers(queue: asyncio.Queue) -> None:
    """An existing asyncio.Queue, nobody waiting on it yet, onto lists."""
    if queue._getters or queue._putters or queue._finished._waiters:
        return
    queue._queue = _Waiters(queue._queue)
    queue._getters = _Waiters()
    queue._putters = _Waiters()
    queue._finished._waiters = _Waiters()


class LeanQueue(asyncio.Queue):
    """python-engineio's per-session packet queue, with lists instead of deques."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._getters = _Waiters()
        self._putters = _Waiters()
        self._finished._waiters = _Waiters()

    def _init(self, maxsize):
        self._queue = _Waiters()


_pings: set[asyncio.Task] = set()


def schedule_ping_by_timer(session) -> None:
    """python-engineio's `AsyncSocket.schedule_ping`, with a timer instead of a task."""
    if session.last_ping:
        session.last_ping = None
        asyncio.get_running_loop().call_later(session.server.ping_interval, _ping_due, session)


def _ping_due(session) -> None:
    # What python-engineio's `_send_ping` does once its sleep is over.
    if not session.closing and not session.closed:
        from engineio import packet as eio_packet

        session.last_ping = time.time()
        task = asyncio.ensure_future(session.send(eio_packet.Packet(eio_packet.PING)))
        _pings.add(task)
        task.add_done_callback(_pings.discard)


def drop_request_body(environ: dict) -> None:
    environ.pop("wsgi.input", None)


def _writer_idle(session) -> bool:
    """True when nothing sent to this Engine.IO websocket session can still be on its way
    through python-engineio: open on the websocket transport, its queue empty, and its
    writer task parked in `queue.get()` (a pending getter). A packet the writer has taken
    but not yet written leaves no getter, so it reads as busy."""
    if session.closing or session.closed or session.upgrading or not session.upgraded:
        return False
    queue = session.queue
    if queue.qsize():
        return False
    getters = getattr(queue, "_getters", None)
    return bool(getters) and not getters[-1].done()


class SocketIOFastPath:
    """Direct frame writes to a python-socketio server's idle websocket sessions."""

    def __init__(self, server):
        self.server = server
        self.writers: dict[str, object] = {}  # sid -> direct writer
        self.direct_sends = 0
        self.queued_sends = 0
        self.slow_disconnects = 0

    def install(self) -> None:
        """At server creation, when enabled: lean per-session queues and ping timers."""
        from engineio.async_socket import AsyncSocket

        self.server.eio.create_queue = LeanQueue
        AsyncSocket.schedule_ping = schedule_ping_by_timer

    def connected(self, sid: str, environ: dict):
        """A socket connected: the writer to enable once its CONNECT answer is queued, or
        None. Only sessions that connected on the websocket transport have one: their
        handshake environ is the websocket request's, whose scope holds the server's send."""
        scope = environ.get("asgi.scope")
        if scope is None or scope.get("type") != "websocket":
            return None
        drop_request_body(environ)
        return direct_writer(scope.get(RAW_SEND_KEY))

    def enable(self, sid: str, writer) -> None:
        self.writers[sid] = writer

    def forget(self, sid: str) -> None:
        self.writers.pop(sid, None)

    def count_in(self, sids) -> int:
        return sum(1 for sid in sids if sid in self.writers)

    async def emit(self, room: str, namespace: str, args: list, event) -> None:
        """What python-socketio's room emit sends, encoded once: the frame is written to
        each idle websocket session's transport; the Engine.IO packet goes through
        `eio.send_packet` (the call python-socketio's emit makes) for every other socket."""
        from engineio import packet as eio_packet
        from socketio import packet as sio_packet

        server = self.server
        encoded = event.encoded(
            "sio", lambda e: server.packet_class(sio_packet.EVENT, namespace=namespace, data=args).encode()
        )
        if isinstance(encoded, list):  # binary attachments: never for JSON payloads
            await server.emit(args[0], tuple(args[1:]), to=room, namespace=namespace)
            self.queued_sends += 1
            return
        pkt = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        frame = None
        sessions = server.eio.sockets
        for sid, eio_sid in server.manager.get_participants(namespace, room):  # a copy
            writer = self.writers.get(sid)
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
                        self.too_slow(sid)
                        continue
            await server.eio.send_packet(eio_sid, pkt)
            self.queued_sends += 1

    def too_slow(self, sid: str) -> None:
        """Its unsent output passed the limit: reset the connection instead of buffering
        without bound; python-engineio sees the websocket end and python-socketio runs its
        disconnect. The client reconnects (and recovers, see realtime.socketio)."""
        writer = self.writers.pop(sid, None)
        if writer is not None:
            self.slow_disconnects += 1
            writer.abort()  # a TCP reset: a FIN would queue behind the unread backlog


# --- 8. Django's Redis cache: one client per connection pool ---------------------------------


from django.core.cache.backends.redis import RedisCache, RedisCacheClient  # noqa: E402
from django.utils.functional import cached_property  # noqa: E402


class _SharedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients_by_pool: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients_by_pool.get(id(pool))
        if client is None:  # a race here builds a spare client, harmless
            client = self._clients_by_pool[id(pool)] = self._client(connection_pool=pool)
        return client


class SharedClientRedisCache(RedisCache):
    _clients: dict = {}  # (servers, options) -> the process' one client object

    @cached_property  # per cache object (Django's are per thread): looked up once, not per call
    def _cache(self):
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        client = self._clients.get(key)
        if client is None:  # a race here builds a spare, harmless
            client = self._clients[key] = _SharedClientRedisCacheClient(self._servers, **self._options)
        return client
