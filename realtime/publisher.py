"""Publishing committed outbox events through the channel layer.

`committed()` is called after a commit, from whatever thread committed, with the event that
transaction wrote. Publishing runs on the ASGI server's event loop when this process is a
server (so the channel layer's Redis connections are the server's own, reused for every
event), or otherwise on one long-lived background loop (management commands, shells, the
relay). A request never waits on Redis: if Redis is down the event stays in the outbox and
the relay sweep publishes it later.

Local fast path. The event is handed to this worker's own subscribers of the restaurant
(its `RestaurantStream` and Socket.IO bridge: "local sinks") on the loop straight away,
before the request's answer is written, as socket.io's in-process room broadcast does; the
channel layer carries it to the other workers, and the copy that comes back here is dropped
by id. No outbox re-read before publishing: the payload is the one just committed.

Delivery is at least once; sockets drop duplicates and heal gaps by their event ids.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from datetime import timedelta

from concurrent.futures import ThreadPoolExecutor
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from .events import layer_message, restaurant_group, user_group
from .models import EventSequence, OutboxEvent

logger = logging.getLogger(__name__)

BATCH = 500


def _db_call(function):
    """Run on the publisher's own database thread, dropping a connection past its age."""

    def call(*args):
        close_old_connections()
        try:
            return function(*args)
        finally:
            close_old_connections()

    return call


@_db_call
def _unpublished(restaurant_id) -> list[OutboxEvent]:
    return list(
        OutboxEvent.objects.filter(restaurant_id=restaurant_id, published_at__isnull=True)
        .order_by("seq")[:BATCH]
    )


@_db_call
def _mark_published(ids) -> None:
    OutboxEvent.objects.filter(pk__in=ids, published_at__isnull=True).update(
        published_at=timezone.now()
    )


@_db_call
def _heads(restaurant_ids) -> dict:
    return {
        str(restaurant_id): last_id
        for restaurant_id, last_id in EventSequence.objects.filter(
            restaurant_id__in=restaurant_ids
        ).values_list("restaurant_id", "last_id")
    }


@_db_call
def _stale_restaurants(older_than: timedelta) -> list:
    return list(
        OutboxEvent.objects.filter(
            published_at__isnull=True, created_at__lte=timezone.now() - older_than
        )
        .values_list("restaurant_id", flat=True)
        .distinct()
    )


