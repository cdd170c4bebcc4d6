"""The rules as data (who may make which move), the derivation of an order's status, and
the locking and checking helpers every service shares."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import F

from ..errors import Conflict, Forbidden, NotFound
from ..models import (
    ItemStatus,
    MenuItem,
    Order,
    OrderItem,
    OrderStatus,
    Restaurant,
    Role,
    TableSession,
    User,
)


# (from, to) -> roles that may make that item move. Anything not listed is illegal (409);
# a listed move by a role not named is forbidden (403).
_KITCHEN = frozenset({Role.KITCHEN, Role.MANAGER})
_FLOOR = frozenset({Role.WAITER, Role.MANAGER})
_ANY_STAFF = frozenset({Role.WAITER, Role.KITCHEN, Role.MANAGER})
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
# Items may be added while DRAFT, and after sending as add-ons on the same ticket.
ADDABLE_ORDER_STATUSES = ACTIVE_ORDER_STATUSES | {OrderStatus.DRAFT}

# Who may do each kitchen-operation action (docs/contract.md, "Kitchen operations").
ACTION_ROLES: dict[str, frozenset[str]] = {
    "fire": _ANY_STAFF,
    "priority": _ANY_STAFF,
    "acknowledge_allergy": _KITCHEN,
    "call": _KITCHEN,
    "availability": _KITCHEN,
    "menu_edit": frozenset({Role.MANAGER}),
}
UNSET = object()  # an argument not given (as opposed to an explicit None)
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


def _scope(actor: User, restaurant_id):
    """The restaurant a row must belong to for `actor`: a staff member's own; for a
    superuser, the one their reference names (a view's), or any (None: the admin, a shell)."""
    return restaurant_id if actor.is_superuser else actor.restaurant_id


def _lock_row(actor: User, model, pk, what: str, restaurant_id=None, rows=None):
    """The row, locked until commit, read once with the tenancy filter: another
    restaurant's is not found, like a missing one. `rows`: the locking query to read it
    from, when it brings more than the row (default: the row alone, FOR UPDATE)."""
    rows = model.objects.select_for_update() if rows is None else rows
    scope = _scope(actor, restaurant_id)
    try:
        row = (rows if scope is None else rows.filter(restaurant_id=scope)).get(pk=pk)
    except model.DoesNotExist:
        raise NotFound(f"{what} not found.") from None
    _require_same_restaurant(actor, row.restaurant_id)
    return row


def _lock_order(actor: User, order: Order, related=()) -> Order:
    """`order` may be a reference (`selectors.order_ref`): only its pk and restaurant count.

    Services lock before checking the role or the input: another restaurant's order, or a
    missing one, is a 404 whoever asks and whatever they send (the view reads nothing first).
    `related`: select_related's lookups, read with the row but not locked (nobody waits on
    them)."""
    rows = Order.objects.select_for_update(of=("self",)).select_related(*related) if related else None
    return _lock_row(actor, Order, order.pk, "Order", order.restaurant_id, rows)


def _lock_order_of(actor: User, item: OrderItem) -> Order:
    """The order of `item` (a reference, `selectors.order_item_ref`, or a loaded item)."""
    restaurant_id = item.order.restaurant_id if OrderItem.order.is_cached(item) else None
    return _lock_row(actor, Order, item.order_id, "Order", restaurant_id)


def _lock_session(actor: User, session: TableSession) -> TableSession:
    """`session` may be a reference (`selectors.table_session_ref`)."""
    table = session.table if TableSession.table.is_cached(session) else None
    scope = _scope(actor, table.restaurant_id if table is not None else None)
    rows = TableSession.objects.select_for_update(of=("self",)).select_related("table")
    try:
        session = (rows if scope is None else rows.filter(table__restaurant_id=scope)).get(pk=session.pk)
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


def _lock_items(order: Order, item_id) -> tuple[OrderItem, list[OrderItem]]:
    """The item and every other of the locked order, locked (one statement): a move derives
    the order's status from them. Whoever locks items holds the order's lock first, so
    locking the siblings too waits on nobody new."""
    try:
        item_id = OrderItem._meta.pk.to_python(item_id)
    except ValidationError:
        raise NotFound("Order item not found.") from None
    items = _lock_all_items(order)
    item = next((line for line in items if line.pk == item_id), None)
    if item is None:
        raise NotFound("Order item not found.")
    return item, items


def _lock_all_items(order: Order) -> list[OrderItem]:
    """Every item of the locked order, locked (one statement), oldest first."""
    items = list(OrderItem.objects.select_for_update().filter(order=order).order_by("created_at", "id"))
    for line in items:
        line.order = order  # the locked row, for whoever reads item.order next (event receivers)
    return items


def hold_items(order: Order, items) -> None:
    """Leave `items` (all of the order's, in created_at, id order, as stored) loaded on the
    order where prefetching would: the event payloads and the answer read them again for
    nothing otherwise."""
    held = OrderItem.objects.filter(order=order).order_by("created_at", "id")
    held._result_cache = list(items)
    held._prefetch_done = True
    order._prefetched_objects_cache = {**getattr(order, "_prefetched_objects_cache", {}), "items": held}


def _require_draft(order: Order, action: str) -> None:
    if order.status != OrderStatus.DRAFT:
        raise Conflict(
            f"Order is {order.status}: items can only be {action} while the order is DRAFT."
        )


def _touch_order(order: Order, now, statuses=None) -> None:
    """Record that the order (or one of its items) changed, re-deriving its status (from
    `statuses` when the caller already knows every item's, else from the database)."""
    order.updated_at = now
    fields = ["updated_at"]
    if order.status in ACTIVE_ORDER_STATUSES:
        if statuses is None:
            statuses = order.items.values_list("status", flat=True)
        if _rederive(order, statuses):
            fields.append("status")
    order.save(update_fields=fields)


def _rederive(order: Order, statuses) -> bool:
    """Give the active order the status its items' `statuses` derive (not saved); True when
    that changed it."""
    if order.status not in ACTIVE_ORDER_STATUSES:
        return False
    derived = derive_order_status(statuses)
    if derived == order.status:
        return False
    order.status = derived
    return True


def _touch_order_unmoved(order: Order, now) -> None:
    """Record a change of the order (or of its items) that moved no item: its status is
    derived from its items' statuses alone (`derive_order_status`), was derived when they
    last moved, and none moved since, so there is nothing to re-derive nor to read."""
    order.updated_at = now
    order.save(update_fields=["updated_at"])


def _validated(instance, exclude=()):
    """Field validation for every caller, not only the API: admin and shell input too.

    Uniqueness and constraints are the database's to enforce (a query each, and racy here)."""
    instance.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    return instance


def _lock_menu_item(actor: User, menu_item_id, restaurant_id=None) -> MenuItem:
    """`restaurant_id`: a superuser's scope, as for `_lock_row` (a reference's restaurant)."""
    return _lock_row(actor, MenuItem, menu_item_id, "Menu item", restaurant_id)


def _restaurant_of(actor: User, order: Order) -> Restaurant:
    # The actor's restaurant came with the actor (one query for both); a superuser's is read.
    return actor.restaurant if actor.restaurant_id == order.restaurant_id else order.restaurant


def _order_lines(order: Order) -> list[tuple]:
    """(id, status, course, fired_at, line total) of every item of the locked order."""
    line_total = F("qty") * (F("unit_price") + F("modifiers_price"))
    return list(
        order.items.annotate(line=line_total).values_list("pk", "status", "course", "fired_at", "line")
    )
