"""The Procfile's `webhooks` process: two of them at once deliver every event once."""

from __future__ import annotations

import sys
import time

import pytest

from realtime.models import OutboxEvent
from realtime.webhooks.models import WebhookAttempt

from ...conftest import Floor
from ...live import Process, procfile_command, server_env
from .conftest import confirm_orders, subscribe

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

WORKER_SETTINGS = dict(
    WEBHOOK_ALLOW_PRIVATE=1, WEBHOOK_REQUIRE_HTTPS=0, WEBHOOK_TIMEOUT=1, WEBHOOK_POLL_INTERVAL=0.05,
    WEBHOOK_RETRY_BASE_SECONDS=0.05, WEBHOOK_RETRY_MAX_SECONDS=0.2,
)


def webhook_worker(name: str, **settings) -> Process:
    command = procfile_command("webhooks")
    assert command[:3] == ["python", "manage.py", "deliver_webhooks"], command
    # One endpoint at a time each: with four endpoints busy, both workers must take part.
    env = server_env(**{**WORKER_SETTINGS, **settings})
    return Process([sys.executable, *command[1:], "--threads", "1"], env, name)


def test_two_workers_at_once_deliver_each_event_once_in_order(webhook_settings, receivers):
    floors = [Floor("A"), Floor("B")]

    def answer(received, nth):
        time.sleep(0.01)  # a receiver that takes a moment: the workers overlap
        return 500 if received.event_id % 7 == 0 and nth == 1 else 200

    endpoints = []
    for floor in floors:
        for _ in range(2):
            receiver = receivers(answer=answer)
            endpoints.append((floor, receiver, subscribe(floor, receiver.url, receiver=receiver)))
    workers = [webhook_worker("webhooks-1"), webhook_worker("webhooks-2")]
    try:
        for _ in range(6):  # events committed while both run
            for floor in floors:
                confirm_orders(floor, 1)
            time.sleep(0.05)
        for floor, receiver, endpoint in endpoints:
            ids = list(OutboxEvent.objects.filter(restaurant=floor.restaurant).order_by("seq").values_list("seq", flat=True))
            accepted = receiver.wait_for(len(ids), timeout=30)
            time.sleep(0.2)
            assert [r.event_id for r in receiver.accepted()] == ids, endpoint
            arrivals = [r.event_id for r in receiver.requests]
            assert arrivals == sorted(arrivals)
            retried = [i for i in ids if i % 7 == 0]
            assert len(arrivals) == len(ids) + len(retried)  # nothing twice but the 500s' retries
            assert all(r.verified for r in receiver.requests)
            assert len(accepted) == len(ids)
        for worker in workers:
            assert worker.proc.poll() is None, f"{worker.name} exited"
    finally:
        for worker in workers:
            worker.stop()
    assert all(worker.proc.returncode == 0 for worker in workers)  # SIGTERM: a clean stop
    assert WebhookAttempt.objects.values("worker").distinct().count() == 2  # both took part


def test_a_worker_killed_mid_attempt_is_taken_over_when_its_lease_lapses(webhook_settings, receivers):
    floor = Floor()
    receiver = receivers(answer=lambda received, nth: ("sleep", 30) if nth == 1 and received.event_id == 1 else 200)
    subscribe(floor, receiver.url, receiver=receiver)
    confirm_orders(floor, 2)
    short_lease = dict(WEBHOOK_LEASE_SECONDS=2, WEBHOOK_TIMEOUT=20)
    first = webhook_worker("webhooks-killed", **short_lease)
    try:
        deadline = time.monotonic() + 20
        while not receiver.requests:
            assert time.monotonic() < deadline, "the first worker sent nothing"
            time.sleep(0.05)
        first.proc.kill()  # mid-attempt: nothing recorded, the lease left to lapse
        first.proc.wait(5)
    finally:
        first.stop()
    second = webhook_worker("webhooks-successor", **short_lease)
    try:
        accepted = receiver.wait_for(4, timeout=30)
    finally:
        second.stop()
    assert [r.event_id for r in accepted] == [1, 2, 3, 4]
    assert [r.event_id for r in receiver.requests] == [1, 1, 2, 3, 4]  # at least once
