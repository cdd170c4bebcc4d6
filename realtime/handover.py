"""After commit: hand a committed event to this worker's stream and to the relay.

`committed(event)` is called by `transaction.on_commit` (realtime.events.record), from
whatever thread committed. The event is encoded there, once, then on the bound loop
(realtime.loop) it goes

- at once to this worker's stream of the restaurant, if it has one (local delivery: its
  sockets get it before the request's answer is written, as socket.io's in-process room
  broadcast does; the copy that comes back through the channel layer is dropped by id);
- to the restaurant's sender task, which publishes it to the other workers through the
  relay in commit order and marks it published. No outbox re-read: the payload is the one
  just committed. A request never waits on Redis: if Redis is down the event stays
  unpublished and the relay's sweep publishes it later.

`revoke()` is the same road for "close these sockets" (logout, deactivation).
"""

from __future__ import annotations

import asyncio

from . import loop as realtime_loop
from . import relay, streams
from .messages import layer_message, revocation, user_group

# restaurant id -> committed (pk, layer message) waiting for its sender task.
_outgoing: dict[str, list] = {}
_senders: dict[str, asyncio.Task] = {}


def committed(event) -> None:
    """`event` (an OutboxEvent) has committed: deliver and publish it, without blocking."""
    message = layer_message(event)  # encoded in the committing thread, not on the shared loop
    realtime_loop.call_soon(_hand_over, str(event.restaurant_id), event.pk, message)


def revoke(user_id, *, session_id=None, reason: str) -> None:
    """Close the user's open sockets (all, or those of one login session), on every worker."""
    realtime_loop.submit(relay.send(user_group(user_id), revocation(session_id, reason)))


def _hand_over(restaurant_id: str, pk: int, message: dict) -> None:
    streams.deliver_local(restaurant_id, message)
    _outgoing.setdefault(restaurant_id, []).append((pk, message))
    sender = _senders.get(restaurant_id)
    if sender is None or sender.done():
        _senders[restaurant_id] = asyncio.get_running_loop().create_task(_send_outgoing(restaurant_id))


async def _send_outgoing(restaurant_id: str) -> None:
    """Publish committed events of one restaurant in commit order, a batch per round."""
    while _outgoing.get(restaurant_id):
        batch = _outgoing.pop(restaurant_id)
        async with relay.lock_for(restaurant_id):
            await relay.publish(restaurant_id, [m for _, m in batch], [pk for pk, _ in batch])
    if _senders.get(restaurant_id) is asyncio.current_task():
        del _senders[restaurant_id]


def _forget_other_loops(loop) -> None:
    # Sender tasks of a loop that is no longer bound would never run again.
    _outgoing.clear()
    _senders.clear()


realtime_loop.on_bind(_forget_other_loops)
