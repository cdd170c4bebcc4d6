"""realtime.internals.SharedClientRedisCache: the cache's Redis client is built once per
connection pool while the fast path is on, and per call (Django's own) with it off."""

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

    def reader():
        for _ in range(10):
            results.append(cache.get_many(["shared-client-probe", "absent"]))

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [{"shared-client-probe": 1}] * 40
    if settings.REALTIME_FAST_PATH:
        assert len(clients_built) - before <= 4  # at most one spare per racing first call
    else:
        assert len(clients_built) - before == 40
