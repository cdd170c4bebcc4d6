"""Who did what: an append-only record of every change of an order and its items.

`write()` is called by `orders.services` inside the change's own transaction, so the record
can never disagree with the state: a rolled-back change leaves no entry. Rows are never
updated: the model refuses it, and on PostgreSQL a trigger (migration 0004) refuses UPDATE
and DELETE outright, except a DELETE by the retention prune (`prune()`, which sets the
transaction-local `orders.history_prune` flag the trigger checks). On SQLite a trigger
refuses UPDATE; DELETE stays possible there (SQLite has no session setting to tell the
prune apart), which is why the prune is the only code path that deletes.

The entries mention the order, item, actor and screen by id without foreign-key constraints:
a discarded DRAFT order or a deleted user keeps its history, and no cascade ever rewrites it.
"""

from __future__ import annotations

import contextvars
from datetime import timedelta

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone


class Action(models.TextChoices):
    ORDER_CREATED = "order.created"
    ORDER_CONFIRMED = "order.confirmed"
    ITEM_ADDED = "item.added"
    ITEM_UPDATED = "item.updated"  # a DRAFT line's qty, notes, name or price
    ITEM_REMOVED = "item.removed"  # a DRAFT line taken off
    ITEM_STATUS = "item.status"
    COURSE_FIRED = "course.fired"
    PRIORITY = "priority"
    ALLERGY_ACKNOWLEDGED = "allergy.acknowledged"
    PICKUP_CALLED = "pickup.called"
    ORDER_CANCELLED = "order.cancelled"


class HistoryEntry(models.Model):
    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(default=timezone.now)
    restaurant_id = models.UUIDField()
    order_id = models.UUIDField()
    item_id = models.UUIDField(null=True, blank=True)
    action = models.CharField(max_length=32, choices=Action.choices)
    # The actor as they were when acting (a later rename or role change does not rewrite it);
    # all empty for what the restaurant's own automation did (automatic course firing).
    actor_id = models.UUIDField(null=True, blank=True)
    actor_name = models.CharField(max_length=200, blank=True)
    actor_role = models.CharField(max_length=16, blank=True)
    screen_id = models.UUIDField(null=True, blank=True, help_text="The kitchen screen it came from.")
    from_value = models.CharField(max_length=32, blank=True)
    to_value = models.CharField(max_length=32, blank=True)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        app_label = "orders"
        ordering = ["id"]
        verbose_name_plural = "history entries"
        indexes = [
            models.Index(fields=["order_id", "id"], name="history_by_order"),
            models.Index(fields=["at"], name="history_by_time"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(action__in=Action.values), name="history_action_valid"
            )
        ]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("History entries are append-only.")
        super().save(*args, **kwargs)


# The kitchen screen a request acts from (the kitchen page sends its screen id with every
# call): set by `restaurant.screens`' middleware, read here, so that services need no
# transport detail.
acting_screen: contextvars.ContextVar = contextvars.ContextVar("acting_screen", default=None)


def write(*, order, actor, action: str, item=None, from_value="", to_value="", reason="", at=None):
    """One entry, in the caller's transaction."""
    if actor is not None:
        from .services import role_of

        actor_fields = {"actor_id": actor.pk, "actor_name": actor.name or actor.email,
                        "actor_role": role_of(actor)}
    else:
        actor_fields = {}
    entry = HistoryEntry(
        at=at or timezone.now(), restaurant_id=order.restaurant_id, order_id=order.pk,
        item_id=getattr(item, "pk", item), action=action, screen_id=acting_screen.get(),
        from_value=str(from_value or ""), to_value=str(to_value or ""), reason=(reason or "")[:500],
        **actor_fields,
    )
    entry.written_for = order  # the caller's (locked) order, for the signal's receivers
    entry.save(force_insert=True)


def item_moved(*, order, item, actor, previous: str, reason="", at=None):
    write(order=order, actor=actor, action=Action.ITEM_STATUS, item=item,
          from_value=previous, to_value=item.status, reason=reason, at=at)


def replay_item_statuses(entries) -> dict:
    """Every item's status as its history tells it: what the record must agree with."""
    statuses = {}
    for entry in entries:
        if entry.action == Action.ITEM_ADDED:
            statuses[entry.item_id] = entry.to_value
        elif entry.action == Action.ITEM_STATUS:
            statuses[entry.item_id] = entry.to_value
        elif entry.action == Action.ITEM_REMOVED:
            statuses.pop(entry.item_id, None)
    return statuses


PRUNE_FLAG = "orders.history_prune"


@transaction.atomic
def prune(*, now=None) -> int:
    """Delete entries older than HISTORY_RETENTION_DAYS: the one deletion the trigger allows."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.HISTORY_RETENTION_DAYS)
    _prune_flag("on")
    try:
        deleted, _ = HistoryEntry.objects.filter(at__lt=cutoff).delete()
    finally:
        # Transaction-local already; switched off too for a caller's enclosing transaction.
        _prune_flag("off")
    return deleted


def _prune_flag(value: str) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, %s, true)", [PRUNE_FLAG, value])
