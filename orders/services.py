"""Every state change of the ordering domain, in one place.

Views, serializers, the admin and management commands call these functions; none of them
re-implements a rule. Each takes the acting user, runs in a transaction and locks the rows it
reads before writing them, so that concurrent requests serialise instead of racing.
"""

from __future__ import annotations

import zoneinfo
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Subquery
from django.utils import timezone

from . import history
from . import modifiers as modifier_rules
from .history import Action
from .errors import (
    AllergyUnacknowledged,
    Conflict,
    CourseHeld,
    Forbidden,
    IllegalTransition,
    InvalidInput,
    ItemUnavailable,
    NotFound,
    OrderLimitExceeded,
)
from .models import (
    MAX_LINES_PER_ORDER,
    MAX_ORDER_TOTAL,
    MAX_REMAINING,
    CourseFiring,
    ItemStatus,
    MenuItem,
    Order,
    OrderItem,
    OrderStatus,
    Priority,
    Restaurant,
    Role,
    Table,
    TableSession,
    TableSessionStatus,
    User,
    validate_allergens,
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


def _lock_row(actor: User, model, pk, what: str):
    """The row, locked until commit; another restaurant's is not found, like a missing one."""
    try:
        row = model.objects.select_for_update().get(pk=pk)
    except model.DoesNotExist:
        raise NotFound(f"{what} not found.") from None
    _require_same_restaurant(actor, row.restaurant_id)
    return row


def _lock_order(actor: User, order_id) -> Order:
    return _lock_row(actor, Order, order_id, "Order")


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


def _touch_order(order: Order, now, statuses=None) -> None:
    """Record that the order (or one of its items) changed, re-deriving its status (from
    `statuses` when the caller already knows every item's, else from the database)."""
    order.updated_at = now
    fields = ["updated_at"]
    if order.status in ACTIVE_ORDER_STATUSES:
        if statuses is None:
            statuses = order.items.values_list("status", flat=True)
        derived = derive_order_status(statuses)
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
    history.write(order=order, actor=actor, action=Action.ORDER_CREATED, to_value=order.status,
                  at=order.created_at)
    return order


def _lock_menu_item(actor: User, menu_item_id) -> MenuItem:
    return _lock_row(actor, MenuItem, menu_item_id, "Menu item")


def _restaurant_of(actor: User, order: Order) -> Restaurant:
    # The actor's restaurant came with the actor (one query for both); a superuser's is read.
    return actor.restaurant if actor.restaurant_id == order.restaurant_id else order.restaurant


def _order_lines(order: Order) -> list[tuple]:
    """(id, status, course, fired_at, line total) of every item of the locked order."""
    line_total = F("qty") * (F("unit_price") + F("modifiers_price"))
    return list(
        order.items.annotate(line=line_total).values_list("pk", "status", "course", "fired_at", "line")
    )


def _require_within_bounds(lines, *, line_total: Decimal, replacing=None) -> None:
    """The order, with the new (or changed) line, stays within what every screen renders."""
    count = len(lines) + (0 if replacing else 1)
    if count > MAX_LINES_PER_ORDER:
        raise OrderLimitExceeded(
            f"An order holds at most {MAX_LINES_PER_ORDER} lines; start another order."
        )
    total = line_total + sum(
        (line for pk, status, *_, line in lines if status != ItemStatus.CANCELLED and pk != replacing),
        Decimal("0.00"),
    )
    if total > MAX_ORDER_TOTAL:
        raise OrderLimitExceeded(
            f"The order's total would be {total:.2f}; an order's total is at most "
            f"{MAX_ORDER_TOTAL}. Start another order."
        )


def _fires_at_once(lines, course: int) -> bool:
    """An add-on is fired at once when its course already is, or when it is the lowest."""
    live = [(c, fired) for _, status, c, fired, _ in lines if status != ItemStatus.CANCELLED]
    return any(c == course and fired for c, fired in live) or all(course <= c for c, _ in live)


def _availability(menu_item: MenuItem, now) -> None:
    """86 state as of `now`: an 86 whose availableAgainAt has passed is over (and saved as
    such, with its event), whether or not the relay's sweep got there first."""
    if not menu_item.available and menu_item.available_again_at and menu_item.available_again_at <= now:
        _return_to_menu(menu_item, now)


def _return_to_menu(menu_item: MenuItem, now) -> None:
    menu_item.available, menu_item.available_again_at = True, None
    if menu_item.remaining == 0:
        menu_item.remaining = None
    menu_item.updated_at = now
    menu_item.save(update_fields=["available", "available_again_at", "remaining", "updated_at"])


def _require_portions(menu_item: MenuItem, qty: int) -> None:
    if not menu_item.available:
        until = menu_item.available_again_at
        raise ItemUnavailable(
            f"{menu_item.name} is 86'd" + (f" until {until:%H:%M} UTC." if until else ".")
        )
    if menu_item.remaining is not None and qty > menu_item.remaining:
        raise ItemUnavailable(
            f"Only {menu_item.remaining} portion(s) of {menu_item.name} left; {qty} asked for."
        )


def _count_portions(menu_item: MenuItem, taken: int, now) -> None:
    """Take (or, with a negative count, give back) portions of a counted dish; the dish is
    unavailable exactly while none are left."""
    if menu_item.remaining is None or taken == 0:
        return
    was_emptied = menu_item.remaining == 0 and not menu_item.available
    menu_item.remaining = min(menu_item.remaining - taken, MAX_REMAINING)
    fields = ["remaining", "updated_at"]
    if menu_item.remaining == 0:
        menu_item.available = False
        fields.append("available")
    elif was_emptied and menu_item.available_again_at is None:
        menu_item.available = True  # emptied by its countdown, refilled by a removed line
        fields.append("available")
    menu_item.updated_at = now
    menu_item.save(update_fields=fields)


def _validated_allergies(allergies) -> list[str]:
    try:
        validate_allergens(list(allergies))
    except ValidationError as exc:
        raise ValidationError({"allergies": exc.messages}) from None
    return list(allergies)


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
    modifiers=(),
    course: int | None = None,
    seat: int | None = None,
    allergies=(),
) -> OrderItem:
    """Add a line: to a DRAFT order, or to a sent one as an add-on on the same ticket.

    Free-form lines (name and unitPrice) get no station, even when named like a dish: only
    `menu_item` routes a line to a station (docs/kitchen.md). Locks: the order, then the
    menu item (two adds racing for its last portion serialise on it).
    """
    _require_role(actor, _FLOOR, "add items to orders")
    order = _lock_order(actor, order.pk)
    if order.status not in ADDABLE_ORDER_STATUSES:
        raise Conflict(
            f"Order is {order.status}: items can only be added while it is DRAFT, CONFIRMED, "
            "IN_PROGRESS or READY."
        )
    now = timezone.now()
    if menu_item is not None:
        menu_item = _lock_menu_item(actor, menu_item.pk)
        if menu_item.restaurant_id != order.restaurant_id:
            raise NotFound("Menu item not found.")
        if not menu_item.active:
            raise Conflict(f"{menu_item.name} is not available: it is off the menu.")
        _availability(menu_item, now)
        _require_portions(menu_item, qty)
        name, unit_price, station = menu_item.name, menu_item.price, menu_item.station
        course = course or menu_item.course
    else:
        if not name or unit_price is None:
            raise ValidationError(
                {"name": ["Give either menuItemId, or name and unitPrice."]}
            )
        station = ""
    chosen = modifier_rules.resolve(menu_item, list(modifiers))
    course = course or 1
    lines = _order_lines(order)
    item = OrderItem(
        order=order,
        menu_item=menu_item,
        name=name,
        qty=qty,
        unit_price=unit_price,
        station=station,
        notes=notes or "",
        modifiers=chosen.modifiers,
        modifiers_price=chosen.price,
        course=course,
        seat=seat,
        allergens=chosen.allergens,
        allergies=_validated_allergies(allergies),
        created_at=now,
        updated_at=now,
    )
    _validated(item, exclude=["order", "menu_item", "allergy_acknowledged_by"])
    if item.unit_price + item.modifiers_price < 0:
        raise InvalidInput(
            "The modifiers take the price below zero.",
            errors={"modifiers": ["The modifiers take the price below zero."]},
        )
    _require_within_bounds(lines, line_total=item.line_total)
    if order.status != OrderStatus.DRAFT and _fires_at_once(lines, course):
        item.fired_at = now
    item.save()
    history.write(order=order, actor=actor, action=Action.ITEM_ADDED, item=item,
                  to_value=item.status, at=now)
    if menu_item is not None:
        _count_portions(menu_item, qty, now)
    _touch_order(order, now, statuses=[*(status for _, status, *_ in lines), item.status])
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
    qty_before = item.qty
    for field, value in changes.items():
        setattr(item, field, value)
    now = timezone.now()
    item.updated_at = now
    _validated(item, exclude=["order", "menu_item", "allergy_acknowledged_by"])
    _require_within_bounds(_order_lines(order), line_total=item.line_total, replacing=item.pk)
    if item.menu_item_id is not None and item.qty != qty_before:
        menu_item = _lock_menu_item(actor, item.menu_item_id)
        if item.qty > qty_before:
            _availability(menu_item, now)
            _require_portions(menu_item, item.qty - qty_before)
        _count_portions(menu_item, item.qty - qty_before, now)
    item.save(update_fields=[*changes, "updated_at"])
    history.write(order=order, actor=actor, action=Action.ITEM_UPDATED, item=item,
                  to_value=",".join(sorted(changes)), at=now)
    _touch_order(order, now)
    return item


