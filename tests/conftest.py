"""Fixtures shared by the whole suite.

Tests marked `postgres` or `redis` need the real service. In CI (CI=true) a missing service
fails them; on a laptop without DATABASE_URL / REDIS_URL they are skipped.
"""

import os

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from orders.models import OrderStatus, Role

from .factories import (
    MenuItemFactory,
    OrderFactory,
    OrderItemFactory,
    RestaurantFactory,
    TableFactory,
    TableSessionFactory,
    UserFactory,
)

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _isolate_parallel_worker() -> None:
    """Under pytest-xdist (`make test` runs two workers) each worker has its own test
    database (pytest-django appends the worker's name) but would share Redis: the cache's
    throttle counters and revoked logins (`cache.clear()` empties the whole database) and the
    channel layer's groups. Each worker gets a cache database and a channel prefix of its own,
    here and in the live servers it starts (they inherit the environment)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw") or not settings.REDIS_URL:
        return
    from urllib.parse import urlsplit

    from restaurant.settings import _redis_db_url

    index = int(worker[2:])
    configured = settings.CACHES["default"]["LOCATION"]
    base = int(urlsplit(configured).path.strip("/") or 0)
    cache_url = _redis_db_url(configured, base + index)  # gw0 keeps the configured one
    prefix = f"{os.environ.get('CHANNEL_PREFIX', 'asgi')}-{worker}"
    settings.CACHES["default"]["LOCATION"] = cache_url
    settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = prefix
    os.environ.update(CACHE_URL=cache_url, CHANNEL_PREFIX=prefix)


_isolate_parallel_worker()


def _missing_service(item, message):
    if IN_CI:
        pytest.fail(f"{message} (required in CI)", pytrace=False)
    pytest.skip(message)


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres") and settings.DATABASES["default"]["ENGINE"] != (
        "django.db.backends.postgresql"
    ):
        _missing_service(item, "needs PostgreSQL: set DATABASE_URL")
    if item.get_closest_marker("redis") and not settings.REDIS_URL:
        _missing_service(item, "needs Redis: set REDIS_URL")


@pytest.fixture(scope="session", autouse=True)
def _release_connections_before_the_test_database_goes(django_db_setup, django_db_blocker):
    """The test database is dropped after the session; connections still open in other
    threads (the event publisher's, the pool's) would make PostgreSQL refuse."""
    yield
    from django.db import connections

    from realtime.publisher import publisher

    publisher.close_connections()
    connection = connections["default"]
    if connection.vendor == "postgresql":
        # Threads of thread pools (database_sync_to_async, to_thread) may still hold theirs.
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
    if getattr(connection, "pool", None) is not None:
        connection.close_pool()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2's deliberate slowness costs seconds per user; tests need none of it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttle counters live in the cache; each test starts with none."""
    cache.clear()
    yield


def auth_header(user) -> dict:
    token = RefreshToken.for_user(user).access_token
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def api_client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(**auth_header(user))
    return client


class Floor:
    """One restaurant with staff of every role, a table with an open session and a menu."""

    def __init__(self, name="A"):
        self.restaurant = RestaurantFactory(name=f"Restaurant {name}")
        self.manager = UserFactory(restaurant=self.restaurant, role=Role.MANAGER)
        self.waiter = UserFactory(restaurant=self.restaurant, role=Role.WAITER)
        self.kitchen = UserFactory(restaurant=self.restaurant, role=Role.KITCHEN)
        self.table = TableFactory(restaurant=self.restaurant)
        self.session = TableSessionFactory(table=self.table)
        self.menu_item = MenuItemFactory(restaurant=self.restaurant)

    def user(self, role):
        return {Role.MANAGER: self.manager, Role.WAITER: self.waiter, Role.KITCHEN: self.kitchen}[role]

    def client(self, role=Role.WAITER) -> APIClient:
        return api_client(self.user(role))

    def order(self, *, status=OrderStatus.DRAFT, items=1, item_status=None, **kwargs):
        order = OrderFactory(table_session=self.session, status=status, **kwargs)
        for _ in range(items):
            extra = {"status": item_status} if item_status else {}
            OrderItemFactory(order=order, **extra)
        return order


@pytest.fixture
def floor(db):
    return Floor("A")


@pytest.fixture
def other_floor(db):
    return Floor("B")
