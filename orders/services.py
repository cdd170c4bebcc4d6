"""Every state change of the ordering domain, in one place.

Views, serializers, the admin and management commands call these functions; none of them
re-implements a rule. Each takes the acting user, runs in a transaction and locks the rows it
reads before writing them, so that concurrent requests serialise instead of racing.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from .errors import Conflict, Forbidden, IllegalTransition, NotFound
from .models import (
    ItemStatus,
    MenuItem,
    Order,
    OrderItem,
    OrderStatus,
    Role,
    Table,
    TableSession,
    TableSessionStatus,
    User,
)

# (from, to) -> roles that may make that item move. Anything not listed is illegal (409);
# a listed move by a role not named is forbidden (403).
_KITCHEN = frozenset({Role.KITCHEN, Role.MANAGER})
_FLOOR = frozenset({Role.WAITER, Role.MANAGER})
ITEM_TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    (ItemStatus.PENDING, ItemStatus.IN_PROGRESS): _KITCHEN,
    (ItemStatus.IN_PROGRESS, ItemStatus.READY): _KITCHEN,
    (ItemStatus.IN_PROGRESS, ItemStatus.PENDING): _KITCHEN,  # recall
    (ItemStatus.READY, ItemStatus.IN_PROGRESS): _KITCHEN,  # recall
    (ItemStatus.READY, ItemStatus.SERVED): _FLOOR,
    (ItemStatus.PENDING, ItemStatus.CANCELLED): _FLOOR,
    (ItemStatus.IN_PROGRESS, ItemStatus.CANCELLED): _FLOOR,
}

# Orders whose items the kitchen and floor may still move.
ACTIVE_ORDER_STATUSES = frozenset(
    {OrderStatus.CONFIRMED, OrderStatus.IN_PROGRESS, OrderStatus.READY}
)
FINAL_ORDER_STATUSES = frozenset({OrderStatus.SERVED, OrderStatus.CANCELLED})
_STARTED = frozenset({ItemStatus.IN_PROGRESS, ItemStatus.READY, ItemStatus.SERVED})
_DONE = frozenset({ItemStatus.READY, ItemStatus.SERVED})


def role_of(actor: User) -> str:
    """Superusers act as managers of whatever restaurant they touch."""
    return Role.MANAGER if actor.is_superuser else actor.role


def derive_order_status(item_statuses) -> str:
    """The status of a confirmed order, as docs/contract.md derives it from its items."""
    live = [s for s in item_statuses if s != ItemStatus.CANCELLED]
    if not live:
        return OrderStatus.CANCELLED
    if all(s == ItemStatus.SERVED for s in live):
        return OrderStatus.SERVED
    if all(s in _DONE for s in live):
        return OrderStatus.READY
    if any(s in _STARTED for s in live):
        return OrderStatus.IN_PROGRESS
    return OrderStatus.CONFIRMED


def _require_role(actor: User, allowed: frozenset[str], action: str) -> None:
    role = role_of(actor)
    if role not in allowed:
        raise Forbidden(f"A {role} may not {action}.")


def _require_same_restaurant(actor: User, restaurant_id) -> None:
    # Views only hand over objects their selectors found in the caller's restaurant; this
    # guards every other caller (admin, commands, shell) the same way.
    if not actor.is_superuser and actor.restaurant_id != restaurant_id:
        raise NotFound("Not found.")


def _lock_order(actor: User, order_id) -> Order:
    try:
        order = Order.objects.select_for_update().get(pk=order_id)
    except Order.DoesNotExist:
        raise NotFound("Order not found.") from None
    _require_same_restaurant(actor, order.restaurant_id)
    return order


def _lock_session(actor: User, session_id) -> TableSession:
    try:
        session = (
            TableSession.objects.select_for_update(of=("self",))
            .select_related("table")
            .get(pk=session_id)
        )
    except TableSession.DoesNotExist:
        raise NotFound("Table session not found.") from None
    _require_same_restaurant(actor, session.table.restaurant_id)
    return session


def _lock_item(order: Order, item_id) -> OrderItem:
    try:
        item = OrderItem.objects.select_for_update().get(pk=item_id, order=order)
    except OrderItem.DoesNotExist:
        raise NotFound("Order item not found.") from None
    item.order = order  # the locked row, for whoever reads item.order next (event receivers)
    return item


def _require_draft(order: Order, action: str) -> None:
    if order.status != OrderStatus.DRAFT:
        raise Conflict(
            f"Order is {order.status}: items can only be {action} while the order is DRAFT."
        )


def _touch_order(order: Order, now) -> None:
    """Record that the order (or one of its items) changed, re-deriving its status."""
    order.updated_at = now
    fields = ["updated_at"]
    if order.status in ACTIVE_ORDER_STATUSES:
        derived = derive_order_status(order.items.values_list("status", flat=True))
        if derived != order.status:
            order.status = derived
            fields.append("status")
    order.save(update_fields=fields)


def _validated(instance, exclude=()):
    """Field validation for every caller, not only the API: admin and shell input too.

    Uniqueness and constraints are the database's to enforce (a query each, and racy here)."""
    instance.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    return instance


