"""How an event travels: channel-layer groups, the layer message, the plain-WebSocket frame.

Pure encoding, no I/O: everything that moves events (hand-over, relay, streams) imports it.
"""

from __future__ import annotations

import json


def restaurant_group(restaurant_id) -> str:
    return f"restaurant.{restaurant_id}"


def user_group(user_id) -> str:
    return f"user.{user_id}"


def wire_frame(seq: int, name: str, payload: dict) -> str:
    """The plain-WebSocket frame of an event, encoded once for every socket."""
    return json.dumps(
        {"type": "event", "id": str(seq), "event": name, "data": payload}, separators=(",", ":")
    )


def layer_message(event) -> dict:
    """The channel-layer message of an outbox event (an `OutboxEvent`)."""
    return {
        "type": "outbox.event",
        "id": event.seq,
        "event": event.name,
        "data": event.payload,
        "frame": wire_frame(event.seq, event.name, event.payload),
    }


def heartbeat(head: int) -> dict:
    return {"type": "stream.heartbeat", "head": head}


def revocation(session_id, reason: str) -> dict:
    return {"type": "auth.revoked", "session_id": session_id, "reason": reason}
