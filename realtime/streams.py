"""This worker's event streams: one per restaurant (events) and one per user (revocations).

Both socket transports subscribe here and nowhere else: a `/ws/events/` socket
(realtime.consumers) subscribes itself, and Socket.IO (realtime.socketio) subscribes one
room per restaurant. A stream exists while it has subscribers, and keeps one policy:

- **One channel per worker.** It subscribes one channel to the channel-layer group and
  hands every event to every subscriber: received, checked and encoded once.
- **Exactly once, in id order.** It remembers the last id it handed out (`last_id`, the
  event head when it subscribed): an id at or below it is a duplicate (publishing is at
  least once) and is dropped; an id past `last_id + 1` is a gap (a message the layer
  dropped, or events another worker published first), filled from the outbox first.
- **Local delivery.** Events committed in this worker arrive from the hand-over at once
  (`deliver_local`); the layer's copy is then a duplicate. Local and layer deliveries and
  fills are handled one at a time (`serial`).
- **Heartbeats** (realtime.relay) name the latest event id: a stream behind it fills.
- **Group membership.** It re-joins every `group_expiry / 2` (channels-redis forgets
  members after `group_expiry`).
- **Silence.** No event and no heartbeat for three `WS_HEARTBEAT_INTERVAL`s means the
  subscription broke (Redis restarted under it): it subscribes a new channel, re-joins the
  user streams, and fills from the outbox what it missed. Its sockets stay connected.
- **Failure.** If the first subscription fails (Redis down), the stream reports `failed`
  and stops: the sockets waiting for it are refused and their clients retry. Later
  failures are retried every second, the sockets staying connected.
"""

from __future__ import annotations

import asyncio
import logging
import time

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from . import selectors
from .messages import restaurant_group, user_group, wire_frame

logger = logging.getLogger(__name__)

BATCH = 500
RETRY_SECONDS = 1.0
_events_after = database_sync_to_async(selectors.events_after)
_event_head = database_sync_to_async(selectors.event_head)
_tasks: set[asyncio.Task] = set()


def _keep(task: asyncio.Task) -> asyncio.Task:
    _tasks.add(task)  # the loop keeps only weak references to tasks
    task.add_done_callback(_tasks.discard)
    return task


class Event:
    """One event as subscribers get it: id, name, `data`, the plain-WebSocket frame text,
    and encodings a transport derives once for all its sockets (`encoded`)."""

    __slots__ = ("id", "name", "data", "text", "_encoded")

    def __init__(self, event_id: int, name: str, data: dict, text: str | None = None):
        self.id = event_id
        self.name = name
        self.data = data
        self.text = text if text is not None else wire_frame(event_id, name, data)
        self._encoded: dict | None = None

    @classmethod
    def from_message(cls, message: dict) -> "Event":
        return cls(message["id"], message["event"], message["data"], message.get("frame"))

    @classmethod
    def from_row(cls, row) -> "Event":
        return cls(row.seq, row.name, row.payload)

    def encoded(self, key: str, encode):
        """`encode(self)`, computed once per event whatever the number of sockets."""
        if self._encoded is None:
            self._encoded = {}
        value = self._encoded.get(key)
        if value is None:
            value = self._encoded[key] = encode(self)
        return value


async def events_after(restaurant_id, after: int, limit: int = BATCH) -> list[Event]:
    return [Event.from_row(row) for row in await _events_after(restaurant_id, after, limit)]


