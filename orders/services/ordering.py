"""Orders as a whole: create, confirm (with its ticket number), cancel, bump, recall and
discarding a draft."""

from __future__ import annotations

import zoneinfo

from django.db import IntegrityError, transaction
from django.db.models import Max, Subquery
from django.utils import timezone

from .. import history
from ..history import Action
from ..errors import Conflict, IllegalTransition
from ..models import (
    ItemStatus,
    Order,
    OrderItem,
    OrderStatus,
    TableSession,
    TableSessionStatus,
    User,
)
from .rules import (
    _FLOOR,
    FINAL_ORDER_STATUSES,
    _DONE,
    _require_role,
    _lock_order,
    _lock_session,
    _validated,
    _restaurant_of,
    hold_items,
)
from .items import item_set_status


# --- Orders -------------------------------------------------------------------------------------


@transaction.atomic
def order_create(*, actor: User, table_session: TableSession, notes: str = "") -> Order:
    session = _lock_session(actor, table_session)
    _require_role(actor, _FLOOR, "create orders")
    if session.status != TableSessionStatus.OPEN:
        raise Conflict("Table session is CLOSED: open a new session for the table first.")
    order = Order(
        restaurant_id=session.table.restaurant_id,
        table_session=session,
        notes=notes or "",
        created_by=actor,
    )
    _validated(order, exclude=["restaurant", "table_session", "created_by"])
    order.save()
    history.write(order=order, actor=actor, action=Action.ORDER_CREATED, to_value=order.status,
                  at=order.created_at)
    hold_items(order, [])
    return order


@transaction.atomic
def order_confirm(*, actor: User, order: Order) -> Order:
    now = timezone.now()
    # The day's last ticket number comes with the lock (the unique constraint still decides),
    # when the restaurant is known before: the reference's, else the actor's.
    known = _restaurant_of(actor, order) if order.restaurant_id is not None else actor.restaurant
    rows = Order.objects.select_for_update()
    if known is not None:
        day = _ticket_day(known, now)
        last = _same_day(known.pk, day).order_by("-number").values("number")[:1]
        rows = rows.annotate(last_number=Subquery(last))
    order = _lock_order(actor, order, rows=rows)
    if known is None or order.restaurant_id != known.pk:  # a bare reference, of another one
        day = _ticket_day(_restaurant_of(actor, order), now)
        order.last_number = _same_day(order.restaurant_id, day).aggregate(last=Max("number"))["last"]
    _require_role(actor, _FLOOR, "confirm orders")
    if order.status != OrderStatus.DRAFT:
        raise IllegalTransition(kind="order", current=order.status, target=OrderStatus.CONFIRMED)
    # Read once: the lowest course fires with the confirmation, the others are held until
    # fired; order.new and the answer show the same items. Item changes lock the order
    # first, so they stay as read until commit.
    items = list(OrderItem.objects.filter(order=order).order_by("created_at", "id"))
    if not items:
        raise IllegalTransition(
            kind="order", current=order.status, target=OrderStatus.CONFIRMED,
            reason="it has no items",
        )
    lowest = min(item.course for item in items)
    OrderItem.objects.filter(order=order, course=lowest).update(fired_at=now)
    for item in items:
        item.order = order
        if item.course == lowest:
            item.fired_at = now
    hold_items(order, items)
    order.status = OrderStatus.CONFIRMED
    order.confirmed_at = order.updated_at = now
    _save_with_ticket_number(
        order, day, order.last_number, fields=["status", "confirmed_at", "updated_at"]
    )
    history.write(order=order, actor=actor, action=Action.ORDER_CONFIRMED,
                  from_value=OrderStatus.DRAFT, to_value=order.status, at=now)
    return order


def _ticket_day(restaurant, now):
    """Ticket numbers restart at midnight in the restaurant's time zone."""
    return timezone.localdate(now, zoneinfo.ZoneInfo(restaurant.timezone))


def _same_day(restaurant_id, day):
    return Order.objects.filter(restaurant_id=restaurant_id, service_date=day)