# --- Table sessions ---------------------------------------------------------------------------


@transaction.atomic
def table_session_open(*, actor: User, table: Table, guests: int | None = None) -> TableSession:
    _require_role(actor, _FLOOR, "seat a table")
    try:
        table = Table.objects.select_for_update().get(pk=table.pk)
    except Table.DoesNotExist:
        raise NotFound("Table not found.") from None
    _require_same_restaurant(actor, table.restaurant_id)
    if not table.active:
        raise Conflict(f"Table {table.name} is not in service.")
    if TableSession.objects.filter(table=table, status=TableSessionStatus.OPEN).exists():
        raise Conflict(f"Table {table.name} already has an open session.")
    session = TableSession(table=table, guests=guests, opened_by=actor)
    _validated(session, exclude=["table", "opened_by"])
    try:
        with transaction.atomic():
            session.save()
    except IntegrityError:
        # The one-open-session constraint is the last word if the row lock was bypassed.
        raise Conflict(f"Table {table.name} already has an open session.") from None
    return session


@transaction.atomic
def table_session_close(*, actor: User, session: TableSession) -> TableSession:
    _require_role(actor, _FLOOR, "close a table session")
    session = _lock_session(actor, session.pk)
    if session.status != TableSessionStatus.OPEN:
        raise IllegalTransition(
            kind="table session", current=session.status, target=TableSessionStatus.CLOSED
        )
    open_orders = session.orders.exclude(status__in=FINAL_ORDER_STATUSES).count()
    if open_orders:
        raise Conflict(
            f"Table session has {open_orders} open order(s): serve or cancel them before "
            "closing it."
        )
    session.status = TableSessionStatus.CLOSED
    session.closed_at = session.updated_at = timezone.now()
    session.save(update_fields=["status", "closed_at", "updated_at"])
    return session


# --- Orders -------------------------------------------------------------------------------------


@transaction.atomic
def order_create(*, actor: User, table_session: TableSession, notes: str = "") -> Order:
    _require_role(actor, _FLOOR, "create orders")
    session = _lock_session(actor, table_session.pk)
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
    return order


@transaction.atomic
def order_item_add(
    *,
    actor: User,
    order: Order,
    qty: int,
    notes: str = "",
    menu_item: MenuItem | None = None,
    name: str | None = None,
    unit_price: Decimal | None = None,
) -> OrderItem:
    _require_role(actor, _FLOOR, "add items to orders")
    order = _lock_order(actor, order.pk)
    _require_draft(order, "added")
    if menu_item is not None:
        if menu_item.restaurant_id != order.restaurant_id:
            raise NotFound("Menu item not found.")
        if not menu_item.active:
            raise Conflict(f"{menu_item.name} is not available: it is off the menu.")
        name, unit_price, station = menu_item.name, menu_item.price, menu_item.station
    else:
        if not name or unit_price is None:
            raise ValidationError(
                {"name": ["Give either menuItemId, or name and unitPrice."]}
            )
        station = ""
    now = timezone.now()
    item = OrderItem(
        order=order,
        menu_item=menu_item,
        name=name,
        qty=qty,
        unit_price=unit_price,
        station=station,
        notes=notes or "",
        created_at=now,
        updated_at=now,
    )
    _validated(item, exclude=["order", "menu_item"])
    item.save()
    _touch_order(order, now)
    return item


@transaction.atomic
def order_item_update(*, actor: User, item: OrderItem, **changes) -> OrderItem:
    """Edit a line of a DRAFT order: qty and notes; name and unit_price for free-form lines."""
    _require_role(actor, _FLOOR, "edit order items")
    order = _lock_order(actor, item.order_id)
    _require_draft(order, "edited")
    item = _lock_item(order, item.pk)
    allowed = {"qty", "notes"} | ({"name", "unit_price"} if item.menu_item_id is None else set())
    refused = set(changes) - allowed
    if refused:
        raise ValidationError(
            {f: ["Copied from the menu: it cannot be changed on the order."] for f in refused}
        )
    if not changes:
        return item
    if "notes" in changes:
        changes["notes"] = changes["notes"] or ""
    for field, value in changes.items():
        setattr(item, field, value)
    now = timezone.now()
    item.updated_at = now
    _validated(item, exclude=["order", "menu_item"])
    item.save(update_fields=[*changes, "updated_at"])
    _touch_order(order, now)
    return item


