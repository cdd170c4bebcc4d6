"""The publishing side's public names, over its parts (kept for callers of the old class).

- realtime.loop: where the work runs (`bind_to_server_loop`, the background loop);
- realtime.handover: after commit, to this worker's stream and to the relay; revocations;
- realtime.relay: publishing outbox rows, the sweep, heartbeats;
- realtime.streams: local delivery to this worker's sockets.
"""

from __future__ import annotations

from . import handover, relay
from .loop import bind_to_server_loop  # noqa: F401
from .loop import bind as _bind


class Publisher:
    """`publisher.committed(event)`, `publisher.revoke(user_id, session_id=..., reason=...)`,
    `publisher.publish_pending_now()`, `publisher.drain(restaurant_id)`."""

    committed = staticmethod(handover.committed)
    revoke = staticmethod(handover.revoke)
    publish_pending_now = staticmethod(relay.publish_pending_now)
    close_connections = staticmethod(relay.close_connections)
    drain = staticmethod(relay.drain)
    bind_loop = staticmethod(_bind)


publisher = Publisher()
