"""Stored answers of POSTs sent with an Idempotency-Key."""

from django.db import models
from django.utils import timezone

from .accounts import User


class IdempotencyRecord(models.Model):
    """The first answer given to a POST carrying an `Idempotency-Key`, replayed on retries."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")
        ]
