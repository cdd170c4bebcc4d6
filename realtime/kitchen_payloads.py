"""Payloads of the kitchen-operation events (docs/contract.md, "Kitchen operations").

Built from the models, not from REST serializers: an event says what was committed, in the
contract's camelCase, whatever code path made the change.
"""

from __future__ import annotations

from orders.models import CourseFiring, MenuItem, Order, OrderItem, TableSession
from restaurant.wire import iso_ms

from . import payloads

ITEMS_ADDED = "order.items.added"
ALLERGY_ACKNOWLEDGED = "order.item.allergy.acknowledged"
COURSE_FIRED = "order.course.fired"
PRIORITY_CHANGED = "order.priority.changed"
AVAILABILITY_CHANGED = "menu.item.availability.changed"


def _id(value) -> str | None:
    return None if value is None else str(value)


def item(order_item: OrderItem) -> dict:
    """The item JSON of docs/contract.md with its kitchen-operation keys (as REST shows it):
    the reference's nine keys first, then the new ones."""
    return {
        **payloads.item(order_item),
        "menuItemId": _id(order_item.menu_item_id),
        "station": order_item.station,
        "modifiers": [dict(m) for m in order_item.modifiers],
        "course": order_item.course,
        "seat": order_item.seat,
        "firedAt": iso_ms(order_item.fired_at),
        "allergens": list(order_item.allergens),
        "allergies": list(order_item.allergies),
        "allergenConflicts": order_item.allergen_conflicts,
        "allergyAcknowledgedAt": iso_ms(order_item.allergy_acknowledged_at),
        "allergyAcknowledgedBy": _id(order_item.allergy_acknowledged_by_id),
        "voidReason": order_item.void_reason or None,
    }


def items_added(order_item: OrderItem, restaurant_id) -> dict:
    return {
        "orderId": str(order_item.order_id),
        "restaurantId": str(restaurant_id),
        "items": [item(order_item)],
        "createdAt": iso_ms(order_item.created_at),
    }


def allergy_acknowledged(order_item: OrderItem, restaurant_id) -> dict:
    return {
        "orderId": str(order_item.order_id),
        "itemId": str(order_item.pk),
        "restaurantId": str(restaurant_id),
        "allergies": list(order_item.allergies),
        "acknowledgedBy": _id(order_item.allergy_acknowledged_by_id),
        "acknowledgedAt": iso_ms(order_item.allergy_acknowledged_at),
    }


def course_fired(firing: CourseFiring, restaurant_id) -> dict:
    return {
        "orderId": str(firing.order_id),
        "restaurantId": str(restaurant_id),
        "course": firing.course,
        "itemIds": list(firing.item_ids),
        "firedAt": iso_ms(firing.fired_at),
    }


def priority_changed(order: Order) -> dict:
    return {
        "orderId": str(order.pk),
        "restaurantId": str(order.restaurant_id),
        "priority": order.priority,
        "updatedAt": iso_ms(order.updated_at),
    }


def availability_changed(menu_item: MenuItem) -> dict:
    return {
        "menuItemId": str(menu_item.pk),
        "restaurantId": str(menu_item.restaurant_id),
        "available": menu_item.available,
        "remaining": menu_item.remaining,
        "availableAgainAt": iso_ms(menu_item.available_again_at),
        "updatedAt": iso_ms(menu_item.updated_at),
    }


def _table_loaded(order: Order) -> bool:
    return Order.table_session.is_cached(order) and TableSession.table.is_cached(order.table_session)


def pickup_called(entry) -> dict:
    """`order.pickup.called` from the history entry of the call."""
    order = getattr(entry, "written_for", None)
    if order is None or not _table_loaded(order):
        order = Order.objects.select_related("table_session__table").get(pk=entry.order_id)
    return {
        "orderId": str(order.pk), "restaurantId": str(order.restaurant_id), "number": order.number,
        "tableName": order.table_session.table.name,
        "waiterId": str(order.created_by_id) if order.created_by_id else None,
        "calledBy": str(entry.actor_id) if entry.actor_id else None, "calledAt": iso_ms(entry.at),
    }