@transaction.atomic
def order_item_remove(*, actor: User, item: OrderItem) -> None:
    _require_role(actor, _FLOOR, "remove order items")
    order = _lock_order(actor, item.order_id)
    _require_draft(order, "removed")
    _lock_item(order, item.pk).delete()
    _touch_order(order, timezone.now())


@transaction.atomic
def order_confirm(*, actor: User, order: Order) -> Order:
    _require_role(actor, _FLOOR, "confirm orders")
    order = _lock_order(actor, order.pk)
    if order.status != OrderStatus.DRAFT:
        raise IllegalTransition(kind="order", current=order.status, target=OrderStatus.CONFIRMED)
    if not order.items.exists():
        raise IllegalTransition(
            kind="order", current=order.status, target=OrderStatus.CONFIRMED,
            reason="it has no items",
        )
    order.status = OrderStatus.CONFIRMED
    order.confirmed_at = order.updated_at = timezone.now()
    order.save(update_fields=["status", "confirmed_at", "updated_at"])
    return order


@transaction.atomic
def order_cancel(*, actor: User, order: Order, reason: str = "") -> Order:
    """Cancel an order and its open items.

    Refused once any item is READY or SERVED: food that has been cooked or served is not
    voided by cancelling the whole order (cancel the remaining items one by one instead).
    """
    _require_role(actor, _FLOOR, "cancel orders")
    order = _lock_order(actor, order.pk)
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
    for item in items:
        item.status = ItemStatus.CANCELLED
        item.updated_at = now
        item.save(update_fields=["status", "updated_at"])
    order.status = OrderStatus.CANCELLED
    order.cancel_reason = (reason or "")[:500]
    order.updated_at = now
    order.save(update_fields=["status", "cancel_reason", "updated_at"])
    return order


@transaction.atomic
def item_set_status(
    *, actor: User, item: OrderItem, status: str, expected_status: str | None = None
) -> OrderItem:
    """Move one item; the order's status follows from its items.

    `expected_status` is the status the caller saw: if the item has moved since (another
    screen got there first), the move is refused instead of applied to a state nobody saw.
    """
    if status not in ItemStatus.values:
        raise ValidationError({"status": [f"Unknown item status {status!r}."]})
    # The order row is the lock: moves of different items of one order serialise, so the
    # derived order status is computed from a consistent set of items.
    order = _lock_order(actor, item.order_id)
    item = _lock_item(order, item.pk)
    current = item.status
    if expected_status is not None and expected_status != current:
        raise IllegalTransition(
            kind="item", current=current, target=status,
            reason=f"it is {current} now, not {expected_status}; another screen moved it first",
        )
    allowed_roles = ITEM_TRANSITIONS.get((current, status))
    if allowed_roles is None:
        raise IllegalTransition(kind="item", current=current, target=status)
    if order.status not in ACTIVE_ORDER_STATUSES:
        raise IllegalTransition(
            kind="item", current=current, target=status, reason=f"its order is {order.status}"
        )
    role = role_of(actor)
    if role not in allowed_roles:
        raise Forbidden(f"A {role} may not move an item from {current} to {status}.")
    now = timezone.now()
    item.status = status
    item.updated_at = now
    item.save(update_fields=["status", "updated_at"])
    _touch_order(order, now)
    return item


# --- Kitchen display ------------------------------------------------------------------------

_BUMP_PATH = {
    ItemStatus.PENDING: [ItemStatus.IN_PROGRESS, ItemStatus.READY],
    ItemStatus.IN_PROGRESS: [ItemStatus.READY],
}


@transaction.atomic
def order_bump(*, actor: User, order: Order) -> Order:
    """The kitchen bumps a ticket: every item still cooking becomes READY.

    Each step is an ordinary item move (same rules, same events), all in one transaction.
    """
    order = _lock_order(actor, order.pk)
    items = list(
        order.items.select_for_update()
        .filter(status__in=list(_BUMP_PATH))
        .order_by("created_at", "id")
    )
    if not items:
        raise Conflict(f"Order is {order.status}: it has no item left to bump.")
    for item in items:
        for status in _BUMP_PATH[item.status]:
            item_set_status(actor=actor, item=item, status=status)
    return Order.objects.get(pk=order.pk)


@transaction.atomic
def order_recall(*, actor: User, order: Order) -> Order:
    """Undo a bump: the ticket's READY items go back to IN_PROGRESS."""
    order = _lock_order(actor, order.pk)
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
    _require_role(actor, _FLOOR, "delete orders")
    order = _lock_order(actor, order.pk)
    if order.status != OrderStatus.DRAFT:
        raise Conflict(
            f"Order is {order.status}: only a DRAFT order can be deleted; cancel it instead."
        )
    order.delete()
