"""`/ws/events/`: a thin relay from the restaurant's event stream to one socket.

It authenticates, joins its restaurant's group, replays what the client missed, and forwards
events in id order exactly once: duplicates (at-least-once publishing) are dropped and gaps
(a message the channel layer dropped, or events published by another worker first) are
filled from the event log. It writes nothing to the database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.consumer import get_handler_name
from django.conf import settings

from . import selectors
from .auth import AuthRefused, SocketIdentity, authenticate_token
from .events import restaurant_group, user_group, wire_frame
from .publisher import publisher

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
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
    _tasks: list

    async def dispatch(self, message):
        # Channels' default dispatch first hops to a thread to close stale database
        # connections, before every message. This relay's queries go through
        # database_sync_to_async, which does that itself, so events skip the hop.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- lifecycle ---------------------------------------------------------------------------

    async def connect(self):
        self._tasks = []
        publisher.bind_loop(asyncio.get_running_loop())
        await self.accept()
        if self.scope.get("auth_error"):
            return await self._refuse(self.scope["auth_error"])
        identity = self.scope.get("identity")
        if identity is not None:
            return await self._start(identity, self.scope.get("last_event_id"))
        self._spawn(self._auth_deadline())

    async def disconnect(self, code):
        for task in getattr(self, "_tasks", []):
            task.cancel()
        if self.identity is not None:
            publisher.socket_closed(self.identity.restaurant_id)
            await self.channel_layer.group_discard(
                restaurant_group(self.identity.restaurant_id), self.channel_name
            )
            await self.channel_layer.group_discard(user_group(self.identity.user_id), self.channel_name)

    async def _refuse(self, reason: str):
        await self.close(code=CLOSE_UNAUTHENTICATED, reason=reason)

    async def _auth_deadline(self):
        await asyncio.sleep(settings.WS_AUTH_TIMEOUT)
        if self.identity is None:
            await self._refuse("No token provided")

    def _spawn(self, coroutine):
        self._tasks.append(asyncio.get_running_loop().create_task(coroutine))

    async def _start(self, identity: SocketIdentity, last_event_id):
        self.identity = identity
        publisher.socket_opened(identity.restaurant_id)
        self._last_heard = time.monotonic()
        # Join before reading the head: an event committed meanwhile is then either in the
        # replay or in the group, never in neither.
        await self.channel_layer.group_add(restaurant_group(identity.restaurant_id), self.channel_name)
        await self.channel_layer.group_add(user_group(identity.user_id), self.channel_name)
        head = await _event_head(identity.restaurant_id)
        await self._send_json(
            {"type": "ready", "restaurantId": identity.restaurant_id, "lastEventId": str(head)}
        )
        after = _parse_event_id(last_event_id)
        self.last_id = head
        if after is not None:
            await self._replay(after)
        if identity.expires_at is not None:
            self._spawn(self._close_at(identity.expires_at))
        self._spawn(self._keep_group_membership())
        if settings.WS_HEARTBEAT_INTERVAL > 0:
            self._spawn(self._watch_stream())

    async def _close_at(self, expires_at: float):
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        await self._refuse("Token expired")

    async def _watch_stream(self):
        """Close (so the client resumes) when the channel layer has gone quiet: no event
        and no heartbeat for three heartbeat intervals."""
        interval = settings.WS_HEARTBEAT_INTERVAL
        while True:
            await asyncio.sleep(interval)
            if time.monotonic() - self._last_heard > 3 * interval:
                await self.close(
                    code=CLOSE_STREAM_INTERRUPTED, reason="Event stream interrupted; resume"
                )
                return

    async def _keep_group_membership(self):
        # channels-redis forgets group members after group_expiry; re-joining well before
        # that keeps a socket that stays open all shift subscribed.
        expiry = getattr(self.channel_layer, "group_expiry", None)
        if not expiry:
            return
        while True:
            await asyncio.sleep(max(1.0, expiry / 2))
            await self.channel_layer.group_add(
                restaurant_group(self.identity.restaurant_id), self.channel_name
            )
            await self.channel_layer.group_add(user_group(self.identity.user_id), self.channel_name)

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
                return await self._refuse(refused.reason)
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

    # --- from the channel layer ----------------------------------------------------------------

    async def stream_heartbeat(self, message):
        self._last_heard = time.monotonic()
        if self.last_id is not None and message["head"] > self.last_id:
            await self._replay(self.last_id)  # an event never reached us: fill the gap

    async def outbox_event(self, message):
        self._last_heard = time.monotonic()
        event_id = message["id"]
        if self.last_id is None or event_id <= self.last_id:
            return  # not ready yet (the replay covers it) or already sent
        if event_id > self.last_id + 1:
            return await self._replay(self.last_id)  # a gap: fill it from the log
        await self.send(text_data=message["frame"])
        self.last_id = event_id

    async def auth_revoked(self, message):
        session_id = message.get("session_id")
        if session_id is None or (self.identity and self.identity.session_id == session_id):
            await self._refuse(message.get("reason") or "Session ended")

    # --- replay ------------------------------------------------------------------------------

    async def _replay(self, after: int):
        """Send every event after `after`, in order, or `resync` if they are gone."""
        window = await _replay_window(self.identity.restaurant_id, after)
        if window is None:
            self.last_id = await _event_head(self.identity.restaurant_id)
            return await self._send_json({"type": "resync"})
        head, batch = window
        while batch:
            for event in batch:
                await self.send(text_data=wire_frame(event.seq, event.name, event.payload))
            after = batch[-1].seq
            batch = await _events_after(self.identity.restaurant_id, after) if after < head else []
        self.last_id = max(self.last_id or 0, after)

    async def _send_json(self, payload: dict):
        await self.send(text_data=json.dumps(payload, separators=(",", ":")))

