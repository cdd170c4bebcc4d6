"""86: what the kitchen can still make, and menu edits that change it."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..errors import InvalidInput, ItemUnavailable
from ..models import MAX_REMAINING, MenuItem, User
from .rules import ACTION_ROLES, UNSET, _require_role, _validated, _lock_menu_item


# --- 86: what the kitchen can still make ---


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
    `menu_item` may be a reference (`selectors.menu_item_ref`): locked before the role is
    checked, so another restaurant's dish is a 404 whoever asks (as `_lock_order`).

    A call that changes nothing saves nothing (and emits no event)."""
    menu_item = _lock_menu_item(actor, menu_item.pk, menu_item.restaurant_id)
    _require_role(actor, ACTION_ROLES["availability"], "change what is available")
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