@transaction.atomic
def order_item_remove(*, actor: User, item: OrderItem) -> None:
    _require_role(actor, _FLOOR, "remove order items")
    order = _lock_order(actor, item.order_id)
    _require_draft(order, "removed")
    item = _lock_item(order, item.pk)
    now = timezone.now()
    if item.menu_item_id is not None:  # never sent: its portions go back
        _count_portions(_lock_menu_item(actor, item.menu_item_id), -item.qty, now)
    history.write(order=order, actor=actor, action=Action.ITEM_REMOVED, item=item,
                  from_value=item.status, at=now)
    item.delete()
    _touch_order(order, now)


@transaction.atomic
def order_confirm(*, actor: User, order: Order) -> Order:
    _require_role(actor, _FLOOR, "confirm orders")
    order = _lock_order(actor, order.pk)
    if order.status != OrderStatus.DRAFT:
        raise IllegalTransition(kind="order", current=order.status, target=OrderStatus.CONFIRMED)
    now = timezone.now()
    # The lowest course fires with the confirmation (one statement, which also tells whether
    # the order has items); the others are held until fired.
    items = OrderItem.objects.filter(order=order)
    lowest = Subquery(items.order_by("course").values("course")[:1])
    fired = items.filter(course=lowest).update(fired_at=now)
    if not fired:
        raise IllegalTransition(
            kind="order", current=order.status, target=OrderStatus.CONFIRMED,
            reason="it has no items",
        )
    order.status = OrderStatus.CONFIRMED
    order.confirmed_at = order.updated_at = now
    _save_with_ticket_number(
        order, _restaurant_of(actor, order), now, fields=["status", "confirmed_at", "updated_at"]
    )
    history.write(order=order, actor=actor, action=Action.ORDER_CONFIRMED,
                  from_value=OrderStatus.DRAFT, to_value=order.status, at=now)
    return order


