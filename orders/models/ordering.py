"""Orders, their items and course firings."""

import uuid
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .vocabulary import (
    EMPTY_JSON_LIST,
    MAX_COURSE,
    MAX_QTY,
    AllergenListField,
    canonical_allergens,
    ItemStatus,
    OrderStatus,
    Priority,
)
from .base import _status_check, StatusTrackingModel
from .accounts import Restaurant, User
from .floor import TableSession
from .menu import MenuItem


class Order(StatusTrackingModel):
    tracked_fields = ("status", "priority")

    restaurant = models.ForeignKey(Restaurant, on_delete=models.CASCADE, related_name="orders")
    table_session = models.ForeignKey(
        TableSession, on_delete=models.PROTECT, related_name="orders"
    )
    status = models.CharField(
        max_length=16, choices=OrderStatus.choices, default=OrderStatus.DRAFT, db_index=True
    )
    notes = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=500, blank=True)
    priority = models.CharField(
        max_length=8, choices=Priority.choices, default=Priority.NORMAL, db_default=Priority.NORMAL
    )
    # The short ticket number the kitchen calls out: given on confirm, restarting each day at
    # midnight in the restaurant's time zone (`service_date` is that day).
    number = models.PositiveIntegerField(null=True, blank=True, editable=False)
    service_date = models.DateField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            _status_check("order_status_valid", "status", OrderStatus),
            _status_check("order_priority_valid", "priority", Priority),
            models.UniqueConstraint(
                fields=["restaurant", "service_date", "number"],
                condition=Q(number__isnull=False),
                name="order_number_unique_per_day",
            ),
            models.CheckConstraint(
                condition=Q(number__isnull=True, service_date__isnull=True)
                | Q(number__isnull=False, service_date__isnull=False),
                name="order_number_has_service_date",
            ),
        ]
        indexes = [models.Index(fields=["restaurant", "status", "created_at"])]

    def __str__(self):
        if self.number:
            return f"Order #{self.number} ({self.status})"
        return f"Order {str(self.id)[:8]} ({self.status})"

    @property
    def total(self) -> Decimal:
        return sum(
            (i.line_total for i in self.items.all() if i.status != ItemStatus.CANCELLED),
            Decimal("0.00"),
        )

    def items_in_order(self) -> list["OrderItem"]:
        """The items, oldest first: those loaded already (a service that holds them leaves
        them, `services.hold_items`; a prefetch), else read."""
        loaded = getattr(self, "_prefetched_objects_cache", {}).get("items")
        if loaded is not None:
            return list(loaded)
        return list(self.items.order_by("created_at", "id"))


class TicketCounter(models.Model):
    """The last ticket number given in a restaurant on a day (`Order.service_date`).

    A confirm takes the next one by incrementing this row in its own transaction: the row
    stays locked until commit, so the restaurant's confirms of that day take their numbers
    one after the other, never the same one, and a rolled-back confirm gives its number back
    (numbers are gapless)."""

    restaurant = models.ForeignKey(Restaurant, on_delete=models.CASCADE, related_name="+")
    service_date = models.DateField()
    last_number = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["restaurant", "service_date"], name="ticket_counter_one_per_day"
            ),
        ]

    def __str__(self):
        return f"#{self.last_number} on {self.service_date}"


class OrderItem(StatusTrackingModel):
    tracked_fields = ("status", "allergy_acknowledged_at")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    menu_item = models.ForeignKey(
        MenuItem, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Name, price and station are copied when the item is added: a later menu edit must not
    # rewrite what was ordered.
    name = models.CharField(max_length=200)
    qty = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_QTY)]
    )
    unit_price = models.DecimalField(
        max_digits=8, decimal_places=2, validators=[MinValueValidator(Decimal("0.00"))]
    )
    station = models.CharField(max_length=50, blank=True)
    status = models.CharField(
        max_length=16, choices=ItemStatus.choices, default=ItemStatus.PENDING, db_index=True
    )
    notes = models.CharField(max_length=500, blank=True)
    # Copied when added, like name and price: [{"name", "priceDelta", "optionId"}], the
    # price delta a decimal string, optionId null for a free-form modifier ("no onion").
    modifiers = models.JSONField(default=list, db_default=EMPTY_JSON_LIST, blank=True)
    modifiers_price = models.DecimalField(
        max_digits=8, decimal_places=2, default=Decimal("0.00"), db_default=Decimal("0.00"),
        help_text="Sum of the modifiers' price deltas, per unit.",
    )
    course = models.PositiveSmallIntegerField(
        default=1, db_default=1, validators=[MinValueValidator(1), MaxValueValidator(MAX_COURSE)]
    )
    seat = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    fired_at = models.DateTimeField(null=True, blank=True, help_text="Null while its course is held.")
    allergens = AllergenListField(help_text="What the dish contains, with its chosen options.")
    allergies = AllergenListField(help_text="What the guest declared for this dish.")
    allergy_acknowledged_at = models.DateTimeField(null=True, blank=True)
    allergy_acknowledged_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    void_reason = models.CharField(max_length=500, blank=True, db_default="")
    # When it was last made READY and when SERVED: the kitchen times report reads these two
    # and `fired_at` (a recall clears `ready_at`; the next READY sets it again).
    ready_at = models.DateTimeField(null=True, blank=True, editable=False)
    served_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            _status_check("order_item_status_valid", "status", ItemStatus),
            models.CheckConstraint(condition=Q(qty__gte=1), name="order_item_qty_positive"),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name="order_item_price_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=-models.F("modifiers_price")),
                name="order_item_price_with_modifiers_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(course__gte=1, course__lte=MAX_COURSE), name="order_item_course_range"
            ),
        ]
        indexes = [
            # The kitchen times report: a restaurant's fired items in a date range.
            models.Index(
                fields=["fired_at"], name="order_item_fired_ready",
                condition=Q(ready_at__isnull=False),
            ),
        ]

    def __str__(self):
        return f"{self.qty} × {self.name} ({self.status})"

    @property
    def line_total(self) -> Decimal:
        return (self.unit_price + self.modifiers_price) * self.qty

    @property
    def allergen_conflicts(self) -> list[str]:
        return canonical_allergens(set(self.allergens) & set(self.allergies))


class CourseFiring(models.Model):
    """A course of an order sent to the kitchen after the order was (the `fire` call, or the
    restaurant's automatic firing). The lowest course fires with the confirmation itself."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="course_firings")
    course = models.PositiveSmallIntegerField()
    item_ids = models.JSONField(default=list, help_text="The held items it fired.")
    fired_at = models.DateTimeField(default=timezone.now)
    fired_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="Empty when the restaurant's automatic firing did it.",
    )

    class Meta:
        ordering = ["fired_at"]
        constraints = [
            models.UniqueConstraint(fields=["order", "course"], name="course_fired_once"),
        ]
