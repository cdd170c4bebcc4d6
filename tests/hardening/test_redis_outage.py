"""Redis unavailable when a change commits.

tests/realtime/test_live.py::test_redis_restarted_under_live_sockets_clients_recover_every_event
shows that sockets recover every event across a Redis restart. This adds what it does not
look at: while Redis is down the requests answer quickly (never waiting on Redis), staff can
still sign in and refresh (the login throttle lives in the Redis cache), the events wait in
the outbox unpublished, `/healthz` names the channel layer as the dependency that is down;
once Redis is back the worker's own sweep publishes the waiting events (no restart, no
relay process) and a client that was away resumes with all of them.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from realtime.models import OutboxEvent

from ..live import WebServer, RedisServer
from .conftest import PASSWORD, ResumingClient

QUICK = 2.0  # seconds a request may take while Redis is down


def _timed(server, method, path, body=None, token=None):
    started = time.monotonic()
    status, answer = server.request(method, path, body, token)
    return status, answer, time.monotonic() - started


def _unpublished(restaurant_id):
    return list(
        OutboxEvent.objects.filter(restaurant_id=restaurant_id, published_at__isnull=True)
        .order_by("seq").values_list("seq", flat=True)
    )


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_changes_commit_while_redis_is_down_and_their_events_wait_in_the_outbox(live_floor):
    floor = live_floor
    redis = RedisServer("redis-outage")
    server = WebServer(
        "worker-redis-outage", REDIS_URL=redis.url,
        OUTBOX_SWEEP_INTERVAL="0.5", OUTBOX_SWEEP_GRACE="0.5", WS_HEARTBEAT_INTERVAL="0.5",
    )
    try:
        kitchen = server.login(floor.kitchen.email, PASSWORD)
        status, pair = server.request(
            "POST", "/api/v1/auth/login", {"email": floor.waiter.email, "password": PASSWORD}
        )
        assert status == 200, pair
        waiter = pair["accessToken"]

        async def connect():
            client = ResumingClient(server.ws_url, kitchen)
            await client.connect()
            await client.close()
            return client.last_event_id

        last_seen = asyncio.run(connect())
        redis.stop()

        # The floor keeps working.
        status, health, took = _timed(server, "GET", "/healthz")
        assert status == 503 and took < 5, (status, health, took)
        assert health["checks"]["channelLayer"]["status"] == "down", health
        assert health["checks"]["database"]["status"] == "ok", health

        status, order, took = _timed(server, "POST", "/api/v1/orders",
                                     {"tableSessionId": str(floor.session.pk)}, waiter)
        assert status == 201 and took < QUICK, (status, order, took)
        status, item, took = _timed(server, "POST", f"/api/v1/orders/{order['id']}/items",
                                    {"name": "Soup", "qty": 1, "unitPrice": "4.00"}, waiter)
        assert status == 201 and took < QUICK, (status, item, took)
        status, body, took = _timed(server, "POST", f"/api/v1/orders/{order['id']}/confirm", None, waiter)
        assert status == 200 and took < QUICK, (status, body, took)
        status, body, took = _timed(
            server, "POST", f"/api/v1/orders/{order['id']}/items/{item['id']}/status",
            {"status": "IN_PROGRESS"}, kitchen,
        )
        assert status == 200 and took < QUICK, (status, body, took)

        # Signing in and refreshing work too (the throttle's cache is down: it lets them by).
        status, again, took = _timed(server, "POST", "/api/v1/auth/login",
                                     {"email": floor.waiter.email, "password": PASSWORD})
        assert status == 200 and took < 5, (status, again, took)
        status, refreshed, took = _timed(server, "POST", "/api/v1/auth/refresh",
                                         {"refreshToken": pair["refreshToken"]})
        assert status == 200 and took < QUICK, (status, refreshed, took)

        # The events are committed and wait in the outbox: the sweep keeps failing to publish.
        time.sleep(2.0)
        waiting = _unpublished(floor.restaurant.pk)
        assert waiting == list(range(last_seen + 1, last_seen + 5)), waiting  # new, status, item, status

        redis._start("redis-outage")

        # Once Redis is back, the worker's own sweep publishes them; nobody restarts anything.
        deadline = time.monotonic() + 20
        while _unpublished(floor.restaurant.pk) and time.monotonic() < deadline:
            time.sleep(0.25)
        assert _unpublished(floor.restaurant.pk) == []
        status, health = server.request("GET", "/healthz")
        assert status == 200, health

        async def resume():
            client = ResumingClient(server.ws_url, kitchen, last_event_id=last_seen)
            await client.connect()
            await client.read_until(last_seen + 4, timeout=10)
            await client.close()
            return client

        client = asyncio.run(resume())
        assert client.received == 4
    finally:
        server.stop()
        redis.stop()


def test_login_throttle_lets_staff_in_when_its_cache_is_down(settings, db):
    """The login throttles count in the cache (Redis in production). With the cache down a
    login was a 500; it now goes through unthrottled, with a warning."""
    from rest_framework.test import APIClient

    from ..factories import UserFactory
    from ..live import free_port

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/1",  # nothing listens there
        }
    }
    user = UserFactory(password="correct-horse-battery")
    response = APIClient().post(
        "/api/v1/auth/login", {"email": user.email, "password": "correct-horse-battery"}, format="json"
    )
    assert response.status_code == 200, response.content
