"""Turning committed changes into docs/contract.md's events, through the outbox."""

from __future__ import annotations

import json

from django.db import IntegrityError, connection, transaction
from djangorestframework_camel_case.util import camelize

from orders.api.serializers import OrderItemSerializer
from orders.models import Order, OrderItem, OrderStatus
from restaurant.wire import iso_ms

from .models import EventSequence, OutboxEvent

ORDER_NEW = "order.new"
ORDER_STATUS_CHANGED = "order.status.changed"
ITEM_STATUS_CHANGED = "order.item.status.changed"


def restaurant_group(restaurant_id) -> str:
    return f"restaurant.{restaurant_id}"


def user_group(user_id) -> str:
    return f"user.{user_id}"


def wire_frame(seq: int, name: str, payload: dict) -> str:
    """The plain-WebSocket frame of an event, encoded once for every socket."""
    return json.dumps(
        {"type": "event", "id": str(seq), "event": name, "data": payload}, separators=(",", ":")
    )


def layer_message(event: OutboxEvent) -> dict:
    return {
        "type": "outbox.event",
        "id": event.seq,
        "event": event.name,
        "data": event.payload,
        "frame": wire_frame(event.seq, event.name, event.payload),
    }


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
    from .publisher import publisher

    event = OutboxEvent.objects.create(
        restaurant_id=restaurant_id, seq=_next_seq(restaurant_id), name=name, payload=payload
    )
    transaction.on_commit(lambda: publisher.committed(event))
    return event


def item_status_changed(item: OrderItem, restaurant_id) -> dict:
    return {
        "orderId": str(item.order_id),
        "itemId": str(item.pk),
        "restaurantId": str(restaurant_id),
        "previousStatus": item.previous_status,
        "newStatus": item.status,
        "updatedAt": iso_ms(item.updated_at),
    }


def order_status_changed(order: Order) -> dict:
    return {
        "orderId": str(order.pk),
        "restaurantId": str(order.restaurant_id),
        "previousStatus": order.previous_status,
        "newStatus": order.status,
        "updatedAt": iso_ms(order.updated_at),
    }


def order_new(order: Order) -> dict:
    items = OrderItem.objects.filter(order=order).order_by("created_at", "id")
    return {
        "orderId": str(order.pk),
        "restaurantId": str(order.restaurant_id),
        "tableSessionId": str(order.table_session_id),
        "status": OrderStatus.CONFIRMED,
        "items": camelize(OrderItemSerializer(items, many=True).data),
        "createdAt": iso_ms(order.created_at),
    }
