"""The menu: dishes, modifier groups and options, and their availability ("86")."""

import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .vocabulary import (
    MAX_COURSE,
    MAX_MODIFIERS_PER_ITEM,
    MAX_PRICE_DELTA,
    MAX_REMAINING,
    AllergenListField,
)
from .base import ChangeTrackingModel
from .accounts import Restaurant


class MenuItem(ChangeTrackingModel):
    tracked_fields = ("available", "remaining", "available_again_at")

    restaurant = models.ForeignKey(Restaurant, on_delete=models.CASCADE, related_name="menu")
    name = models.CharField(max_length=200)
    price = models.DecimalField(
        max_digits=8, decimal_places=2, validators=[MinValueValidator(Decimal("0.00"))]
    )
    station = models.CharField(
        max_length=50, blank=True, help_text="Kitchen station that prepares it, e.g. grill, bar."
    )
    active = models.BooleanField(default=True)
    allergens = AllergenListField(help_text="What the dish contains (EU's 14 allergens).")
    course = models.PositiveSmallIntegerField(
        default=1, db_default=1, validators=[MinValueValidator(1), MaxValueValidator(MAX_COURSE)],
        help_text="Default course: 1 starters, 2 mains, 3 desserts.",
    )
    prep_minutes = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(600)],
        help_text="Target preparation time.",
    )
    # "86": off for tonight (or until a time), or counted down portion by portion.
    available = models.BooleanField(
        default=True, db_default=True, help_text="Off while the dish is 86'd."
    )
    remaining = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(MAX_REMAINING)],
        help_text="Portions left; empty when not counted. At 0 the dish becomes unavailable.",
    )
    available_again_at = models.DateTimeField(
        null=True, blank=True, help_text="When an 86'd dish comes back by itself."
    )

    class Meta:
        ordering = ["station", "name"]
        constraints = [
            models.UniqueConstraint(fields=["restaurant", "name"], name="menu_item_name_unique"),
            models.CheckConstraint(condition=Q(price__gte=0), name="menu_item_price_not_negative"),
            models.CheckConstraint(
                condition=Q(course__gte=1, course__lte=MAX_COURSE), name="menu_item_course_range"
            ),
            models.CheckConstraint(
                condition=~Q(available=True, remaining=0),
                name="menu_item_none_left_is_unavailable",
                violation_error_message="A dish with no portions left cannot be available.",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.price})"

    def clean(self):
        # The same 86 rules as the kitchen's endpoint, for forms (the admin) too.
        super().clean()
        if self.available:
            self.available_again_at = None
            if self.remaining == 0:
                raise ValidationError(
                    {"remaining": "No portions left: give some, clear the count, or 86 the dish."}
                )
        elif (
            self.available_again_at is not None
            and self.changed("available_again_at")
            and self.available_again_at <= timezone.now()
        ):
            raise ValidationError({"available_again_at": "A time in the future."})


class ModifierGroup(models.Model):
    """A choice the guest makes for a dish: "Doneness" (exactly one), "Extras" (up to 3)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    menu_item = models.ForeignKey(MenuItem, on_delete=models.CASCADE, related_name="modifier_groups")
    name = models.CharField(max_length=100)
    min_select = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(MAX_MODIFIERS_PER_ITEM)],
        help_text="1 or more makes the choice required.",
    )
    max_select = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(MAX_MODIFIERS_PER_ITEM)]
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["menu_item", "name"], name="modifier_group_name_unique"),
            models.CheckConstraint(
                condition=Q(max_select__gte=1) & Q(max_select__gte=models.F("min_select")),
                name="modifier_group_max_at_least_min",
                violation_error_message="Maximum must be at least 1 and at least the minimum.",
            ),
        ]

    def __str__(self):
        return f"{self.menu_item.name}: {self.name}"

    @property
    def restaurant_id(self):
        return self.menu_item.restaurant_id


class ModifierOption(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    group = models.ForeignKey(ModifierGroup, on_delete=models.CASCADE, related_name="options")
    name = models.CharField(max_length=100)
    price_delta = models.DecimalField(
        max_digits=6, decimal_places=2, default=Decimal("0.00"),
        validators=[MinValueValidator(-MAX_PRICE_DELTA), MaxValueValidator(MAX_PRICE_DELTA)],
    )
    allergens = AllergenListField(help_text="What the option adds to the dish.")
    available = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["group", "name"], name="modifier_option_name_unique"),
            models.CheckConstraint(
                condition=Q(price_delta__gte=-MAX_PRICE_DELTA, price_delta__lte=MAX_PRICE_DELTA),
                name="modifier_option_price_delta_range",
            ),
        ]

    def __str__(self):
        sign = "+" if self.price_delta >= 0 else ""
        return f"{self.name} ({sign}{self.price_delta})"
