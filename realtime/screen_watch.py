"""This worker's part in screen presence: it refreshes the presence markers of the screens
whose sockets it holds, and sweeps for screens gone offline or behind (any worker may
notice a dead worker's screens; the first to lock the row announces). Both run on the
server's loop from the first request (`realtime.loop.on_bind`), the database work on a
thread of their own so that neither waits for nor delays the event streams.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import close_old_connections

from . import loop as realtime_loop
from . import screens

logger = logging.getLogger(__name__)

_db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="screens-db")
_here: Counter = Counter()  # screen id -> sockets of it on this worker
_tasks: set[asyncio.Task] = set()


def _on_thread(function, *args):
    close_old_connections()
    try:
        return function(*args)
    finally:
        close_old_connections()


async def run(function, *args):
    """`function(*args)` on the screens' database thread."""
    return await asyncio.get_running_loop().run_in_executor(_db, _on_thread, function, *args)


# --- the socket's `screen` and `ack` messages (realtime.consumers hands them over) ----------

SCREEN_ROLES = frozenset({"KITCHEN", "MANAGER"})
# A socket's messages take Channels' database threads, like its other queries; the refresh
# and the sweep keep their own thread.
_register = database_sync_to_async(screens.register)
_acknowledge = database_sync_to_async(screens.acknowledge)


async def name_screen(consumer, message: dict) -> None:
    """`{"type": "screen", "name", "station"}`: this socket is that kitchen screen."""
    if consumer.identity.role not in SCREEN_ROLES:
        return await consumer._send_json({"type": "error", "detail": "Only KITCHEN and MANAGER run screens."})
    try:
        screen = await _register(
            restaurant_id=consumer.identity.restaurant_id, name=message.get("name"),
            station=message.get("station"),
        )
    except screens.ScreenRefused as refused:
        return await consumer._send_json({"type": "error", "detail": str(refused)})
    if consumer.screen_id is not None:
        await detach(consumer.screen_id)
    consumer.screen_id = screen.pk
    attach(screen.pk)
    await consumer._send_json(
        {"type": "screen", "screenId": str(screen.pk), "name": screen.name, "station": screen.station}
    )


async def acknowledge(consumer, message: dict) -> None:
    """`{"type": "ack", "lastEventId"}`: the screen has drawn everything up to it."""
    if consumer.screen_id is None:
        return await consumer._send_json({"type": "error", "detail": "Name the screen first (type screen)."})
    try:
        await _acknowledge(screen_id=consumer.screen_id, last_event_id=message.get("lastEventId"))
    except screens.ScreenRefused as refused:
        await consumer._send_json({"type": "error", "detail": str(refused)})


def attach(screen_id) -> None:
    _here[screen_id] += 1


async def detach(screen_id) -> None:
    """A socket of the screen closed. Its marker is written once more: it then expires
    SCREEN_OFFLINE_SECONDS from now unless another socket of the screen keeps it."""
    _here[screen_id] -= 1
    if _here[screen_id] <= 0:
        del _here[screen_id]
    try:
        await run(screens.mark_present, [screen_id])
    except Exception:  # noqa: BLE001 - the cache is down: the marker expires by itself
        logger.warning("could not refresh a closing screen's presence", exc_info=True)


def refresh_interval() -> float:
    return max(0.2, min(5.0, settings.SCREEN_OFFLINE_SECONDS / 3))


async def _forever(interval, act, failure: str) -> None:
    while True:
        await asyncio.sleep(interval())
        try:
            await act()
        except Exception:  # noqa: BLE001 - cache or database down: next round
            logger.warning(failure, exc_info=True)


async def _refresh() -> None:
    if _here:
        await run(screens.keep_present, list(_here))


async def _sweep() -> None:
    await run(screens.sweep)


def _start(loop: asyncio.AbstractEventLoop) -> None:
    _tasks.add(loop.create_task(_forever(refresh_interval, _refresh, "screen presence refresh failed")))
    if settings.SCREEN_SWEEP_INTERVAL > 0:
        interval = settings.SCREEN_SWEEP_INTERVAL
        _tasks.add(loop.create_task(_forever(lambda: interval, _sweep, "screen sweep failed")))


realtime_loop.on_bind(_start)


def close_connections(timeout: float = 10) -> None:
    """Close this module's database connection (tests, before the test database goes)."""
    from django.db import connections

    _db.submit(connections.close_all).result(timeout)
