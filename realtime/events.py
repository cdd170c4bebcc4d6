"""Turning committed changes into docs/contract.md's events, through the outbox.

`record(restaurant_id, name, payload)` (`record_many` for several of one change) is the one
road for every event: called inside the change's transaction, it writes the outbox row with
the restaurant's next event id, and once the transaction commits the hand-over (`realtime.handover`) delivers it to this worker's
streams and publishes it to the others. Both socket transports, their replay and Socket.IO's
recovery take any event name as it comes: a new event needs a payload builder and a call to
`record()`, nothing else.
"""

from __future__ import annotations

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

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

def _tables():
    quote = connection.ops.quote_name
    seq, outbox = EventSequence._meta, OutboxEvent._meta
    return {
        "seq": quote(seq.db_table), "last": quote(seq.get_field("last_id").column),
        "seq_key": quote(seq.get_field("restaurant").column), "outbox": quote(outbox.db_table),
        "columns": ", ".join(
            quote(outbox.get_field(f).column)
            for f in ("restaurant", "seq", "name", "payload", "created_at", "published_at")
        ),
    }


def _bump_seq(restaurant_id, by: int = 1) -> int | None:
    """Add `by` to the restaurant's last event id and return it, in one statement (both
    PostgreSQL and SQLite 3.35+ have RETURNING); None when it has no sequence row yet."""
    t = _tables()
    key = EventSequence._meta.get_field("restaurant").get_db_prep_value(restaurant_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {t['seq']} SET {t['last']} = {t['last']} + %s WHERE {t['seq_key']} = %s "
            f"RETURNING {t['last']}",
            [by, key],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _insert_numbered(restaurant_id, rows: list[OutboxEvent]) -> bool:
    """PostgreSQL: bump the sequence by len(rows) and insert the rows with their ids in one
    statement; False (nothing written) when the restaurant has no sequence row yet."""
    t, n = _tables(), len(rows)
    field = OutboxEvent._meta.get_field
    key = field("restaurant").get_db_prep_value(restaurant_id, connection)
    values, params = [], [n, key, key, n, rows[0].created_at]
    for k, event in enumerate(rows, start=1):
        values.append("(%s, %s, %s::jsonb)")
        params += [k, event.name, field("payload").get_db_prep_value(event.payload, connection)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH s AS (UPDATE {t['seq']} SET {t['last']} = {t['last']} + %s "
            f"WHERE {t['seq_key']} = %s RETURNING {t['last']}) "
            f"INSERT INTO {t['outbox']} ({t['columns']}) "
            f"SELECT %s, s.{t['last']} - %s + v.k, v.name, v.payload, %s, NULL "
            f"FROM s, (VALUES {', '.join(values)}) AS v (k, name, payload) ORDER BY v.k "
            f"RETURNING id, seq",
            params,
        )
        numbered = sorted(cursor.fetchall(), key=lambda row: row[1])
    for event, (pk, seq) in zip(rows, numbered):
        event.pk, event.seq = pk, seq
    return bool(numbered)


def _insert_after_bump(restaurant_id, rows: list[OutboxEvent]) -> None:
    last = _bump_seq(restaurant_id, len(rows))
    if last is None:
        try:
            with transaction.atomic():
                EventSequence.objects.create(restaurant_id=restaurant_id, last_id=len(rows))
                last = len(rows)
        except IntegrityError:
            last = _bump_seq(restaurant_id, len(rows))  # another transaction created it first
    for k, event in enumerate(rows):
        event.seq = last - len(rows) + 1 + k
    OutboxEvent.objects.bulk_create(rows)


def record_many(restaurant_id, named_payloads) -> list[OutboxEvent]:
    """Write events (name, payload) in the current transaction, with consecutive ids in
    the order given; publish them once that commits.

    The sequence row, updated here, stays locked until commit: event ids of a restaurant
    are handed out in commit order (if event N+1 is visible, event N is too). On
    PostgreSQL the bump and the rows are one statement."""
    now = timezone.now()
    rows = [
        OutboxEvent(restaurant_id=restaurant_id, name=name, payload=payload, created_at=now)
        for name, payload in named_payloads
    ]
    if not rows:
        return rows
    if connection.vendor != "postgresql" or not _insert_numbered(restaurant_id, rows):
        _insert_after_bump(restaurant_id, rows)

    def hand_over():
        for event in rows:
            handover.committed(event)

    transaction.on_commit(hand_over)
    return rows


def record(restaurant_id, name: str, payload: dict) -> OutboxEvent:
    """Write an event in the current transaction; publish it once that commits."""
    return record_many(restaurant_id, [(name, payload)])[0]
