"""Webhook endpoints of a restaurant, the deliveries of its events to them and each attempt.

An endpoint's `cursor` is the last event id (outbox seq) it has been given deliveries for;
deliveries are sent in event order, one at a time per endpoint. Each endpoint is worked on
by one delivery worker at a time: the one holding its lease (realtime/leasing.py).
"""

from __future__ import annotations

import secrets
from base64 import b64encode

from django.db import models
from django.db.models import Q

from ..leasing import Leased

# docs/contract.md's event names. Endpoints subscribe to a subset; a name that is not emitted
# yet simply never arrives.
EVENT_TYPES = [
    "order.new",
    "order.status.changed",
    "order.item.status.changed",
    "order.items.added",
    "order.course.fired",
    "order.priority.changed",
    "order.item.allergy.acknowledged",
    "order.pickup.called",
    "screen.status.changed",
    "menu.item.availability.changed",
]

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 24 random bytes, base64."""
    return SECRET_PREFIX + b64encode(secrets.token_bytes(24)).decode()


class WebhookEndpoint(Leased):
    restaurant = models.ForeignKey(
        "orders.Restaurant", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField("URL", max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="Event names delivered to this endpoint.")
    # Kept as is: signing needs the key itself. Shown to the manager once, never again.
    secret = models.CharField(max_length=100, default=new_secret, editable=False)
    is_active = models.BooleanField("enabled", default=True)
    cursor = models.BigIntegerField(
        "last event id queued", default=0, help_text="Last event id for which deliveries were created."
    )
    retry_at = models.DateTimeField(
        null=True, blank=True, help_text="When the oldest pending delivery is retried."
    )
    failing_since = models.DateTimeField(
        null=True, blank=True,
        help_text="Set when a delivery kept failing for the whole retry window; sending "
        "stops until a manager resumes or replays.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "realtime"
        ordering = ["restaurant", "created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(cursor__gte=0), name="webhook_cursor_not_negative"),
        ]

    def __str__(self):
        return self.description or self.url


class DeliveryState(models.TextChoices):
    PENDING = "pending", "pending"
    DELIVERED = "delivered", "delivered"
    FAILED = "failed", "failed (retry window exhausted)"


class WebhookDelivery(models.Model):
    """One event for one endpoint. The body is kept so that retries and replays send the
    same bytes, whatever the outbox's retention has pruned since."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_seq = models.BigIntegerField("event id")
    event_type = models.CharField(max_length=64)
    body = models.TextField()
    state = models.CharField(max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    first_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="Start of the current retry window."
    )
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "realtime"
        ordering = ["endpoint", "-event_seq"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_seq"], name="webhook_delivery_once"),
            models.CheckConstraint(
                condition=Q(state__in=DeliveryState.values), name="webhook_delivery_state_valid"
            ),
        ]
        indexes = [
            models.Index(
                fields=["endpoint", "event_seq"],
                condition=Q(state="pending"),
                name="webhook_delivery_pending",
            ),
        ]

    def __str__(self):
        return f"#{self.event_seq} {self.event_type}"


class WebhookAttempt(models.Model):
    class Outcome(models.TextChoices):
        OK = "ok", "delivered (2xx)"
        HTTP_ERROR = "http_error", "answered with an error"
        REDIRECT = "redirect", "redirect (not followed)"
        TIMEOUT = "timeout", "timed out"
        REFUSED = "refused", "refused (address or scheme)"
        NETWORK = "network", "connection failed"

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    worker = models.CharField(max_length=80, blank=True, help_text="The delivery worker that made it.")

    class Meta:
        app_label = "realtime"
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_number_unique"),
        ]

    def __str__(self):
        return f"attempt {self.number}: {self.get_outcome_display()}"
