"""The outbox relay: publishing outbox rows through the channel layer, and heartbeats.

- `publish()` sends a restaurant's events to its group in order and marks them published in
  one statement; on failure they stay unpublished for the sweep.
- `drain()` publishes whatever of a restaurant is still unpublished, in id order.
- The sweep (every `OUTBOX_SWEEP_INTERVAL`) drains what a crashed process or a Redis outage
  left behind; `publish_pending_now()` is one pass of it, for `manage.py relay_outbox`.
- Heartbeats (every `WS_HEARTBEAT_INTERVAL`) tell each restaurant with a stream on this
  worker, through the layer, the id of its latest event; streams fill gaps and notice
  silence by them (realtime.streams).

Queries run on one thread of their own (one connection, reused while CONN_MAX_AGE allows,
never a request's thread).
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from channels.layers import get_channel_layer
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from . import loop as realtime_loop
from . import streams
from .messages import heartbeat, layer_message, restaurant_group
from .models import EventSequence, OutboxEvent

logger = logging.getLogger(__name__)

BATCH = 500
_db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-db")
_locks: dict[str, asyncio.Lock] = {}


def _db_call(function):
    """Run on the relay's own database thread, dropping a connection past its age."""

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
    OutboxEvent.objects.filter(pk__in=ids, published_at__isnull=True).update(published_at=timezone.now())


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
        OutboxEvent.objects.filter(published_at__isnull=True, created_at__lte=timezone.now() - older_than)
        .values_list("restaurant_id", flat=True)
        .distinct()
    )


async def _query(function, *args):
    return await asyncio.get_running_loop().run_in_executor(_db, function, *args)


def lock_for(restaurant_id) -> asyncio.Lock:
    """One publisher of a restaurant's events at a time in this process (commit order)."""
    lock = _locks.get(restaurant_id)
    if lock is None:
        lock = _locks[restaurant_id] = asyncio.Lock()
    return lock


async def send(group: str, message: dict) -> None:
    """A control message (heartbeat, revocation): best effort."""
    try:
        await get_channel_layer().group_send(group, message)
    except Exception:  # noqa: BLE001 - Redis away; tokens expire anyway, heartbeats repeat
        logger.warning("could not send %s to %s", message.get("type"), group, exc_info=True)


async def publish(restaurant_id, messages: list[dict], pks: list[int]) -> bool:
    """Send `messages` to the restaurant's group in order, then mark `pks` published.
    False when that failed: the events stay unpublished in the outbox, for the sweep."""
    group = restaurant_group(restaurant_id)
    try:
        layer = get_channel_layer()
        for message in messages:
            await layer.group_send(group, message)
        await _query(_mark_published, pks)
    except Exception:  # noqa: BLE001 - Redis or the database away
        logger.warning("publishing events of restaurant %s failed; will retry", restaurant_id, exc_info=True)
        return False
    return True


async def drain(restaurant_id) -> int:
    """Publish unpublished events of one restaurant in id order. Returns how many."""
    published = 0
    async with lock_for(restaurant_id):
        while True:
            try:
                batch = await _query(_unpublished, restaurant_id)
            except Exception:  # noqa: BLE001 - database away: the sweep retries
                logger.warning("reading the outbox of restaurant %s failed; will retry", restaurant_id,
                               exc_info=True)
                return published
            if not batch:
                return published
            if not await publish(restaurant_id, [layer_message(e) for e in batch], [e.pk for e in batch]):
                return published
            published += len(batch)
            if len(batch) < BATCH:
                return published


async def _every(interval: float, read, act, failure: str) -> None:
    """Every `interval` seconds: `act(await read())`; a failed read waits for the next round."""
    while True:
        await asyncio.sleep(interval)
        try:
            found = await read()
        except Exception:  # noqa: BLE001 - database down: try again next round
            logger.warning(failure, exc_info=True)
            continue
        await act(found)


async def _drain_each(restaurant_ids) -> None:
    for restaurant_id in restaurant_ids:
        await drain(restaurant_id)


async def _heads_here() -> dict:
    """restaurant id -> latest event id (0: none yet), for the restaurants with a stream here."""
    restaurants = streams.restaurants_here()
    if not restaurants:
        return {}
    heads = await _query(_heads, restaurants)
    return {restaurant_id: heads.get(restaurant_id, 0) for restaurant_id in restaurants}


async def _send_heartbeats(heads: dict) -> None:
    for restaurant_id, head in heads.items():
        await send(restaurant_group(restaurant_id), heartbeat(head))


def _sweep_forever():
    """The relay: publish what a crashed process or a Redis outage left behind."""
    grace = timedelta(seconds=settings.OUTBOX_SWEEP_GRACE)
    return _every(settings.OUTBOX_SWEEP_INTERVAL, lambda: _query(_stale_restaurants, grace), _drain_each,
                  "outbox sweep could not read the outbox")


def _heartbeat_forever():
    """The latest event id of each restaurant with a stream here, through the layer."""
    return _every(settings.WS_HEARTBEAT_INTERVAL, _heads_here, _send_heartbeats,
                  "heartbeat could not read event heads")


_tasks: set[asyncio.Task] = set()


def _start(loop: asyncio.AbstractEventLoop) -> None:
    """On every newly bound server loop: fresh locks, and the sweep and heartbeat tasks."""
    _locks.clear()
    if settings.OUTBOX_SWEEP:
        _tasks.add(loop.create_task(_sweep_forever()))
    if settings.WS_HEARTBEAT_INTERVAL > 0:
        _tasks.add(loop.create_task(_heartbeat_forever()))


realtime_loop.on_bind(_start)


def publish_pending_now(timeout: float = 10) -> int:
    """Synchronously publish every unpublished event (the relay command's one pass)."""

    async def _all():
        count = 0
        for restaurant_id in await _query(_stale_restaurants, timedelta(0)):
            count += await drain(restaurant_id)
        return count

    return realtime_loop.submit(_all()).result(timeout)


def close_connections(timeout: float = 10) -> None:
    """Close the database connection of the relay's own thread (at shutdown, in tests)."""
    from django.db import connections

    _db.submit(connections.close_all).result(timeout)