def _save_with_ticket_number(order: Order, restaurant: Restaurant, now, *, fields) -> None:
    """Save the order with the next ticket number of the restaurant's day.

    The unique constraint (restaurant, day, number) is the arbiter: a concurrent confirm
    that took the same number first makes this save fail inside its savepoint (PostgreSQL
    holds the second writer on the index until the first commits), and it retries with
    the next one."""
    day = timezone.localdate(now, zoneinfo.ZoneInfo(restaurant.timezone))
    same_day = Order.objects.filter(restaurant_id=order.restaurant_id, service_date=day)
    for _ in range(20):
        order.number = (same_day.aggregate(last=Max("number"))["last"] or 0) + 1
        order.service_date = day
        try:
            with transaction.atomic():
                order.save(update_fields=[*fields, "number", "service_date"])
            return
        except IntegrityError:
            continue
    raise Conflict("Too many orders confirmed at once; try again.")


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


def _require_may_start(item: OrderItem, target: str) -> None:
    """Nothing starts before its course is fired, nor with allergies no cook acknowledged."""
    if item.fired_at is None:
        raise CourseHeld(
            kind="item", current=item.status, target=target,
            reason=f"its course {item.course} is held; fire the course first",
        )
    if item.allergies and item.allergy_acknowledged_at is None:
        raise AllergyUnacknowledged(
            kind="item", current=item.status, target=target,
            reason=f"the guest declared {', '.join(item.allergies)}; a cook must acknowledge "
            "the allergies first",
        )


