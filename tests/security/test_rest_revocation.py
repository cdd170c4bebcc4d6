"""REST authenticates without a query while nothing its token tells has changed, and still
refuses a token at the next request after any change that ends its user's access: through
the user's change mark in the cache (restaurant.revocation), or, with the cache down, the
database check (tests/security/test_revocation.py covers the same changes end to end)."""

from __future__ import annotations

import time
import zoneinfo

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework_simplejwt.tokens import RefreshToken

from orders import auth_services
from orders.models import Role, User
from restaurant import revocation, tenants
from restaurant.tenancy import StaffJWTAuthentication, current_restaurant

from ..conftest import Floor
from ..factories import RestaurantFactory
from ..live import free_port
from .test_revocation import USER_WIDE

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

TABLES = "/api/v1/tables"
REPORT = "/api/v1/reports/kitchen"  # managers only


@pytest.fixture
def steady():
    """The cache has held the change marks since before any token of the test was issued."""
    cache.set(revocation.SINCE_KEY, time.time() - 3600, timeout=None)


def _authenticate(access_token):
    """`StaffJWTAuthentication` and `current_restaurant` as a view runs them, with the
    statements they ran."""
    request = APIRequestFactory().get(TABLES, HTTP_AUTHORIZATION=f"Bearer {access_token}")
    with CaptureQueriesContext(connection) as captured:
        user, _ = StaffJWTAuthentication().authenticate(request)
        request.user = user
        restaurant = current_restaurant(request)
    return user, restaurant, [q["sql"] for q in captured.captured_queries]


def _get(access_token, path=TABLES):
    return APIClient(HTTP_AUTHORIZATION=f"Bearer {access_token}").get(path)


def test_a_login_token_authenticates_without_a_query_once_the_restaurant_was_read(steady):
    floor = Floor()
    token = auth_services._issue(floor.waiter).access_token
    _authenticate(token)  # this process reads the restaurant's row once
    user, restaurant, sql = _authenticate(token)
    assert sql == []
    assert (user.pk, user.role, user.restaurant_id, user.email, user.name, user.is_superuser) == (
        floor.waiter.pk, Role.WAITER, floor.restaurant.pk, floor.waiter.email, floor.waiter.name, False
    )
    assert user.is_authenticated and user.is_active
    assert (restaurant.pk, restaurant.timezone) == (floor.restaurant.pk, floor.restaurant.timezone)
    assert user.password == User.objects.get(pk=floor.waiter.pk).password  # other fields: loaded


@pytest.mark.parametrize("change", sorted(USER_WIDE))
def test_a_change_that_ends_access_refuses_the_token_at_the_next_request(steady, change):
    floor = Floor()
    token = auth_services._issue(floor.kitchen).access_token
    other = auth_services._issue(floor.waiter).access_token
    assert _get(token).status_code == 200
    assert _authenticate(token)[2] == []  # the token's claims stood in for the row
    USER_WIDE[change][0](floor.kitchen, floor)
    assert _get(token).status_code == 401
    assert _get(other).status_code == 200  # the user's colleague goes on


def test_a_new_role_applies_at_the_next_request_without_a_new_login(steady):
    floor = Floor()
    token = auth_services._issue(floor.waiter).access_token
    assert _get(token, REPORT).status_code == 403
    waiter = User.objects.get(pk=floor.waiter.pk)
    waiter.role = Role.MANAGER
    waiter.save()
    assert _get(token, REPORT).status_code == 200
    assert _authenticate(token)[0].role == Role.MANAGER  # read from the row, not the token


def test_a_mark_the_cache_did_not_take_is_written_at_the_next_request(steady, monkeypatch):
    floor = Floor()
    token = auth_services._issue(floor.kitchen).access_token
    assert _get(token).status_code == 200

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    with monkeypatch.context() as patched:
        patched.setattr(cache, "set_many", down)
        USER_WIDE["deactivated"][0](floor.kitchen, floor)
    assert _get(token).status_code == 401
    assert cache.get(f"user-tokens-outdated:{floor.kitchen.pk}") is not None


def test_a_cache_that_lost_its_marks_checks_every_older_token_against_the_database(steady):
    floor = Floor()
    token = auth_services._issue(floor.kitchen).access_token
    USER_WIDE["password changed"][0](floor.kitchen, floor)
    cache.clear()  # a restarted Redis: the mark is gone
    assert _get(token).status_code == 401
    _, _, sql = _authenticate(auth_services._issue(floor.waiter).access_token)
    assert any("orders_user" in q for q in sql)  # issued before the marks began: the row read


