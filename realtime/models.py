from django.db import models
from django.utils import timezone


class EventSequence(models.Model):
    """The last event id handed out for a restaurant.

    Incrementing it locks the row until commit, so event ids of a restaurant are assigned
    in commit order: if event N+1 is visible, event N is too.
    """

    restaurant = models.OneToOneField(
        "orders.Restaurant", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    last_id = models.BigIntegerField(default=0)


class OutboxEvent(models.Model):
    """An event, written in the transaction of the change it describes (transactional outbox).

    Published through the channel layer after commit; kept for the retention window so that
    reconnecting clients can resume from their last event id.
    """

    restaurant = models.ForeignKey("orders.Restaurant", on_delete=models.CASCADE, related_name="+")
    seq = models.BigIntegerField(help_text="Per-restaurant event id, gapless and increasing.")
    name = models.CharField(max_length=64)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["restaurant", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["restaurant", "seq"], name="outbox_seq_unique"),
        ]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(published_at__isnull=True),
                name="outbox_unpublished",
            )
        ]

    def __str__(self):
        return f"#{self.seq} {self.name}"