@transaction.atomic
def item_set_status(
    *, actor: User, item: OrderItem, status: str, expected_status: str | None = None,
    reason: str = "",
) -> OrderItem:
    """Move one item; the order's status follows from its items.

    `expected_status` is the status the caller saw: if the item has moved since (another
    screen got there first), the move is refused instead of applied to a state nobody saw.
    `reason` goes with a cancellation (a void after sending) and is kept as `void_reason`.
    """
    if status not in ItemStatus.values:
        raise ValidationError({"status": [f"Unknown item status {status!r}."]})
    if reason and status != ItemStatus.CANCELLED:
        raise InvalidInput(
            "A reason goes with CANCELLED only.", errors={"reason": ["Only with CANCELLED."]}
        )
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
    if (current, status) == (ItemStatus.PENDING, ItemStatus.IN_PROGRESS):
        _require_may_start(item, status)
    now = timezone.now()
    item.status = status
    item.updated_at = now
    fields = ["status", "updated_at", *_stamp_kitchen_times(item, status, now)]
    if status == ItemStatus.CANCELLED:
        item.void_reason = (reason or "")[:500]
        fields.append("void_reason")
    item.save(update_fields=fields)
    history.item_moved(order=order, item=item, actor=actor, previous=current,
                       reason=item.void_reason if status == ItemStatus.CANCELLED else "", at=now)
    _touch_order(order, now)
    if status in (ItemStatus.SERVED, ItemStatus.CANCELLED) and order.status in ACTIVE_ORDER_STATUSES:
        if _restaurant_of(actor, order).auto_fire_next_course:
            _fire_next_course_if_due(order, now)
    return item


def _stamp_kitchen_times(item: OrderItem, status: str, now) -> list[str]:
    """`ready_at` and `served_at` as the kitchen times report reads them: the last READY
    (a recall clears it) and the serve."""
    if status == ItemStatus.READY:
        item.ready_at = now
        return ["ready_at"]
    if status == ItemStatus.SERVED:
        item.served_at = now
        return ["served_at"]
    if item.ready_at is not None and status == ItemStatus.IN_PROGRESS:
        item.ready_at = None
        return ["ready_at"]
    return []


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
    _touch_order(order, now)
    return firing


def _fire_next_course_if_due(order: Order, now) -> None:
    """The restaurant's automatic firing: the lowest held course fires once every live item
    of the courses before it is SERVED."""
    live = list(
        order.items.exclude(status=ItemStatus.CANCELLED).values_list("course", "fired_at", "status")
    )
    held = [course for course, fired, _ in live if fired is None]
    if not held:
        return
    following = min(held)
    if all(status == ItemStatus.SERVED for course, _, status in live if course < following):
        _fire(order, following, actor=None, now=now)


@transaction.atomic
def order_fire_course(*, actor: User, order: Order, course: int) -> CourseFiring:
    _require_role(actor, ACTION_ROLES["fire"], "fire courses")
    order = _lock_order(actor, order.pk)
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
    _require_role(actor, ACTION_ROLES["priority"], "change an order's priority")
    if priority not in Priority.values:
        raise ValidationError({"priority": [f"Unknown priority {priority!r}."]})
    order = _lock_order(actor, order.pk)
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
    _require_role(actor, ACTION_ROLES["acknowledge_allergy"], "acknowledge allergies")
    order = _lock_order(actor, item.order_id)
    item = _lock_item(order, item.pk)
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
    _touch_order(order, now)
    return item


