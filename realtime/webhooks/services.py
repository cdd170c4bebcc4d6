"""The managers' changes to webhook endpoints (the admin calls these).

Each locks the endpoint row once (`select_for_update`) so that it serialises with the
delivery worker's writes to it (realtime/webhooks/worker.py re-checks its lease on each).
"""

from __future__ import annotations

from django.db import transaction

from orders.errors import Forbidden, NotFound
from orders.models import Role

from ..models import OutboxEvent
from ..selectors import event_head
from . import signing
from .models import DeliveryState, WebhookDelivery, WebhookEndpoint, new_secret


def _require_manager(actor, restaurant_id) -> None:
    if actor.is_superuser:
        return
    if actor.role != Role.MANAGER:
        raise Forbidden("Only a manager may change webhooks.")
    if actor.restaurant_id != restaurant_id:
        raise NotFound("Not found.")


def _lock(actor, endpoint_id) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound("Not found.")
    _require_manager(actor, endpoint.restaurant_id)
    return endpoint


MANAGED_FIELDS = ["url", "description", "events", "is_active"]


@transaction.atomic
def endpoint_save(*, actor, endpoint: WebhookEndpoint, was_active: bool | None) -> WebhookEndpoint:
    """Create, or write the manager's fields of, an endpoint (never the worker's: its lease,
    cursor and retry state may have moved since the form was loaded). A new endpoint, and
    one enabled again, get events from now on (`was_active` is None for a new one); the
    ones in between can be replayed."""
    _require_manager(actor, endpoint.restaurant_id)
    head = event_head(endpoint.restaurant_id)
    if was_active is None:
        endpoint.cursor = head
        endpoint.save()
        return endpoint
    _lock(actor, endpoint.pk)
    fields = [*MANAGED_FIELDS, "updated_at"]
    if endpoint.is_active and not was_active:
        endpoint.cursor = head
        fields.append("cursor")
    endpoint.save(update_fields=fields)
    return endpoint


@transaction.atomic
def endpoint_new_secret(*, actor, endpoint_id) -> str:
    """A new signing secret, used from the next attempt on; returned to be shown once."""
    endpoint = _lock(actor, endpoint_id)
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret", "updated_at"])
    return endpoint.secret


def _resume(endpoint: WebhookEndpoint) -> None:
    """Send again now: failed deliveries back in the queue with a new retry window."""
    endpoint.deliveries.filter(state=DeliveryState.FAILED).update(
        state=DeliveryState.PENDING, first_attempt_at=None
    )
    endpoint.failing_since = endpoint.retry_at = None
    endpoint.save(update_fields=["failing_since", "retry_at", "updated_at"])


@transaction.atomic
def endpoint_resume(*, actor, endpoint_id) -> None:
    _resume(_lock(actor, endpoint_id))


@transaction.atomic
def deliveries_replay(*, actor, endpoint_id, delivery_ids) -> int:
    """Send these deliveries of the endpoint again, in event order with its pending ones.
    A replay resumes a failing endpoint: nothing it had given up on is left behind."""
    endpoint = _lock(actor, endpoint_id)
    count = endpoint.deliveries.filter(pk__in=delivery_ids).update(
        state=DeliveryState.PENDING, first_attempt_at=None, delivered_at=None
    )
    _resume(endpoint)
    return count


@transaction.atomic
def replay_since(*, actor, endpoint_id, event_id: int) -> int:
    """Send again every event the endpoint subscribes to from `event_id` on (inclusive):
    its deliveries, and those of retained outbox events that it never had (created while
    it was disabled, or before it existed)."""
    endpoint = _lock(actor, endpoint_id)
    queued = endpoint.deliveries.filter(event_seq__gte=event_id, event_seq__lte=endpoint.cursor)
    count = queued.update(state=DeliveryState.PENDING, first_attempt_at=None, delivered_at=None)
    missing = (
        OutboxEvent.objects.filter(
            restaurant_id=endpoint.restaurant_id, seq__gte=event_id, seq__lte=endpoint.cursor,
            name__in=endpoint.events,
        )
        .exclude(seq__in=endpoint.deliveries.values("event_seq"))
        .order_by("seq")
    )
    created = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(endpoint=endpoint, event_seq=event.seq, event_type=event.name, body=signing.body(event))
        for event in missing
    )
    _resume(endpoint)
    return count + len(created)