def test_a_token_issued_before_its_claims_existed_is_checked_against_the_database(steady):
    floor = Floor()
    token = str(RefreshToken.for_user(floor.kitchen).access_token)
    assert _get(token).status_code == 200
    assert any("orders_user" in q for q in _authenticate(token)[2])
    User.objects.filter(pk=floor.kitchen.pk).update(is_active=False)  # not even a signal
    assert _get(token).status_code == 401


def test_a_superusers_token_is_checked_against_the_database(steady):
    """Its `role` claim says MANAGER whatever the row's role: the row answers, as before."""
    floor = Floor()
    superuser = User.objects.create_superuser(
        email="root@example.com", password="x", restaurant=floor.restaurant, role=Role.KITCHEN
    )
    user, _, sql = _authenticate(auth_services._issue(superuser).access_token)
    assert any("orders_user" in q for q in sql)
    assert (user.is_superuser, user.role) == (True, Role.KITCHEN)


def test_a_restaurants_change_is_read_at_the_next_request(steady):
    floor = Floor()
    token = auth_services._issue(floor.waiter).access_token
    assert _authenticate(token)[1].timezone == "UTC"
    floor.restaurant.timezone = "Europe/Madrid"
    floor.restaurant.save()
    _, restaurant, sql = _authenticate(token)
    assert restaurant.timezone == "Europe/Madrid" and len(sql) == 1
    assert zoneinfo.ZoneInfo(restaurant.timezone)
    assert _authenticate(token)[2] == []


def test_a_restaurant_row_read_while_it_changed_is_not_kept():
    """The version is read before the row: a change committed in between leaves the row
    kept under a version that is no longer the cache's."""
    restaurant = RestaurantFactory()
    version = cache.get(tenants.version_key(restaurant.pk))
    assert version is not None  # its creation wrote one
    tenants._rows.pop(str(restaurant.pk), None)
    stale = tenants.restaurant(restaurant.pk, version)
    restaurant.name = "Renamed"
    restaurant.save()  # committed after the row was read: a new version
    assert stale.name != "Renamed"
    fresh = tenants.restaurant(restaurant.pk, cache.get(tenants.version_key(restaurant.pk)))
    assert fresh.name == "Renamed"


@pytest.fixture
def cache_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/1",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    yield
    revocation._unwritten.clear()  # marks of this test's users: not the next test's cache's


@pytest.mark.parametrize("change", sorted(USER_WIDE))
def test_with_the_cache_down_every_token_is_checked_against_the_database(cache_down, change):
    floor = Floor()
    token = auth_services._issue(floor.kitchen).access_token
    response = _get(token)
    assert response.status_code == 200, response.content  # REST goes on during an outage
    assert any("orders_user" in q for q in _authenticate(token)[2])
    USER_WIDE[change][0](floor.kitchen, floor)
    assert _get(token).status_code == 401


def test_a_token_verified_once_is_not_verified_again_but_still_expires(steady, monkeypatch):
    """A token's signature is checked once per process; its expiry at every request."""
    from datetime import timedelta

    from rest_framework_simplejwt.backends import TokenBackend

    from restaurant import tenancy

    floor = Floor()
    token = auth_services._issue(floor.waiter).access_token
    assert _get(token).status_code == 200
    decodes = []
    real_decode = TokenBackend.decode
    monkeypatch.setattr(TokenBackend, "decode", lambda *a, **k: decodes.append(1) or real_decode(*a, **k))
    assert _get(token).status_code == 200
    assert decodes == []  # verified before: not decoded again
    later = tenancy.jwt_aware_utcnow() + timedelta(days=30)
    monkeypatch.setattr(tenancy, "jwt_aware_utcnow", lambda: later)
    monkeypatch.setattr("rest_framework_simplejwt.tokens.aware_utcnow", lambda: later)
    response = _get(token)
    assert response.status_code == 401, response.content
    assert response.json()["type"] == "/problems/unauthenticated"


def test_a_token_altered_after_one_was_verified_is_refused(steady):
    floor = Floor()
    token = auth_services._issue(floor.waiter).access_token
    assert _get(token).status_code == 200
    header, payload, signature = token.split(".")
    i = len(signature) // 2
    flipped = signature[:i] + ("A" if signature[i] != "A" else "B") + signature[i + 1:]
    for _ in range(2):  # refused the first time and every time after
        assert _get(f"{header}.{payload}.{flipped}").status_code == 401
