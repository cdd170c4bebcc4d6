"""A station's printers and the jobs printed on them.

A printer's `cursor` is the last event id (outbox seq) it has made jobs for; jobs print in
event order, each retried until printed or given up on (PRINTER_GIVE_UP_MINUTES).
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from ..leasing import Leased


class PrintMode(models.TextChoices):
    ALWAYS = "always", "always"
    BACKUP = "backup", "backup"


class StationPrinter(Leased):
    restaurant = models.ForeignKey(
        "orders.Restaurant", on_delete=models.CASCADE, related_name="station_printers"
    )
    name = models.CharField(max_length=100)
    station = models.CharField(
        max_length=50, blank=True, help_text="The items' station, e.g. grill; blank: items without one."
    )
    host = models.CharField(max_length=255, help_text="The printer's address or name on the network.")
    port = models.PositiveIntegerField(
        default=9100, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    mode = models.CharField(
        max_length=16, choices=PrintMode.choices, default=PrintMode.ALWAYS,
        help_text="always: every slip. backup: only the slips no screen of the station "
        "acknowledged, once none of them is online (or their presence cannot be read).",
    )
    is_active = models.BooleanField("enabled", default=True)
    cursor = models.BigIntegerField("last event id queued", default=0)
    retry_at = models.DateTimeField(null=True, blank=True, help_text="When the oldest job is retried.")
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "realtime"
        ordering = ["restaurant", "station", "name"]
        constraints = [
            models.UniqueConstraint(fields=["restaurant", "name"], name="station_printer_name_unique"),
            models.CheckConstraint(condition=Q(port__gte=1, port__lte=65535), name="station_printer_port_range"),
        ]

    def __str__(self):
        return f"{self.name} ({self.station or 'no station'})"


class JobState(models.TextChoices):
    PENDING = "pending", "pending"
    PRINTED = "printed", "printed"
    FAILED = "failed", "given up"
    ON_SCREEN = "on_screen", "on screen (not printed)"


class JobKind(models.TextChoices):
    TICKET = "ticket", "ticket"
    ADD_ON = "add_on", "add-on"
    VOID = "void", "void"


class PrintJob(models.Model):
    """The bytes are built once, when the job is made, so that every retry and reprint
    prints the same ticket."""

    printer = models.ForeignKey(StationPrinter, on_delete=models.CASCADE, related_name="jobs")
    event_seq = models.BigIntegerField("event id")
    kind = models.CharField(max_length=16, choices=JobKind.choices)
    summary = models.CharField(max_length=200)
    data = models.BinaryField()
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    printed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    note = models.CharField(max_length=200, blank=True, help_text="Backup mode: why it printed, waits or did not print.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "realtime"
        ordering = ["printer", "-event_seq"]
        constraints = [
            models.UniqueConstraint(fields=["printer", "event_seq"], name="print_job_once"),
            models.CheckConstraint(condition=Q(state__in=JobState.values), name="print_job_state_valid"),
            models.CheckConstraint(condition=Q(kind__in=JobKind.values), name="print_job_kind_valid"),
        ]
        indexes = [
            models.Index(fields=["printer", "event_seq"], condition=Q(state="pending"), name="print_job_pending"),
        ]

    def __str__(self):
        return f"#{self.event_seq} {self.summary}"
