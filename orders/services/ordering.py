"""Orders as a whole: create, confirm (with its ticket number), cancel, bump, recall and
discarding a draft."""

from __future__ import annotations

import zoneinfo

from django.db import connection, transaction
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
    TicketCounter,
    User,
)
from .rules import (
    _FLOOR,
    FINAL_ORDER_STATUSES,
    _DONE,
    _require_role,
    _lock_order,
    _lock_all_items,
    _lock_session,
    _validated,
    _restaurant_of,
    hold_items,
)
from .items import _move_items


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
    order = _lock_order(actor, order)
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
    order.service_date = _ticket_day(_restaurant_of(actor, order), now)
    order.number = _fire_and_number(order, lowest, now)
    for item in items:
        item.order = order
        if item.course == lowest:
            item.fired_at = now
    hold_items(order, items)
    order.status = OrderStatus.CONFIRMED
    order.confirmed_at = order.updated_at = now
    order.save(update_fields=["status", "confirmed_at", "updated_at", "number", "service_date"])
    history.write(order=order, actor=actor, action=Action.ORDER_CONFIRMED,
                  from_value=OrderStatus.DRAFT, to_value=order.status, at=now)
    return order


def _ticket_day(restaurant, now):
    """Ticket numbers restart at midnight in the restaurant's time zone."""
    return timezone.localdate(now, zoneinfo.ZoneInfo(restaurant.timezone))


def _fire_and_number(order: Order, course: int, now) -> int:
    """Fire the order's items of `course` and take the next ticket number of its restaurant's
    day (`order.service_date`): one statement on PostgreSQL, two elsewhere."""
    item, quote = OrderItem._meta, connection.ops.quote_name
    take, params = _next_ticket_number_sql(order.restaurant_id, order.service_date)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            column = {f: quote(item.get_field(f).column) for f in ("order", "course", "fired_at")}
            cursor.execute(
                f"WITH fired AS (UPDATE {quote(item.db_table)} SET {column['fired_at']} = %s "
                f"WHERE {column['order']} = %s AND {column['course']} = %s), "
                f"taken AS ({take}) SELECT * FROM taken",
                [
                    item.get_field("fired_at").get_db_prep_value(now, connection),
                    item.get_field("order").get_db_prep_value(order.pk, connection),
                    course, *params,
                ],
            )
        else:
            OrderItem.objects.filter(order=order, course=course).update(fired_at=now)
            cursor.execute(take, params)
        return cursor.fetchone()[0]


def _next_ticket_number_sql(restaurant_id, day):
    """The upsert of the day's counter row that returns its next number (PostgreSQL and
    SQLite 3.35+ both have it with RETURNING).

    The row stays locked until the confirm commits: the restaurant's confirms of the day
    take their numbers one after the other, never the same one, with no collision to retry
    (they serialize on the restaurant's event sequence until commit anyway), and a confirm
    rolled back gives its number back. The day's highest number on its orders (an index
    probe) is the floor: a number given without the counter (by the previous release,
    confirming while a deploy migrates) is never given again."""
    quote, counter, order = connection.ops.quote_name, TicketCounter._meta, Order._meta
    table, last = quote(counter.db_table), quote(counter.get_field("last_number").column)
    key = [quote(counter.get_field(f).column) for f in ("restaurant", "service_date")]
    of_day = [quote(order.get_field(f).column) for f in ("restaurant", "service_date")]
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    sql = (
        f"INSERT INTO {table} ({key[0]}, {key[1]}, {last}) VALUES (%s, %s, 1 + COALESCE(("
        f"SELECT MAX({quote(order.get_field('number').column)}) FROM {quote(order.db_table)} "
        f"WHERE {of_day[0]} = %s AND {of_day[1]} = %s), 0)) "
        f"ON CONFLICT ({key[0]}, {key[1]}) DO UPDATE "
        f"SET {last} = {greatest}({table}.{last} + 1, excluded.{last}) RETURNING {last}"
    )
    values = [
        counter.get_field("restaurant").get_db_prep_value(restaurant_id, connection),
        counter.get_field("service_date").get_db_prep_value(day, connection),
    ]
    return sql, values * 2


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

    Each step is an ordinary item move (same rules, same events), all in one transaction;
    the order and its items are locked once for all of them.
    """
    order = _lock_order(actor, order)
    items = _lock_all_items(order)
    # held courses wait
    due = [item for item in items if item.status in _BUMP_PATH and item.fired_at is not None]
    if not due:
        raise Conflict(f"Order is {order.status}: it has no fired item left to bump.")
    moves = [(item, status) for item in due for status in _BUMP_PATH[item.status]]
    _move_items(actor, order, items, moves)
    hold_items(order, items)
    return order


@transaction.atomic
def order_recall(*, actor: User, order: Order) -> Order:
    """Undo a bump: the ticket's READY items go back to IN_PROGRESS."""
    order = _lock_order(actor, order)
    items = _lock_all_items(order)
    due = [item for item in items if item.status == ItemStatus.READY]
    if not due:
        raise Conflict(f"Order is {order.status}: it has no READY item to recall.")
    _move_items(actor, order, items, [(item, ItemStatus.IN_PROGRESS) for item in due])
    hold_items(order, items)
    return order


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
