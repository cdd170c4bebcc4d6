"""realtime.internals.SharedClientRedisCache: while the fast path is on, the cache's Redis
client is built once per connection pool and process, whichever thread (under ASGI: each
request's) asks; with it off, per call and per thread (Django's own)."""

import threading

import pytest
import redis
from django.conf import settings
from django.core.cache import cache

pytestmark = pytest.mark.redis


@pytest.fixture
def clients_built(monkeypatch):
    built = []
    original = redis.Redis.__init__

    def counting(self, *args, **kwargs):
        built.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "__init__", counting)
    return built


def test_cache_calls_share_one_client_with_the_fast_path_on(clients_built):
    cache.set("shared-client-probe", 1, 30)
    before = len(clients_built)
    results = []

    def reader_in_a_new_thread():
        # Django's `caches` are per thread: each thread gets its own cache object.
        from django.core.cache import caches

        for _ in range(10):
            results.append(caches["default"].get_many(["shared-client-probe", "absent"]))

    threads = [threading.Thread(target=reader_in_a_new_thread) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [{"shared-client-probe": 1}] * 40
    if settings.REALTIME_FAST_PATH:
        assert len(clients_built) - before <= 4  # at most one spare per racing first call
    else:
        assert len(clients_built) - before == 40


def test_threads_share_the_connections_with_the_fast_path_on():
    """Each ASGI request runs in a thread of its own: with Django's per-thread cache objects,
    each opened a Redis connection of its own."""
    import redis.connection

    from django.core.cache import caches

    opened = []
    original = redis.connection.AbstractConnection.connect

    def counting(self, *args, **kwargs):
        if getattr(self, "_sock", None) is None:  # connect() is a no-op when connected
            opened.append(1)
        return original(self, *args, **kwargs)

    redis.connection.AbstractConnection.connect = counting
    try:
        caches["default"].get("warm")
        before = len(opened)

        def one_request():
            caches["default"].get("probe")

        for _ in range(5):
            thread = threading.Thread(target=one_request)
            thread.start()
            thread.join()
    finally:
        redis.connection.AbstractConnection.connect = original
    if settings.REALTIME_FAST_PATH:
        assert len(opened) - before == 0
    else:
        assert len(opened) - before == 5
