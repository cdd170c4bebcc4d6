"""What an order item copies from the modifiers asked for: names, price deltas, allergens.

Pure checks, no writes: `orders.services.order_item_add` calls `resolve` before it changes
anything. A menu item's group limits and unknown or repeated options are bad input (400);
an option that is 86'd is a conflict with the current state (409 `item-unavailable`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError

from .errors import ItemUnavailable
from .models import MAX_MODIFIERS_PER_ITEM, MAX_PRICE_DELTA, MenuItem, canonical_allergens


@dataclass(frozen=True)
class Chosen:
    modifiers: list[dict]  # [{"name", "priceDelta", "optionId"}], as copied onto the item
    price: Decimal  # Σ priceDelta, per unit
    allergens: list[str]  # the dish's and its options'


def _refuse(message: str):
    raise ValidationError({"modifiers": [message]})


def _free_form(requested: dict) -> dict:
    name = (requested.get("name") or "").strip()
    if not name or len(name) > 100:
        _refuse("A free-form modifier needs a name of 1 to 100 characters.")
    delta = Decimal(requested.get("price_delta") or 0)
    if abs(delta) > MAX_PRICE_DELTA:
        _refuse(f"A price delta is at most {MAX_PRICE_DELTA} either way.")
    return {"name": name, "priceDelta": f"{delta:.2f}", "optionId": None}


def resolve(menu_item: MenuItem | None, requested: list[dict]) -> Chosen:
    if len(requested) > MAX_MODIFIERS_PER_ITEM:
        _refuse(f"At most {MAX_MODIFIERS_PER_ITEM} modifiers per item.")
    groups = list(menu_item.modifier_groups.prefetch_related("options")) if menu_item else []
    options = {str(o.pk): (group, o) for group in groups for o in group.options.all()}
    copied, chosen_options = [], []
    for entry in requested:
        option_id = entry.get("option_id")
        if option_id is None:
            copied.append(_free_form(entry))
            continue
        if menu_item is None:
            _refuse("optionId needs a menuItemId: free-form items take free-form modifiers only.")
        found = options.get(str(option_id))
        if found is None:
            _refuse(f"{option_id} is not an option of {menu_item.name}.")
        group, option = found
        if option in chosen_options:
            _refuse(f"{option.name} is chosen twice.")
        if not option.available:
            raise ItemUnavailable(f"{option.name} ({group.name}) is not available right now.")
        chosen_options.append(option)
        copied.append({"name": option.name, "priceDelta": f"{option.price_delta:.2f}",
                       "optionId": str(option.pk)})
    for group in groups:
        count = sum(1 for option in chosen_options if option.group_id == group.pk)
        if count < group.min_select:
            _refuse(f"{group.name}: choose at least {group.min_select}.")
        if count > group.max_select:
            _refuse(f"{group.name}: choose at most {group.max_select}.")
    allergens = set(menu_item.allergens if menu_item else [])
    for option in chosen_options:
        allergens |= set(option.allergens)
    price = sum((Decimal(m["priceDelta"]) for m in copied), Decimal("0.00"))
    return Chosen(copied, price, canonical_allergens(allergens))
