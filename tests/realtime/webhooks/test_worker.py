"""Delivery from the outbox to a real receiver on loopback: signed, in order, at least once,
through the receiver's 500s and timeouts; a slow endpoint holds up no other; a window of
failures marks the endpoint failing."""

from __future__ import annotations

import time

import pytest

from realtime.models import OutboxEvent
from realtime.webhooks import services as webhook_services
from realtime.webhooks.models import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookEndpoint

from ...conftest import Floor
from .conftest import confirm_orders, running_worker, subscribe

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def event_ids(floor) -> list[int]:
    return list(OutboxEvent.objects.filter(restaurant=floor.restaurant).order_by("seq").values_list("seq", flat=True))


def test_every_event_arrives_signed_once_in_order_with_the_standard_body(webhook_settings, receivers):
    floor = Floor()
    confirm_orders(floor, 1)  # before the endpoint existed: not delivered
    receiver = receivers()
    endpoint = subscribe(floor, receiver.url, receiver=receiver)
    confirm_orders(floor, 5)
    expected = event_ids(floor)[2:]

    with running_worker():
        received = receiver.wait_for(len(expected))
        time.sleep(0.3)  # nothing more comes

    assert [r.event_id for r in receiver.requests] == expected
    assert all(r.verified for r in receiver.requests)
    first = received[0]
    event = OutboxEvent.objects.get(restaurant=floor.restaurant, seq=expected[0])
    assert first.headers["webhook-id"] == f"{floor.restaurant.pk}:{event.seq}"
    assert abs(int(first.headers["webhook-timestamp"]) - time.time()) < 30
    assert first.headers["webhook-signature"].startswith("v1,")
    assert first.message == {
        "type": event.name,
        "timestamp": first.message["timestamp"],
        "restaurantId": str(floor.restaurant.pk),
        "eventId": str(event.seq),
        "data": event.payload,
    }
    assert first.message["timestamp"].endswith("Z")
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert {d.state for d in deliveries} == {DeliveryState.DELIVERED}
    attempt = WebhookAttempt.objects.filter(delivery__endpoint=endpoint).first()
    assert attempt.status_code == 200 and attempt.latency_ms is not None
    assert attempt.response_excerpt == "ok"


def test_only_subscribed_events_are_delivered(webhook_settings, receivers):
    floor = Floor()
    receiver = receivers()
    subscribe(floor, receiver.url, events=["order.new"], receiver=receiver)
    confirm_orders(floor, 3)
    with running_worker():
        received = receiver.wait_for(3)
        time.sleep(0.3)
    assert [r.message["type"] for r in receiver.requests] == ["order.new"] * 3
    assert [r.event_id for r in received] == event_ids(floor)[0::2]


def test_500s_and_timeouts_are_retried_in_order_and_nothing_is_lost(webhook_settings, receivers):
    webhook_settings.WEBHOOK_TIMEOUT = 0.5
    floor = Floor()
    receiver = receivers()
    subscribe(floor, receiver.url, receiver=receiver)
    confirm_orders(floor, 4)
    ids = event_ids(floor)
    failing = {ids[1]: [500, 500], ids[4]: [("sleep", 1.5)], ids[6]: [503, ("sleep", 1.5), 500]}

    def answer(received, nth):
        plan = failing.get(received.event_id, [])
        return plan[nth - 1] if nth <= len(plan) else 200

    receiver.answer = answer
    with running_worker():
        accepted = receiver.wait_for(len(ids), timeout=30)
        time.sleep(0.3)

    assert [r.event_id for r in accepted] == ids  # each once, in order
    arrivals = [r.event_id for r in receiver.requests]
    assert arrivals == sorted(arrivals)  # retries came before anything later
    assert all(r.verified for r in receiver.requests)
    for event_id, plan in failing.items():
        assert arrivals.count(event_id) == len(plan) + 1
        delivery = WebhookDelivery.objects.get(event_seq=event_id)
        outcomes = list(delivery.attempts.order_by("number").values_list("outcome", flat=True))
        assert outcomes == [
            "timeout" if isinstance(step, tuple) else "http_error" for step in plan
        ] + ["ok"]