class _GroupStream:
    """One channel of this worker in a channel-layer group, on behalf of its subscribers."""

    registry: dict  # key -> stream, per subclass
    watches_silence = False

    @classmethod
    def get(cls, key: str):
        found = cls.registry.get(key)
        if found is None or found.stopped:
            found = cls.registry[key] = cls(key)
        return found

    def __init__(self, key: str, group: str):
        self.key = key
        self.group = group
        self.subscribers: dict = {}  # insertion-ordered set
        self.channel: str | None = None
        self.ready = asyncio.Event()
        self.failed: BaseException | None = None
        self.stopped = False
        self.listening = False
        self.subscriptions = 0  # how many times it has (re)subscribed
        self.last_heard = time.monotonic()
        self.serial = asyncio.Lock()
        self._task = _keep(asyncio.get_running_loop().create_task(self._run()))

    def add(self, subscriber) -> None:
        self.subscribers[subscriber] = None

    def remove(self, subscriber) -> None:
        self.subscribers.pop(subscriber, None)
        if not self.subscribers and self.ready.is_set():
            self.stop()

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.listening = False
            if self.registry.get(self.key) is self:
                del self.registry[self.key]
            self._task.cancel()

    async def _subscribed(self, again: bool) -> None:
        """Joined; `again` after a broken subscription."""

    async def _handle(self, message: dict) -> None:
        raise NotImplementedError

    # --- the subscription -------------------------------------------------------------------

    async def _run(self):
        layer = get_channel_layer()
        while True:
            try:
                await self._subscribe(layer)
            except asyncio.CancelledError:
                await self._leave(layer)
                raise
            except Exception as error:  # noqa: BLE001 - Redis or the database away
                await self._leave(layer)
                if asyncio.current_task().cancelling():
                    # Cancelled while a database call ran in its thread: asgiref gives the
                    # thread's own error instead of the cancellation. Stopping still wins.
                    raise asyncio.CancelledError from error
                if not self.ready.is_set():
                    self.failed = error  # sockets waiting are refused; their clients retry
                    self.ready.set()
                    self.stop()
                    return
                logger.warning("%s: could not subscribe; retrying", self.group, exc_info=True)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            self.ready.set()
            if not self.subscribers:
                self.stop()
                return
            self.listening = True
            receiver = asyncio.get_running_loop().create_task(self._receive(layer, self.channel))
            try:
                await self._watch(layer, receiver)
            finally:
                self.listening = False
                receiver.cancel()
                await asyncio.gather(receiver, return_exceptions=True)
                await self._leave(layer)
            if not receiver.cancelled() and receiver.exception() is not None:
                await asyncio.sleep(RETRY_SECONDS)  # the layer failed under us: don't spin

    async def _subscribe(self, layer):
        """Join before reading the head: an event committed meanwhile is then either at or
        below the head or in the channel, never in neither."""
        self.channel = await layer.new_channel()
        await layer.group_add(self.group, self.channel)
        self.subscriptions += 1
        self.last_heard = time.monotonic()
        await self._subscribed(again=self.subscriptions > 1)

    async def _leave(self, layer):
        channel, self.channel = self.channel, None
        if channel is not None:
            try:
                await asyncio.shield(layer.group_discard(self.group, channel))
            except BaseException:  # noqa: BLE001 - best effort (Redis may be down)
                logger.debug("leaving %s failed", self.group, exc_info=True)

    async def rejoin(self) -> None:
        if self.channel is not None:
            try:
                await get_channel_layer().group_add(self.group, self.channel)
            except Exception:  # noqa: BLE001 - Redis away: the next re-join or silence check
                logger.warning("re-joining %s failed", self.group, exc_info=True)

    async def _watch(self, layer, receiver: asyncio.Task):
        """Returns when the subscription must be renewed: the receiver failed, or (streams
        with heartbeats) nothing arrived for three heartbeat intervals."""
        interval = settings.WS_HEARTBEAT_INTERVAL if self.watches_silence else 0
        expiry = getattr(layer, "group_expiry", None) or None
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
                logger.warning("%s went silent; subscribing again", self.group)
                return
            if expiry and now - joined > expiry / 2:
                await self.rejoin()
                joined = now

    async def _receive(self, layer, channel: str):
        while True:
            message = await layer.receive(channel)
            self.last_heard = time.monotonic()
            await self.handle_one(message)

    async def handle_one(self, message: dict) -> None:
        # One message at a time, whichever way it came (the layer, this worker's commits).
        async with self.serial:
            try:
                await self._handle(message)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - database away: the next heartbeat fills the gap
                logger.warning("%s: could not handle %s", self.group, message.get("type"), exc_info=True)


class UserStream(_GroupStream):
    """A user's `auth.revoked` (logout, deactivation): `subscriber.revoked(message)`."""

    registry: dict = {}

    def __init__(self, user_id: str):
        super().__init__(user_id, user_group(user_id))

    async def _handle(self, message: dict) -> None:
        if message.get("type") == "auth.revoked":
            for subscriber in list(self.subscribers):
                subscriber.revoked(message)

    @classmethod
    async def rejoin_all(cls) -> None:
        for stream in list(cls.registry.values()):
            await stream.rejoin()


class RestaurantStream(_GroupStream):
    """A restaurant's events, once per worker, for every subscriber: `subscriber.push(event)`
    returns None when done, or an awaitable (a slow path) the stream awaits before the next
    event."""

    registry: dict = {}
    watches_silence = True

    def __init__(self, restaurant_id: str):
        self.restaurant_id = restaurant_id
        self.last_id: int | None = None  # highest event id handed to the subscribers
        self.local_deliveries = 0  # events handed over by this worker's commits
        super().__init__(restaurant_id, restaurant_group(restaurant_id))

    async def _subscribed(self, again: bool) -> None:
        head = await _event_head(self.restaurant_id)
        if not again or self.last_id is None:
            self.last_id = head
            return
        await UserStream.rejoin_all()  # the layer that forgot us forgot them too
        async with self.serial:  # a local delivery may still be running
            if head > self.last_id:
                await self._fill()

    async def _handle(self, message: dict) -> None:
        kind = message.get("type")
        if kind == "outbox.event":
            event_id = message["id"]
            if event_id <= self.last_id:
                return  # already handed out (publishing is at least once)
            if event_id > self.last_id + 1:
                return await self._fill()  # a gap: the outbox has it, and this one
            await self._fan_out(Event.from_message(message))
        elif kind == "stream.heartbeat":
            if message.get("head", 0) > self.last_id:
                await self._fill()  # an event never reached us

    async def catch_up(self, upto: int) -> None:
        """With `serial` held: make sure every event up to `upto` has been handed out."""
        if self.last_id is not None and upto > self.last_id:
            await self._fill()

    async def _fill(self):
        """Hand out every committed event after `last_id`, in order, from the outbox."""
        while True:
            batch = await events_after(self.restaurant_id, self.last_id, BATCH)
            for event in batch:
                await self._fan_out(event)
            if len(batch) < BATCH:
                return

    async def _fan_out(self, event: Event):
        self.last_id = event.id
        slow = None
        for subscriber in list(self.subscribers):
            pending = subscriber.push(event)
            if pending is not None:
                if slow is None:
                    slow = []
                slow.append(pending)
        if slow:
            await asyncio.gather(*slow)


def deliver_local(restaurant_id: str, message: dict) -> None:
    """An event committed in this worker (the hand-over), to its stream here, if any."""
    stream = RestaurantStream.registry.get(restaurant_id)
    if stream is not None and stream.listening:
        stream.local_deliveries += 1
        _keep(asyncio.get_running_loop().create_task(stream.handle_one(message)))


def restaurants_here() -> list[str]:
    """Restaurants with a stream on this worker (they get heartbeats)."""
    return list(RestaurantStream.registry)
