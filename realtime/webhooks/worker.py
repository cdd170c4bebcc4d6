"""Delivery workers: claim endpoints, turn new outbox events into deliveries, send them.

Each endpoint is worked on by the one worker holding its lease (realtime/leasing.py: how
claims stay safe with several workers, on PostgreSQL and SQLite). A worker that dies loses
its leases when they lapse, and another worker resends what was not recorded as delivered:
at least once.

One endpoint's deliveries go one at a time in event order: the oldest pending one blocks
the rest until it is delivered or its retry window runs out. Endpoints are served by a
thread each, so a slow or dead one only ever holds its own thread.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import OuterRef, Q
from django.utils import timezone

from .. import leasing
from ..leasing import LeaseLost
from ..selectors import events_after
from . import delivery as http
from . import signing
from .models import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

FAN_OUT_BATCH = 500
# Deliveries one claim sends at most before the endpoint goes back to the queue (fairness).
SEND_BUDGET = 100
PRUNE_EVERY = timedelta(hours=1)


def claim(worker_id: str, limit: int) -> list[int]:
    """Lease up to `limit` endpoints that have new events or a pending delivery now due."""
    now = timezone.now()
    ready = leasing.outbox_work(
        WebhookEndpoint.objects.filter(is_active=True),
        WebhookDelivery.objects.filter(endpoint_id=OuterRef("pk"), state=DeliveryState.PENDING),
        Q(failing_since__isnull=True) & (Q(retry_at__isnull=True) | Q(retry_at__lte=now)),
    )
    return leasing.claim(ready, worker_id, limit, settings.WEBHOOK_LEASE_SECONDS)


def _hold(worker_id: str, endpoint_id: int, **changes) -> None:
    leasing.hold(WebhookEndpoint, worker_id, endpoint_id, settings.WEBHOOK_LEASE_SECONDS, **changes)


@transaction.atomic
def fan_out(worker_id: str, endpoint: WebhookEndpoint) -> int:
    """Deliveries for the endpoint's events after its cursor; moves the cursor past them."""
    batch = events_after(endpoint.restaurant_id, endpoint.cursor, FAN_OUT_BATCH)
    if not batch:
        return 0
    wanted = set(endpoint.events)
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint=endpoint, event_seq=event.seq, event_type=event.name, body=signing.body(event)
            )
            for event in batch if event.name in wanted
        ],
        ignore_conflicts=True,  # a replay may have created one already
    )
    _hold(worker_id, endpoint.pk, cursor=batch[-1].seq)
    endpoint.cursor = batch[-1].seq
    return len(batch)


def backoff(attempts_in_window: int) -> timedelta:
    return leasing.backoff(attempts_in_window, settings.WEBHOOK_RETRY_BASE, settings.WEBHOOK_RETRY_MAX)


@transaction.atomic
def record(worker_id: str, endpoint: WebhookEndpoint, delivery: WebhookDelivery, started, result) -> None:
    now = timezone.now()
    delivery.attempt_count += 1
    WebhookAttempt.objects.create(
        delivery=delivery, number=delivery.attempt_count, started_at=started, outcome=result.outcome,
        status_code=result.status_code, latency_ms=result.latency_ms,
        response_excerpt=result.excerpt, error=result.error, worker=worker_id,
    )
    delivery.first_attempt_at = delivery.first_attempt_at or started
    delivery.last_attempt_at = now
    if result.ok:
        delivery.state, delivery.delivered_at = DeliveryState.DELIVERED, now
        _hold(worker_id, endpoint.pk, retry_at=None)
    elif now - delivery.first_attempt_at >= settings.WEBHOOK_RETRY_FOR:
        delivery.state = DeliveryState.FAILED
        _hold(worker_id, endpoint.pk, retry_at=None, failing_since=now)
        logger.warning("webhook endpoint %s failing: %s", endpoint.pk, result.error)
    else:
        in_window = delivery.attempts.filter(started_at__gte=delivery.first_attempt_at).count()
        window_end = delivery.first_attempt_at + settings.WEBHOOK_RETRY_FOR
        _hold(worker_id, endpoint.pk, retry_at=min(now + backoff(in_window), window_end))
    delivery.save(
        update_fields=["attempt_count", "first_attempt_at", "last_attempt_at", "state", "delivered_at"]
    )


def send_pending(worker_id: str, endpoint_id: int, client, resolver=None, stop=None) -> int:
    """Send the endpoint's pending deliveries in event order until one fails (or `stop` is
    set); returns how many were delivered."""
    delivered = 0
    while delivered < SEND_BUDGET and not (stop and stop.is_set()):
        # Read afresh each time: a manager may have disabled it or given it a new secret.
        endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
        now = timezone.now()
        if not endpoint.is_active or endpoint.failing_since or (endpoint.retry_at and endpoint.retry_at > now):
            break
        head = endpoint.deliveries.filter(state=DeliveryState.PENDING).order_by("event_seq").first()
        if head is None:
            break
        result = http.attempt(
            endpoint.url, endpoint.secret, signing.webhook_id(endpoint.restaurant_id, head.event_seq),
            head.body, client=client, resolver=resolver,
        )
        record(worker_id, endpoint, head, now, result)
        if not result.ok:
            break
        delivered += 1
    return delivered


def work_on(worker_id: str, endpoint_id: int, resolver=None, stop=None) -> None:
    """What a worker does with an endpoint it claimed; the lease is given back at the end."""
    try:
        endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
        fan_out(worker_id, endpoint)
        with http.new_client() as client:
            send_pending(worker_id, endpoint_id, client, resolver, stop)
    except LeaseLost:
        logger.warning("webhook endpoint %s: lease lost, leaving it to another worker", endpoint_id)
    except WebhookEndpoint.DoesNotExist:
        pass  # deleted by a manager meanwhile
    finally:
        try:
            leasing.release(WebhookEndpoint, worker_id, endpoint_id)
        finally:
            close_old_connections()


def prune_log() -> int:
    """Delete delivered deliveries (and their attempts) older than the log's retention;
    pending and failed ones stay until they are delivered."""
    cutoff = timezone.now() - settings.WEBHOOK_LOG_RETENTION
    deleted, _ = WebhookDelivery.objects.filter(
        state=DeliveryState.DELIVERED, delivered_at__lt=cutoff
    ).delete()
    return deleted


class DeliveryWorker(leasing.LeaseWorker):
    """The `deliver_webhooks` process: claims endpoints and serves each on a thread."""

    name = "webhook worker"

    def __init__(self, *, threads=None, poll_interval=None, resolver=None):
        super().__init__(
            threads=threads or settings.WEBHOOK_WORKER_THREADS,
            poll_interval=settings.WEBHOOK_POLL_INTERVAL if poll_interval is None else poll_interval,
            chores=[(PRUNE_EVERY, prune_log)],
        )
        self.resolver = resolver

    def claim(self, limit: int) -> list[int]:
        return claim(self.worker_id, limit)

    def work(self, endpoint_id, stop) -> None:
        work_on(self.worker_id, endpoint_id, self.resolver, stop)