def test_a_slow_endpoint_does_not_hold_up_another(webhook_settings, receivers):
    webhook_settings.WEBHOOK_TIMEOUT = 3.0
    floor = Floor()
    slow, quick = receivers(answer=lambda received, nth: ("sleep", 2.5)), receivers()
    subscribe(floor, slow.url, receiver=slow)
    subscribe(floor, quick.url, receiver=quick)
    confirm_orders(floor, 3)
    with running_worker(threads=2):
        time.sleep(0.2)  # the slow endpoint's first attempt is under way
        started = time.monotonic()
        quick.wait_for(6, timeout=10)
        assert time.monotonic() - started < 1.5
    assert len(slow.requests) == 1


def test_failing_for_the_whole_retry_window_marks_the_endpoint_failing_until_resumed(
    webhook_settings, receivers
):
    from datetime import timedelta

    webhook_settings.WEBHOOK_RETRY_FOR = timedelta(seconds=0.6)
    floor = Floor()
    down = {"yes": True}
    receiver = receivers(answer=lambda received, nth: 500 if down["yes"] else 200)
    endpoint = subscribe(floor, receiver.url, receiver=receiver)
    confirm_orders(floor, 2)
    ids = event_ids(floor)
    with running_worker():
        deadline = time.monotonic() + 10
        while not WebhookEndpoint.objects.get(pk=endpoint.pk).failing_since:
            assert time.monotonic() < deadline, "the endpoint was never marked failing"
            time.sleep(0.05)
        attempts_then = len(receiver.requests)
        time.sleep(0.5)
        assert len(receiver.requests) == attempts_then  # stopped, waiting for a manager
        assert {r.event_id for r in receiver.requests} == {ids[0]}
        head = WebhookDelivery.objects.get(endpoint=endpoint, event_seq=ids[0])
        assert head.state == DeliveryState.FAILED and head.attempt_count >= 3

        down["yes"] = False
        webhook_services.endpoint_resume(actor=floor.manager, endpoint_id=endpoint.pk)
        accepted = receiver.wait_for(len(ids))
    assert [r.event_id for r in accepted] == ids
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).failing_since is None


def test_backoff_doubles_up_to_the_cap_with_jitter(settings):
    from realtime.webhooks.worker import backoff

    settings.WEBHOOK_RETRY_BASE, settings.WEBHOOK_RETRY_MAX = 5.0, 3600.0
    for attempts, step in ((1, 5), (2, 10), (3, 20), (8, 640), (20, 3600)):
        delays = {backoff(attempts).total_seconds() for _ in range(50)}
        assert all(step / 2 <= delay <= step for delay in delays), (attempts, delays)
        assert len(delays) > 1  # jittered


@pytest.mark.django_db
def test_the_log_keeps_delivered_deliveries_for_its_retention_and_the_rest_until_delivered(floor, settings):
    from datetime import timedelta

    from django.utils import timezone

    from realtime.webhooks.worker import prune_log

    endpoint = subscribe(floor, "https://hooks.example.com/in")
    old = timezone.now() - settings.WEBHOOK_LOG_RETENTION - timedelta(minutes=1)
    for seq, state, delivered_at in (
        (1, DeliveryState.DELIVERED, old),
        (2, DeliveryState.DELIVERED, timezone.now()),
        (3, DeliveryState.FAILED, None),
        (4, DeliveryState.PENDING, None),
    ):
        WebhookDelivery.objects.create(
            endpoint=endpoint, event_seq=seq, event_type="order.new", body="{}", state=state,
            delivered_at=delivered_at,
        )
    assert prune_log() >= 1
    assert set(WebhookDelivery.objects.values_list("event_seq", flat=True)) == {2, 3, 4}
