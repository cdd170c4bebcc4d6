"""Turning committed changes into docs/contract.md's events, through the outbox.

`record(restaurant_id, name, payload)` is the one road for every event: called inside the
change's transaction, it writes the outbox row with the restaurant's next event id, and once
the transaction commits the hand-over (`realtime.handover`) delivers it to this worker's
streams and publishes it to the others. Both socket transports, their replay and Socket.IO's
recovery take any event name as it comes: a new event needs a payload builder and a call to
`record()`, nothing else.
"""

from __future__ import annotations

from django.db import IntegrityError, connection, transaction

from . import handover
from .messages import layer_message, restaurant_group, user_group, wire_frame  # noqa: F401
from .models import EventSequence, OutboxEvent
from .payloads import item_status_changed, order_new, order_status_changed  # noqa: F401

ORDER_NEW = "order.new"
ORDER_STATUS_CHANGED = "order.status.changed"
ITEM_STATUS_CHANGED = "order.item.status.changed"
# Kitchen operations, second part (issue 15): realtime.screens, realtime.kitchen_payloads.
SCREEN_STATUS_CHANGED = "screen.status.changed"
PICKUP_CALLED = "order.pickup.called"

def _bump_seq(restaurant_id) -> int | None:
    """Increment the restaurant's last event id and return it, in one statement (both
    PostgreSQL and SQLite 3.35+ have RETURNING); None when it has no sequence row yet."""
    meta, quote = EventSequence._meta, connection.ops.quote_name
    key = meta.get_field("restaurant")
    table, column = quote(meta.db_table), quote(meta.get_field("last_id").column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {column} = {column} + 1 WHERE {quote(key.column)} = %s "
            f"RETURNING {column}",
            [key.get_db_prep_value(restaurant_id, connection)],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _next_seq(restaurant_id) -> int:
    seq = _bump_seq(restaurant_id)
    if seq is None:
        try:
            with transaction.atomic():
                EventSequence.objects.create(restaurant_id=restaurant_id, last_id=1)
                return 1
        except IntegrityError:
            seq = _bump_seq(restaurant_id)  # another transaction created it first
    return seq


def record(restaurant_id, name: str, payload: dict) -> OutboxEvent:
    """Write an event in the current transaction; publish it once that commits."""
    event = OutboxEvent.objects.create(
        restaurant_id=restaurant_id, seq=_next_seq(restaurant_id), name=name, payload=payload
    )
    transaction.on_commit(lambda: handover.committed(event))
    return event
