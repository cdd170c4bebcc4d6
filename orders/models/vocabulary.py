"""Choices, allergen codes and the bounds every order stays within."""

import zoneinfo
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.db import models



class Role(models.TextChoices):
    MANAGER = "MANAGER", "Manager"
    WAITER = "WAITER", "Waiter"
    KITCHEN = "KITCHEN", "Kitchen"


class TableSessionStatus(models.TextChoices):
    OPEN = "OPEN", "Open"
    CLOSED = "CLOSED", "Closed"


class OrderStatus(models.TextChoices):
    DRAFT = "DRAFT", "Draft"
    CONFIRMED = "CONFIRMED", "Confirmed"
    IN_PROGRESS = "IN_PROGRESS", "In progress"
    READY = "READY", "Ready"
    SERVED = "SERVED", "Served"
    CANCELLED = "CANCELLED", "Cancelled"


class ItemStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    IN_PROGRESS = "IN_PROGRESS", "In progress"
    READY = "READY", "Ready"
    SERVED = "SERVED", "Served"
    CANCELLED = "CANCELLED", "Cancelled"


class Priority(models.TextChoices):
    NORMAL = "NORMAL", "Normal"
    RUSH = "RUSH", "Rush"


class Allergen(models.TextChoices):
    """The 14 allergens EU Regulation 1169/2011 (Annex II) requires a menu to declare."""

    GLUTEN = "gluten", "Cereals containing gluten"
    CRUSTACEANS = "crustaceans", "Crustaceans"
    EGGS = "eggs", "Eggs"
    FISH = "fish", "Fish"
    PEANUTS = "peanuts", "Peanuts"
    SOYBEANS = "soybeans", "Soybeans"
    MILK = "milk", "Milk"
    NUTS = "nuts", "Tree nuts"
    CELERY = "celery", "Celery"
    MUSTARD = "mustard", "Mustard"
    SESAME = "sesame", "Sesame"
    SULPHITES = "sulphites", "Sulphur dioxide and sulphites"
    LUPIN = "lupin", "Lupin"
    MOLLUSCS = "molluscs", "Molluscs"


_ALLERGEN_ORDER = {code: index for index, code in enumerate(Allergen.values)}


def canonical_allergens(codes) -> list[str]:
    """Codes without repeats, in the regulation's order (how every list is stored and shown)."""
    return sorted(set(codes), key=_ALLERGEN_ORDER.__getitem__)


def validate_allergens(value) -> None:
    if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
        raise ValidationError("A list of allergen codes.", code="invalid")
    unknown = sorted(set(value) - set(Allergen.values))
    if unknown:
        raise ValidationError(
            "Unknown allergen code(s): %(codes)s. Allowed: %(allowed)s.",
            code="invalid",
            params={"codes": ", ".join(unknown), "allowed": " ".join(Allergen.values)},
        )


# Database defaults of the columns added for kitchen operations: rows written by other code
# than Django's (the reference's own SQL in bench/peer) still get valid values.
EMPTY_JSON_LIST = models.Value([], output_field=models.JSONField())


class AllergenListField(models.JSONField):
    """A list of `Allergen` codes, stored in canonical order; checkboxes in the admin."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("default", list)
        kwargs.setdefault("db_default", EMPTY_JSON_LIST)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("validators", [validate_allergens])
        super().__init__(*args, **kwargs)

    def pre_save(self, model_instance, add):
        value = getattr(model_instance, self.attname)
        if isinstance(value, list) and set(value) <= set(Allergen.values):
            value = canonical_allergens(value)
            setattr(model_instance, self.attname, value)
        return value

    def formfield(self, **kwargs):
        return forms.MultipleChoiceField(
            choices=Allergen.choices, required=False, label=self.verbose_name.capitalize(),
            widget=forms.CheckboxSelectMultiple, help_text=self.help_text,
        )


def validate_timezone(value) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError("%(value)s is not an IANA time zone name.", params={"value": value})


# Bounds of what an order may hold (issue 11): each keeps every later read, list, event and
# admin page renderable. The total is rendered with 12 digits; this leaves room to spare.
MAX_QTY = 999
MAX_LINES_PER_ORDER = 200
MAX_MODIFIERS_PER_ITEM = 20
MAX_PRICE_DELTA = Decimal("9999.99")
MAX_ORDER_TOTAL = Decimal("99999999.99")
MAX_COURSE = 9
MAX_REMAINING = 100000
