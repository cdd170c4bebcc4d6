"""`/ws/events/`: a thin subscriber of the restaurant's event stream on this worker.

A socket authenticates, subscribes to its restaurant's and its user's streams
(realtime.streams: one per worker, shared by every socket and by Socket.IO), replays what
the client missed, and gets events in id order exactly once. The stream drops duplicates
and fills its gaps; the socket only keeps its own place (`last_id`) across its replay. It
writes nothing to the database.

Where the fast path is on (realtime.internals) and the ASGI server lets us reach the
socket's transport (uvicorn), the event's pre-encoded WebSocket frame is written to it
directly; otherwise it goes through the ASGI `send`, queued per socket
(realtime.outgoing), so that a client that stops reading never stalls the others.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from . import internals, screen_watch, selectors
from . import loop as realtime_loop
from .auth import AuthRefused, SocketIdentity, authenticate_token
from .messages import wire_frame
from .outgoing import Outgoing
from .streams import RestaurantStream, UserStream

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_STREAM_INTERRUPTED = 4503
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


class EventsConsumer(AsyncWebsocketConsumer):
    identity: SocketIdentity | None = None
    last_id: int | None = None  # id of the last event this socket has been sent
    stream: RestaurantStream | None = None
    listener: UserStream | None = None
    _writer = None
    _outgoing: Outgoing | None = None
    _replaying = False
    _expiry: asyncio.TimerHandle | None = None
    _tasks: list | None = None
    screen_id = None  # the kitchen screen this socket is, once it named itself
    groups = ()  # channels joins these per socket; the worker's streams join them once

    async def __call__(self, scope, receive, send):
        if internals.enabled():
            return await internals.lean_consumer_call(self, scope, receive, send)
        return await super().__call__(scope, receive, send)

    # --- lifecycle ---------------------------------------------------------------------------

    async def connect(self):
        realtime_loop.bind(asyncio.get_running_loop())
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
        if self._outgoing is not None:
            self._outgoing.drop()
        if self.listener is not None:
            self.listener.remove(self)
            self.listener = None
        if self.screen_id is not None:
            await screen_watch.detach(self.screen_id)

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
        # Register before reading the head: an event committed meanwhile is then either in
        # the replay or handed to us by the stream, never in neither.
        stream = RestaurantStream.get(identity.restaurant_id)
        stream.add(self)
        self.stream = stream
        listener = UserStream.get(identity.user_id)
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
        self._writer = internals.writer_for(self.scope)
        self._outgoing = Outgoing(self._send_text)
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

    def fell_behind(self) -> None:
        """Too much unsent (1 MiB in the transport, 4 MiB queued): the client stopped
        reading. With a direct writer its connection is cut (a close frame would queue behind
        the backlog, and the server's own close waits for the backlog to drain); otherwise it
        is closed (4503) once the server takes the close, and meanwhile nothing more is
        queued for it. Either way the client reconnects and resumes from its last id."""
        logger.warning(
            "socket fell behind; dropping it userId=%s restaurantId=%s",
            self.identity.user_id if self.identity else "-",
            self.identity.restaurant_id if self.identity else "-",
        )
        writer, self._writer = self._writer, None
        self._leave_stream()
        self._outgoing.drop()
        if writer is not None:
            writer.abort()
        else:
            self._spawn(self.close(code=CLOSE_STREAM_INTERRUPTED, reason="Fell behind; resume"))

    def revoked(self, message: dict):
        """`auth.revoked` for this socket's user (from the worker's UserStream)."""
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
        if kind == "screen":
            return await screen_watch.name_screen(self, message)
        if kind == "ack":
            return await screen_watch.acknowledge(self, message)
        if kind == "auth":
            return await self._send_json({"type": "error", "detail": "Already authenticated."})
        await self._send_json({"type": "error", "detail": f"Unknown message type {kind!r}."})

    # --- from this worker's restaurant stream --------------------------------------------------

    def push(self, event) -> None:
        """The stream hands this socket an event; it never waits for the socket."""
        last = self.last_id
        event_id = event.id
        if last is None or self._replaying or event_id <= last:
            return None  # not ready yet or replaying (it catches up itself), or already sent
        if event_id > last + 1:
            self._spawn(self._replay(last))  # a gap: fill it from the log
            return None
        writer = self._writer
        if writer is not None and self._outgoing.idle():
            written = writer.write(internals.frame_of(event))
            if written:
                self.last_id = event_id
            elif written is False:
                self.fell_behind()
            return None
        self.last_id = event_id
        if not self._outgoing.put(event.text):
            self.fell_behind()
        return None

    # --- replay ------------------------------------------------------------------------------

    async def _replay(self, after: int):
        """Queue every event after `after`, in order, or `resync` if they are gone; then
        catch up with whatever the stream handed out meanwhile."""
        if self._replaying or self._outgoing is None:
            return
        self._replaying = True
        put = self._outgoing.put_paced
        try:
            window = await _replay_window(self.identity.restaurant_id, after)
            if window is None:
                self.last_id = await _event_head(self.identity.restaurant_id)
                return await put(json.dumps({"type": "resync"}, separators=(",", ":")))
            while True:
                head, batch = window
                while batch:
                    for event in batch:
                        await put(wire_frame(event.seq, event.name, event.payload))
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

    async def _send_text(self, text: str):
        await self.send(text_data=text)

    async def _send_json(self, payload: dict):
        await self.send(text_data=json.dumps(payload, separators=(",", ":")))