@transaction.atomic
def order_call_pickup(*, actor: User, order: Order) -> Order:
    """Expo calls a READY order for pickup: the history entry is the call (and, through its
    signal, the `order.pickup.called` event for the waiter's POS). Calling again calls again."""
    _require_role(actor, ACTION_ROLES["call"], "call orders for pickup")
    order = _lock_order(actor, order.pk)
    if order.status != OrderStatus.READY:
        raise Conflict(f"Order is {order.status}: only a READY order is called for pickup.")
    history.write(order=order, actor=actor, action=Action.PICKUP_CALLED, to_value=order.status)
    return order


# --- 86: what the kitchen can still make ---------------------------------------------------------


def _set_availability(menu_item: MenuItem, *, available, remaining, available_again_at, now):
    if remaining is not UNSET:
        if remaining is not None and not 0 <= remaining <= MAX_REMAINING:
            raise ValidationError({"remaining": [f"Between 0 and {MAX_REMAINING}."]})
        menu_item.remaining = remaining
    if available and menu_item.remaining == 0:
        if remaining is not UNSET:
            raise InvalidInput(
                "An available dish has portions left: remaining 0 goes with available false.",
                errors={"remaining": ["An available dish has portions left."]},
            )
        menu_item.remaining = None  # back on, no longer counted
    if available_again_at is not UNSET:
        if available_again_at is not None and (available or available_again_at <= now):
            raise InvalidInput(
                "availableAgainAt is a time in the future, with available false.",
                errors={"available_again_at": ["A time in the future, with available false."]},
            )
        menu_item.available_again_at = available_again_at
    menu_item.available = bool(available) and menu_item.remaining != 0
    if menu_item.available:
        menu_item.available_again_at = None
    fields = [f for f in MenuItem.tracked_fields if menu_item.changed(f)]
    if fields:
        menu_item.updated_at = now
        menu_item.save(update_fields=[*fields, "updated_at"])


@transaction.atomic
def menu_item_set_availability(
    *, actor: User, menu_item: MenuItem, available: bool, remaining=UNSET,
    available_again_at=UNSET,
) -> MenuItem:
    """86 a dish (`available` false, optionally until a time), or count its portions down.

    A call that changes nothing saves nothing (and emits no event)."""
    _require_role(actor, ACTION_ROLES["availability"], "change what is available")
    menu_item = _lock_menu_item(actor, menu_item.pk)
    _set_availability(
        menu_item, available=available, remaining=remaining,
        available_again_at=available_again_at, now=timezone.now(),
    )
    return menu_item


@transaction.atomic
def menu_item_update(*, actor: User, menu_item: MenuItem, changes: dict) -> MenuItem:
    """A manager's edit of a dish (the admin): the row locked, the 86 rules as above."""
    _require_role(actor, ACTION_ROLES["menu_edit"], "edit the menu")
    locked = _lock_menu_item(actor, menu_item.pk)
    availability = {f: changes.pop(f) for f in MenuItem.tracked_fields if f in changes}
    for field, value in changes.items():
        setattr(locked, field, value)
    now = timezone.now()
    _validated(locked, exclude=["restaurant"])
    if changes:
        locked.updated_at = now
        locked.save(update_fields=[*changes, "updated_at"])
    if availability:
        _set_availability(
            locked, available=availability.get("available", locked.available),
            remaining=availability.get("remaining", UNSET),
            available_again_at=availability.get("available_again_at", UNSET), now=now,
        )
    return locked


@transaction.atomic
def menu_items_return_due(*, now=None) -> int:
    """Dishes whose `availableAgainAt` has passed come back (each with its event). Run by
    the outbox relay on every pass; rows another transaction holds wait for the next."""
    now = now or timezone.now()
    due = MenuItem.objects.select_for_update(skip_locked=True).filter(
        available=False, available_again_at__lte=now
    )
    count = 0
    for menu_item in due:
        _return_to_menu(menu_item, now)
        count += 1
    return count


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
    order = _lock_order(actor, order.pk)
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
