"""Courses that fire and hold, priority, allergy acknowledgement and the expo's call."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import history
from ..history import Action
from ..errors import Conflict
from ..models import CourseFiring, ItemStatus, Order, OrderItem, OrderStatus, Priority, User
from .rules import (
    ACTIVE_ORDER_STATUSES,
    FINAL_ORDER_STATUSES,
    ACTION_ROLES,
    _require_role,
    _lock_order,
    _lock_order_of,
    _lock_item,
    _touch_order_unmoved,
)


# --- Courses, priority, allergies --------------------------------------------------------------


def _fire(order: Order, course: int, *, actor: User | None, now) -> CourseFiring | None:
    """Fire the held live items of one course of the locked order; the CourseFiring row
    (one per order and course, a database constraint) carries the event."""
    held = order.items.filter(course=course, fired_at__isnull=True).exclude(
        status=ItemStatus.CANCELLED
    )
    item_ids = [str(pk) for pk in held.order_by("created_at", "id").values_list("pk", flat=True)]
    if not item_ids:
        return None
    OrderItem.objects.filter(pk__in=item_ids).update(fired_at=now, updated_at=now)
    firing = CourseFiring.objects.create(
        order=order, course=course, item_ids=item_ids, fired_at=now, fired_by=actor
    )
    history.write(order=order, actor=actor, action=Action.COURSE_FIRED, to_value=course, at=now)
    # Firing stamps fired_at and moves no item: the order's status (from its items' statuses
    # only) stays what it is.
    _touch_order_unmoved(order, now)
    return firing


def _fire_next_course_if_due(order: Order, now, items=None) -> None:
    """The restaurant's automatic firing: the lowest held course fires once every live item
    of the courses before it is SERVED (`items`: all of the order's, when the caller holds
    them locked)."""
    if items is None:
        items = order.items.exclude(status=ItemStatus.CANCELLED).only("course", "fired_at", "status")
    live = [(i.course, i.fired_at, i.status) for i in items if i.status != ItemStatus.CANCELLED]
    held = [course for course, fired, _ in live if fired is None]
    if not held:
        return
    following = min(held)
    if all(status == ItemStatus.SERVED for course, _, status in live if course < following):
        _fire(order, following, actor=None, now=now)


@transaction.atomic
def order_fire_course(*, actor: User, order: Order, course: int) -> CourseFiring:
    order = _lock_order(actor, order)
    _require_role(actor, ACTION_ROLES["fire"], "fire courses")
    if order.status not in ACTIVE_ORDER_STATUSES:
        raise Conflict(
            f"Order is {order.status}: a course can only be fired while the order is "
            "CONFIRMED, IN_PROGRESS or READY."
        )
    firing = _fire(order, course, actor=actor, now=timezone.now())
    if firing is None:
        raise Conflict(f"Course {course} of this order has no held item: nothing to fire.")
    return firing


@transaction.atomic
def order_set_priority(*, actor: User, order: Order, priority: str) -> Order:
    """NORMAL or RUSH. Setting the priority an order already has changes nothing."""
    order = _lock_order(actor, order)
    _require_role(actor, ACTION_ROLES["priority"], "change an order's priority")
    if priority not in Priority.values:
        raise ValidationError({"priority": [f"Unknown priority {priority!r}."]})
    if order.status in FINAL_ORDER_STATUSES:
        raise Conflict(
            f"Order is {order.status}: the priority of a finished order stays "
            f"{order.priority}, it cannot become {priority}."
        )
    if order.priority != priority:
        previous = order.priority
        order.priority = priority
        order.updated_at = timezone.now()
        order.save(update_fields=["priority", "updated_at"])
        history.write(order=order, actor=actor, action=Action.PRIORITY, from_value=previous,
                      to_value=priority, at=order.updated_at)
    return order


@transaction.atomic
def item_acknowledge_allergy(*, actor: User, item: OrderItem) -> OrderItem:
    order = _lock_order_of(actor, item)
    item = _lock_item(order, item.pk)
    _require_role(actor, ACTION_ROLES["acknowledge_allergy"], "acknowledge allergies")
    if order.status not in ACTIVE_ORDER_STATUSES:
        raise Conflict(
            f"Order is {order.status}: allergies are acknowledged while the order is "
            "CONFIRMED, IN_PROGRESS or READY."
        )
    if not item.allergies:
        raise Conflict("The item has no declared allergies to acknowledge.")
    if item.allergy_acknowledged_at is not None:
        raise Conflict("The item's allergies are already acknowledged.")
    if item.status == ItemStatus.CANCELLED:
        raise Conflict("The item is CANCELLED: there is nothing to cook.")
    now = timezone.now()
    item.allergy_acknowledged_at = item.updated_at = now
    item.allergy_acknowledged_by = actor
    item.save(update_fields=["allergy_acknowledged_at", "allergy_acknowledged_by", "updated_at"])
    history.write(order=order, actor=actor, action=Action.ALLERGY_ACKNOWLEDGED, item=item,
                  to_value=",".join(item.allergies), at=now)
    # The acknowledgement moves no item: the order's status (from its items' statuses only)
    # stays what it is.
    _touch_order_unmoved(order, now)
    return item


@transaction.atomic
def order_call_pickup(*, actor: User, order: Order) -> Order:
    """Expo calls a READY order for pickup: the history entry is the call (and, through its
    signal, the `order.pickup.called` event for the waiter's POS). Calling again calls again.

    The order is locked with its session and table: the event's payload names the table."""
    order = _lock_order(actor, order, related=("table_session__table",))
    _require_role(actor, ACTION_ROLES["call"], "call orders for pickup")
    if order.status != OrderStatus.READY:
        raise Conflict(f"Order is {order.status}: only a READY order is called for pickup.")
    history.write(order=order, actor=actor, action=Action.PICKUP_CALLED, to_value=order.status)
    return order