def _save_with_ticket_number(order: Order, day, last, *, fields) -> None:
    """Save the order with the next ticket number of the restaurant's day (`last`: the
    day's highest so far, as read with the order's lock).

    The unique constraint (restaurant, day, number) is the arbiter: a concurrent confirm
    that took the same number first makes this save fail inside its savepoint (PostgreSQL
    holds the second writer on the index until the first commits), and it retries with
    the next one, read again."""
    same_day = _same_day(order.restaurant_id, day)
    for _ in range(20):
        order.number = (last or 0) + 1
        order.service_date = day
        try:
            with transaction.atomic():
                order.save(update_fields=[*fields, "number", "service_date"])
            return
        except IntegrityError:
            last = same_day.aggregate(last=Max("number"))["last"]
    raise Conflict("Too many orders confirmed at once; try again.")


@transaction.atomic
def order_cancel(*, actor: User, order: Order, reason: str = "") -> Order:
    """Cancel an order and its open items.

    Refused once any item is READY or SERVED: food that has been cooked or served is not
    voided by cancelling the whole order (cancel the remaining items one by one instead).
    """
    order = _lock_order(actor, order)
    _require_role(actor, _FLOOR, "cancel orders")
    if order.status in FINAL_ORDER_STATUSES:
        raise IllegalTransition(kind="order", current=order.status, target=OrderStatus.CANCELLED)
    items = list(
        order.items.select_for_update().exclude(status=ItemStatus.CANCELLED).order_by("created_at")
    )
    done = [i for i in items if i.status in _DONE]
    if done:
        raise IllegalTransition(
            kind="order", current=order.status, target=OrderStatus.CANCELLED,
            reason=f"{len(done)} item(s) are already READY or SERVED; cancel the others one by one",
        )
    now = timezone.now()
    previous_status = order.status
    for item in items:
        previous = item.status
        item.status = ItemStatus.CANCELLED
        item.updated_at = now
        item.save(update_fields=["status", "updated_at"])
        history.item_moved(order=order, item=item, actor=actor, previous=previous, at=now)
    order.status = OrderStatus.CANCELLED
    order.cancel_reason = (reason or "")[:500]
    order.updated_at = now
    order.save(update_fields=["status", "cancel_reason", "updated_at"])
    history.write(order=order, actor=actor, action=Action.ORDER_CANCELLED,
                  from_value=previous_status, to_value=order.status, reason=order.cancel_reason,
                  at=now)
    return order


# --- Kitchen display ------------------------------------------------------------------------

_BUMP_PATH = {
    ItemStatus.PENDING: [ItemStatus.IN_PROGRESS, ItemStatus.READY],
    ItemStatus.IN_PROGRESS: [ItemStatus.READY],
}


@transaction.atomic
def order_bump(*, actor: User, order: Order) -> Order:
    """The kitchen bumps a ticket: every fired item still cooking becomes READY.

    Each step is an ordinary item move (same rules, same events), all in one transaction.
    """
    order = _lock_order(actor, order)
    items = list(
        order.items.select_for_update()
        .filter(status__in=list(_BUMP_PATH), fired_at__isnull=False)  # held courses wait
        .order_by("created_at", "id")
    )
    if not items:
        raise Conflict(f"Order is {order.status}: it has no fired item left to bump.")
    for item in items:
        for status in _BUMP_PATH[item.status]:
            item_set_status(actor=actor, item=item, status=status)
    return Order.objects.get(pk=order.pk)


@transaction.atomic
def order_recall(*, actor: User, order: Order) -> Order:
    """Undo a bump: the ticket's READY items go back to IN_PROGRESS."""
    order = _lock_order(actor, order)
    items = list(
        order.items.select_for_update().filter(status=ItemStatus.READY).order_by("created_at", "id")
    )
    if not items:
        raise Conflict(f"Order is {order.status}: it has no READY item to recall.")
    for item in items:
        item_set_status(actor=actor, item=item, status=ItemStatus.IN_PROGRESS)
    return Order.objects.get(pk=order.pk)


# --- Discarding a draft ---------------------------------------------------------------------


@transaction.atomic
def order_delete(*, actor: User, order: Order) -> None:
    """Discard a DRAFT order and its items. An order that reached the kitchen is history:
    it is cancelled, never deleted."""
    order = _lock_order(actor, order)
    _require_role(actor, _FLOOR, "delete orders")
    if order.status != OrderStatus.DRAFT:
        raise Conflict(
            f"Order is {order.status}: only a DRAFT order can be deleted; cancel it instead."
        )
    order.delete()
