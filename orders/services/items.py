"""An order's items: adding (with modifiers, courses, allergies, bounds), editing and
removing drafts, and moving an item along."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import history
from .. import modifiers as modifier_rules
from ..history import Action
from ..errors import (
    AllergyUnacknowledged,
    Conflict,
    CourseHeld,
    Forbidden,
    IllegalTransition,
    InvalidInput,
    NotFound,
    OrderLimitExceeded,
)
from ..models import (
    MAX_LINES_PER_ORDER,
    MAX_ORDER_TOTAL,
    ItemStatus,
    MenuItem,
    Order,
    OrderItem,
    OrderStatus,
    User,
    validate_allergens,
)
from .rules import (
    _FLOOR,
    ITEM_TRANSITIONS,
    ACTIVE_ORDER_STATUSES,
    ADDABLE_ORDER_STATUSES,
    role_of,
    _require_role,
    _lock_order,
    _lock_order_of,
    _lock_item,
    _lock_items,
    _require_draft,
    _touch_order,
    _rederive,
    _validated,
    _lock_menu_item,
    _restaurant_of,
    _order_lines,
)
from .menu import _availability, _require_portions, _count_portions
from .courses import _fire_next_course_if_due


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
    order = _lock_order(actor, order)
    _require_role(actor, _FLOOR, "add items to orders")
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
    order = _lock_order_of(actor, item)
    item = _lock_item(order, item.pk)
    _require_role(actor, _FLOOR, "edit order items")
    _require_draft(order, "edited")
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
    order = _lock_order_of(actor, item)
    item = _lock_item(order, item.pk)
    _require_role(actor, _FLOOR, "remove order items")
    _require_draft(order, "removed")
    now = timezone.now()
    if item.menu_item_id is not None:  # never sent: its portions go back
        _count_portions(_lock_menu_item(actor, item.menu_item_id), -item.qty, now)
    history.write(order=order, actor=actor, action=Action.ITEM_REMOVED, item=item,
                  from_value=item.status, at=now)
    item.delete()
    _touch_order(order, now)


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
    # The order row is the lock: moves of different items of one order serialise, so the
    # derived order status is computed from a consistent set of items.
    order = _lock_order_of(actor, item)
    item, lines = _lock_items(order, item.pk)
    now = _move(actor, order, item, status, expected_status=expected_status, reason=reason)
    _touch_order(order, now, statuses=[line.status for line in lines])
    if status in (ItemStatus.SERVED, ItemStatus.CANCELLED) and order.status in ACTIVE_ORDER_STATUSES:
        if _restaurant_of(actor, order).auto_fire_next_course:
            _fire_next_course_if_due(order, now, lines)
    return item


def _move(actor: User, order: Order, item: OrderItem, status: str, *,
          expected_status: str | None = None, reason: str = ""):
    """One item's move by the rules (ITEM_TRANSITIONS), saved with its history entry (its
    event follows from the save); `order` and `item` are locked by the caller, who derives
    the order's status next. Returns the move's time."""
    if status not in ItemStatus.values:
        raise ValidationError({"status": [f"Unknown item status {status!r}."]})
    if reason and status != ItemStatus.CANCELLED:
        raise InvalidInput(
            "A reason goes with CANCELLED only.", errors={"reason": ["Only with CANCELLED."]}
        )
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
    return now


def _move_items(actor: User, order: Order, items: list[OrderItem], moves) -> None:
    """Several moves, `moves` ((item, status), in turn), of the locked order's `items` (all
    of them, locked: `_lock_all_items`), as that many `item_set_status` calls would make
    them, without locking again: each move by the same rules, with its history entry and
    its event, and the order's status derived after each from the items in memory. The
    order is saved when that status changes (its event then comes right after the move that
    changed it, as one move at a time puts it) and once at the end for its `updated_at`.

    For the kitchen's moves to READY and back (bump, recall): the automatic firing of the
    next course, which follows SERVED and CANCELLED, is item_set_status's alone."""
    saved = True
    for item, status in moves:
        order.updated_at = _move(actor, order, item, status)
        saved = _rederive(order, [line.status for line in items])
        if saved:
            order.save(update_fields=["updated_at", "status"])
    if not saved:
        order.save(update_fields=["updated_at"])


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
