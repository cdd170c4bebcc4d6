"""A delivery's bytes: the Standard Webhooks body and headers (docs/contract.md, "Webhooks").

Signing is the `standardwebhooks` reference library's: the same code receivers verify with.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from restaurant.wire import iso_ms


def webhook_id(restaurant_id, event_seq: int) -> str:
    """The same for every attempt and replay of an event: receivers deduplicate by it."""
    return f"{restaurant_id}:{event_seq}"


def body(event) -> str:
    """The body for an OutboxEvent, encoded once and kept with the delivery."""
    return json.dumps(
        {
            "type": event.name,
            "timestamp": iso_ms(event.created_at),
            "restaurantId": str(event.restaurant_id),
            "eventId": str(event.seq),
            "data": event.payload,
        },
        separators=(",", ":"),
    )


def headers(secret: str, message_id: str, payload: str, now: datetime | None = None) -> dict:
    """Signed anew for every attempt: the timestamp is the attempt's."""
    now = now or datetime.now(UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, payload),
        "content-type": "application/json",
    }