class Publisher:
    def __init__(self):
        self._loop: asyncio.AbstractEventLoop | None = None
        self._locks: dict = {}
        self._sweeper: asyncio.Task | None = None
        self._heartbeat: asyncio.Task | None = None
        # Restaurants with sockets on this worker, and how many.
        self._local: Counter = Counter()
        self._background: asyncio.AbstractEventLoop | None = None
        # restaurant id -> this worker's subscribers that take committed events directly.
        self._sinks: dict[str, set] = {}
        # restaurant id -> committed (pk, layer message) waiting for its sender task.
        self._outgoing: dict[str, list] = {}
        self._senders: dict[str, asyncio.Task] = {}
        self._guard = threading.Lock()
        self._tasks: set[asyncio.Task] = set()
        # One thread for the publisher's queries: one connection, reused while CONN_MAX_AGE
        # allows, and never the request thread.
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-db")

    # --- where publishing runs --------------------------------------------------------------

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Publish on this (the ASGI server's) loop from now on; start the relay sweep."""
        if self._loop is loop:
            return
        with self._guard:
            if self._loop is loop:
                return
            self._loop = loop
            self._locks = {}
            self._sinks = {}
            self._outgoing = {}
            self._senders = {}
            self._sweeper = loop.create_task(self._sweep_forever()) if settings.OUTBOX_SWEEP else None
            self._heartbeat = (
                loop.create_task(self._heartbeat_forever())
                if settings.WS_HEARTBEAT_INTERVAL > 0 else None
            )

    def _target_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is not None and loop.is_running() and not loop.is_closed():
            return loop
        with self._guard:
            if self._background is None:
                self._background = asyncio.new_event_loop()
                threading.Thread(
                    target=self._background.run_forever, name="outbox-publisher", daemon=True
                ).start()
            return self._background

    def _submit(self, coroutine) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._target_loop())

    # --- API for synchronous code ------------------------------------------------------------

    def committed(self, event: OutboxEvent) -> None:
        """`event` has committed: hand it to local sinks and publish it, without blocking."""
        # Encoded here, in the committing thread, not on the loop every socket shares.
        message = layer_message(event)
        loop = self._target_loop()
        loop.call_soon_threadsafe(self._hand_over, str(event.restaurant_id), event.pk, message)

    def revoke(self, user_id, *, session_id=None, reason: str) -> None:
        """Close the user's open sockets (all, or those of one login session)."""
        self._submit(self._send(user_group(user_id), {
            "type": "auth.revoked", "session_id": session_id, "reason": reason,
        }))

    def close_connections(self, timeout: float = 10) -> None:
        """Close the database connection of the publisher's own thread (at shutdown)."""
        from django.db import connections

        self._db.submit(connections.close_all).result(timeout)

    def publish_pending_now(self, timeout: float = 10) -> int:
        """Synchronously publish every unpublished event (the relay's one pass)."""
        async def _all():
            count = 0
            for restaurant_id in await self._query(_stale_restaurants, timedelta(0)):
                count += await self.drain(restaurant_id)
            return count

        return asyncio.run_coroutine_threadsafe(_all(), self._target_loop()).result(timeout)

    # --- on the loop -------------------------------------------------------------------------

    def add_local_sink(self, restaurant_id: str, sink) -> None:
        """`sink.deliver_local(message)` (a coroutine function) gets every event of the
        restaurant committed in this worker, in commit order, as the channel layer would
        deliver it. The layer's copy still arrives afterwards: sinks drop it by id."""
        self._sinks.setdefault(restaurant_id, set()).add(sink)

    def remove_local_sink(self, restaurant_id: str, sink) -> None:
        sinks = self._sinks.get(restaurant_id)
        if sinks is not None:
            sinks.discard(sink)
            if not sinks:
                del self._sinks[restaurant_id]

    def _hand_over(self, restaurant_id: str, pk: int, message: dict) -> None:
        loop = asyncio.get_running_loop()
        for sink in tuple(self._sinks.get(restaurant_id, ())):
            self._keep(loop.create_task(sink.deliver_local(message)))
        self._outgoing.setdefault(restaurant_id, []).append((pk, message))
        sender = self._senders.get(restaurant_id)
        if sender is None or sender.done():
            self._senders[restaurant_id] = loop.create_task(self._send_outgoing(restaurant_id))

    def _keep(self, task: asyncio.Task) -> None:
        # The loop keeps only weak references to tasks.
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_outgoing(self, restaurant_id: str) -> None:
        """Publish committed events of one restaurant in commit order, then mark them
        published in one statement per batch. On failure they stay unpublished in the
        outbox, for the sweep."""
        while self._outgoing.get(restaurant_id):
            batch = self._outgoing.pop(restaurant_id)
            async with self._lock_for(restaurant_id):
                await self._publish(restaurant_id, [m for _, m in batch], [pk for pk, _ in batch])
        if self._senders.get(restaurant_id) is asyncio.current_task():
            del self._senders[restaurant_id]

    def socket_opened(self, restaurant_id) -> None:
        self._local[restaurant_id] += 1

    def socket_closed(self, restaurant_id) -> None:
        self._local[restaurant_id] -= 1
        if self._local[restaurant_id] <= 0:
            del self._local[restaurant_id]

    async def _heartbeat_forever(self) -> None:
        """Tell this worker's restaurants, through the channel layer, the id of their latest
        event. A socket that stops hearing it knows its stream broke (Redis restarted under
        it) and closes so that its client resumes; one that hears of an event it never got
        fills the gap (the layer dropped a message)."""
        interval = settings.WS_HEARTBEAT_INTERVAL
        while True:
            await asyncio.sleep(interval)
            restaurants = list(self._local)
            if not restaurants:
                continue
            try:
                heads = await self._query(_heads, restaurants)
            except Exception:  # noqa: BLE001 - database down: sockets keep their state
                logger.warning("heartbeat could not read event heads", exc_info=True)
                continue
            for restaurant_id in restaurants:
                await self._send(
                    restaurant_group(restaurant_id),
                    {"type": "stream.heartbeat", "head": heads.get(restaurant_id, 0)},
                )

    def _lock_for(self, restaurant_id) -> asyncio.Lock:
        lock = self._locks.get(restaurant_id)
        if lock is None:
            lock = self._locks[restaurant_id] = asyncio.Lock()
        return lock

    async def _query(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self._db, function, *args)

    async def _send(self, group: str, message: dict) -> None:
        try:
            await get_channel_layer().group_send(group, message)
        except Exception:  # noqa: BLE001 - a control message is best effort; tokens expire anyway
            logger.warning("could not send %s to %s", message.get("type"), group, exc_info=True)

    async def drain(self, restaurant_id) -> int:
        """Publish unpublished events of one restaurant in id order. Returns how many."""
        published = 0
        async with self._lock_for(restaurant_id):
            while True:
                try:
                    batch = await self._query(_unpublished, restaurant_id)
                except Exception:  # noqa: BLE001 - database away: the sweep retries
                    logger.warning(
                        "reading the outbox of restaurant %s failed; will retry", restaurant_id,
                        exc_info=True,
                    )
                    return published
                if not batch:
                    return published
                messages = [layer_message(event) for event in batch]
                if not await self._publish(restaurant_id, messages, [e.pk for e in batch]):
                    return published
                published += len(batch)
                if len(batch) < BATCH:
                    return published

    async def _publish(self, restaurant_id, messages: list[dict], pks: list[int]) -> bool:
        """Send `messages` to the restaurant's group in order, then mark `pks` published.
        False when that failed: the events stay unpublished in the outbox, for the sweep."""
        group = restaurant_group(restaurant_id)
        try:
            layer = get_channel_layer()
            for message in messages:
                await layer.group_send(group, message)
            await self._query(_mark_published, pks)
        except Exception:  # noqa: BLE001 - Redis or the database away
            logger.warning(
                "publishing events of restaurant %s failed; will retry", restaurant_id,
                exc_info=True,
            )
            return False
        return True

    async def _sweep_forever(self) -> None:
        """The relay: publish what a crashed process or a Redis outage left behind."""
        interval = settings.OUTBOX_SWEEP_INTERVAL
        grace = timedelta(seconds=settings.OUTBOX_SWEEP_GRACE)
        while True:
            await asyncio.sleep(interval)
            try:
                stale = await self._query(_stale_restaurants, grace)
            except Exception:  # noqa: BLE001 - database down: try again next round
                logger.warning("outbox sweep could not read the outbox", exc_info=True)
                continue
            for restaurant_id in stale:
                await self.drain(restaurant_id)


publisher = Publisher()


# Where `bind_to_server_loop` leaves the server's own ASGI `send` of a WebSocket, before any
# middleware wraps it: the events consumer writes pre-encoded frames through it (consumers.py).
RAW_SEND_KEY = "realtime.server_send"


def bind_to_server_loop(app):
    """ASGI wrapper: events committed in this server process publish on its event loop."""

    async def application(scope, receive, send):
        publisher.bind_loop(asyncio.get_running_loop())
        if scope.get("type") == "websocket":
            scope[RAW_SEND_KEY] = send  # in place: a copy per socket costs memory
        return await app(scope, receive, send)

    return application
