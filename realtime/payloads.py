"""The `data` of each event, built from the models by realtime itself.

These are docs/contract.md's payloads. They are written here, not borrowed from the REST
serializers, so that a change to the REST API cannot silently change the socket contract;
tests/realtime/test_payloads.py pins every key and format. Each builder returns a plain dict
in the key order clients have always received (the frames are encoded from it).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from orders.models import Order, OrderItem, OrderStatus
from restaurant.wire import iso_ms

CENTS = Decimal("0.01")


def money(value) -> str:
    """A decimal string with two places: `15.50`."""
    return f"{Decimal(value).quantize(CENTS, rounding=ROUND_HALF_UP):f}"


def item(line: OrderItem) -> dict:
    """docs/contract.md's item JSON (the `items` of `order.new`)."""
    return {
        "id": str(line.pk),
        "orderId": str(line.order_id),
        "name": line.name,
        "qty": line.qty,
        "unitPrice": money(line.unit_price),
        "status": str(line.status),
        "notes": line.notes or None,
        "createdAt": iso_ms(line.created_at),
        "updatedAt": iso_ms(line.updated_at),
    }


def order_new(order: Order) -> dict:
    lines = order.items_in_order()
    return {
        "orderId": str(order.pk),
        "restaurantId": str(order.restaurant_id),
        "tableSessionId": str(order.table_session_id),
        "status": OrderStatus.CONFIRMED,
        "items": [item(line) for line in lines],
        "createdAt": iso_ms(order.created_at),
    }


def _status_change(ids: dict, instance) -> dict:
    """`ids`, then the move: what the two status events share, in their key order."""
    return {
        **ids,
        "previousStatus": instance.previous_status,
        "newStatus": instance.status,
        "updatedAt": iso_ms(instance.updated_at),
    }


def order_status_changed(order: Order) -> dict:
    return _status_change({"orderId": str(order.pk), "restaurantId": str(order.restaurant_id)}, order)


def item_status_changed(line: OrderItem, restaurant_id) -> dict:
    ids = {"orderId": str(line.order_id), "itemId": str(line.pk), "restaurantId": str(restaurant_id)}
    return _status_change(ids, line)
