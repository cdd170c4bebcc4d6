"""Tables and table sessions."""

from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q

from .vocabulary import TableSessionStatus
from .base import _status_check, TimestampedModel
from .accounts import Restaurant, User


class Table(TimestampedModel):
    restaurant = models.ForeignKey(Restaurant, on_delete=models.CASCADE, related_name="tables")
    name = models.CharField(max_length=50)
    seats = models.PositiveSmallIntegerField(default=4, validators=[MaxValueValidator(100)])
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["restaurant", "name"], name="table_name_unique")
        ]

    def __str__(self):
        return f"Table {self.name}"


class TableSession(TimestampedModel):
    """A party seated at a table, from seating until the table is cleared."""

    table = models.ForeignKey(Table, on_delete=models.CASCADE, related_name="sessions")
    status = models.CharField(
        max_length=16, choices=TableSessionStatus.choices, default=TableSessionStatus.OPEN
    )
    guests = models.PositiveSmallIntegerField(null=True, blank=True)
    opened_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["table"],
                condition=Q(status=TableSessionStatus.OPEN),
                name="one_open_session_per_table",
                violation_error_message="This table already has an open session.",
            ),
            _status_check("table_session_status_valid", "status", TableSessionStatus),
            models.CheckConstraint(
                condition=Q(status=TableSessionStatus.OPEN, closed_at__isnull=True)
                | Q(status=TableSessionStatus.CLOSED, closed_at__isnull=False),
                name="table_session_closed_at_matches_status",
            ),
        ]

    def __str__(self):
        return f"{self.table} ({self.get_status_display()}, {self.created_at:%Y-%m-%d %H:%M})"

    @property
    def restaurant_id(self):
        return self.table.restaurant_id

    @property
    def restaurant(self):
        return self.table.restaurant
