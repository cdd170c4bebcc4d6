"""The answers the POS and the kitchen get all night, written out field by field: what
`OrderItemDetailSerializer` and `OrderSerializer` (orders/api/serializers.py) render, several
times cheaper than DRF's loop over bound fields, and an order's known-empty relations given
instead of read (Django's prefetch machinery costs ~0.6 ms even for `none()`).

The serializers stay the schema's source and render everything else;
tests/orders/test_api_render.py proves both render the same bytes for every field case.
"""

from decimal import Decimal

from restaurant.wire import MoneyField, iso_ms

from ..models import ItemStatus, Order, OrderItem
from .serializers import seen_by

_UNIT_PRICE = MoneyField(read_only=True)
_TOTAL = MoneyField(read_only=True, max_digits=12)


def _text(value):
    return None if value is None else str(value)


def item_json(item: OrderItem) -> dict:
    """`OrderItemDetailSerializer(item).data`."""
    unit_price, qty, course, seat = item.unit_price, item.qty, item.course, item.seat
    return {
        "id": _text(item.id),
        "order_id": _text(item.order_id),
        "name": _text(item.name),
        "qty": None if qty is None else int(qty),
        "unit_price": None if unit_price is None else _UNIT_PRICE.to_representation(unit_price),
        "status": _text(item.status),
        "notes": item.notes or None,
        "created_at": iso_ms(item.created_at),
        "updated_at": iso_ms(item.updated_at),
        "menu_item_id": _text(item.menu_item_id),
        "station": _text(item.station),
        "modifiers": item.modifiers,
        "course": None if course is None else int(course),
        "seat": None if seat is None else int(seat),
        "fired_at": iso_ms(item.fired_at),
        "allergens": _codes(item.allergens),
        "allergies": _codes(item.allergies),
        "allergen_conflicts": _codes(item.allergen_conflicts),
        "allergy_acknowledged_at": iso_ms(item.allergy_acknowledged_at),
        "allergy_acknowledged_by": _text(item.allergy_acknowledged_by_id),
        "void_reason": item.void_reason or None,
    }


def _codes(values):
    return None if values is None else [_text(v) for v in values]


def order_json(order: Order, *, items=None, seen=None) -> dict:
    """`OrderSerializer(order).data`. `items` and `seen` (`seen_by`'s list) when the caller
    knows them; otherwise read from the order (prefetched, or a query each)."""
    items = list(order.items.all()) if items is None else items
    seen = seen_by(order) if seen is None else seen
    # Order.total, over the items given
    total = sum((i.line_total for i in items if i.status != ItemStatus.CANCELLED), Decimal("0.00"))
    number = order.number
    return {
        "id": _text(order.id),
        "restaurant_id": _text(order.restaurant_id),
        "table_session_id": _text(order.table_session_id),
        "status": _text(order.status),
        "notes": order.notes or None,
        "total": _TOTAL.to_representation(total),
        "items": [item_json(i) for i in items],
        "priority": _text(order.priority),
        "number": None if number is None else int(number),
        "seen_by": [
            {"screen_id": _text(d["screen_id"]), "name": _text(d["name"]),
             "station": _text(d["station"]), "seen_at": iso_ms(d["seen_at"])}
            for d in seen
        ],
        "created_at": iso_ms(order.created_at),
        "updated_at": iso_ms(order.updated_at),
    }
