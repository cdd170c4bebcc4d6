"""Anti-automation on every password surface (restaurant.throttling): the API login, the
kitchen login, the admin login and the admin's password change share counters per account
and per client address, kept atomically in Redis."""

from __future__ import annotations

import re
import statistics
import threading
from concurrent.futures import ThreadPoolExecutor
import time
import uuid

import pytest
from django.conf import global_settings, settings
from django.db import connections
from django.test import Client
from rest_framework.test import APIClient

from orders.models import Role

from ..factories import PASSWORD, UserFactory
from ..live import WebServer
from ..orders._wire_support import LOGIN, assert_problem, login

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ACCOUNT_LIMIT = int(settings.LOGIN_THROTTLE_ACCOUNT.split("/")[0])
ADDRESS_LIMIT = int(settings.LOGIN_THROTTLE_ADDRESS.split("/")[0])


def _api_login(email, password, **headers):
    return APIClient().post(LOGIN, {"email": email, "password": password}, format="json", **headers)


def _kitchen_login(client, email, password):
    return client.post("/kitchen/login/", {"username": email, "password": password})


def _admin_login(client, email, password):
    return client.post("/admin/login/", {"username": email, "password": password})


def _assert_locked_page(response):
    assert response.status_code == 429, response.status_code
    assert int(response["Retry-After"]) > 0
    assert "Too many sign-in attempts" in response.content.decode()


# --- item 1: the client address -------------------------------------------------------------


def test_a_new_forwarded_for_per_request_is_not_a_new_client(db):
    """Reproduced: 40 bad logins, each with a new X-Forwarded-For, were all 401, none 429."""
    answers = [
        _api_login(f"nobody{i}@example.com", "wrong", HTTP_X_FORWARDED_FOR=f"10.0.{i}.1").status_code
        for i in range(40)
    ]
    assert answers == [401] * ADDRESS_LIMIT + [429] * (40 - ADDRESS_LIMIT)


def test_behind_trusted_proxies_the_client_is_what_the_outermost_one_saw(db, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The attacker's own X-Forwarded-For entries sit left of what the proxy appended.
    answers = [
        _api_login(
            f"nobody{i}@example.com", "wrong", HTTP_X_FORWARDED_FOR=f"10.0.{i}.1, 203.0.113.9"
        ).status_code
        for i in range(ADDRESS_LIMIT + 1)
    ]
    assert answers[-1] == 429 and answers[:-1] == [401] * ADDRESS_LIMIT
    # Another client behind the same proxy is counted on its own.
    other = _api_login("nobody@example.com", "wrong", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert other.status_code == 401


@pytest.mark.django_db(transaction=True)
def test_the_procfile_server_does_not_trust_a_clients_forwarded_for():
    """The reproduction's server: uvicorn as the Procfile runs it, on loopback (where uvicorn's
    --proxy-headers trusted any X-Forwarded-For)."""
    server = WebServer("login-forwarded-for")
    try:
        import json
        import urllib.error
        import urllib.request

        statuses = []
        for i in range(ADDRESS_LIMIT + 3):
            request = urllib.request.Request(
                server.base + LOGIN, method="POST",
                data=json.dumps({"email": f"nobody{i}@example.com", "password": "wrong"}).encode(),
                headers={"Content-Type": "application/json", "X-Forwarded-For": f"10.1.{i}.1"},
            )
            try:
                urllib.request.urlopen(request, timeout=10)
            except urllib.error.HTTPError as error:
                statuses.append(error.code)
                if error.code == 429:
                    assert int(error.headers["Retry-After"]) > 0
        assert statuses.count(429) == 3, statuses
    finally:
        server.stop()


# --- item 2: every surface, one set of counters ---------------------------------------------


def test_kitchen_login_is_throttled_and_the_right_password_then_waits(floor):
    """Reproduced: 15 wrong passwords at /kitchen/login/, then the right one signed in."""
    client = Client()
    for _ in range(ACCOUNT_LIMIT):
        assert _kitchen_login(client, floor.kitchen.email, "wrong").status_code == 200
    for _ in range(15 - ACCOUNT_LIMIT):
        _assert_locked_page(_kitchen_login(client, floor.kitchen.email, "wrong"))
    _assert_locked_page(_kitchen_login(client, floor.kitchen.email, PASSWORD))
    assert "_auth_user_id" not in client.session


def test_admin_login_is_throttled_and_the_right_password_then_waits(floor):
    client = Client()
    for _ in range(ACCOUNT_LIMIT):
        assert _admin_login(client, floor.manager.email, "wrong").status_code == 200
    _assert_locked_page(_admin_login(client, floor.manager.email, PASSWORD))
    assert "_auth_user_id" not in client.session


def test_admin_password_change_is_throttled(floor):
    """A stolen admin session guessing the old password is counted like a login."""
    client = Client()
    client.force_login(floor.manager)
    data = {"new_password1": "Zebra-Quantum-Lantern-91", "new_password2": "Zebra-Quantum-Lantern-91"}
    for _ in range(ACCOUNT_LIMIT):
        response = client.post("/admin/password_change/", {**data, "old_password": "wrong"})
        assert response.status_code == 200
    _assert_locked_page(client.post("/admin/password_change/", {**data, "old_password": PASSWORD}))
    floor.manager.refresh_from_db()
    assert floor.manager.check_password(PASSWORD)


def test_the_surfaces_share_one_counter_per_account(floor):
    for _ in range(ACCOUNT_LIMIT):
        assert _api_login(floor.manager.email, "wrong").status_code == 401
    _assert_locked_page(_kitchen_login(Client(), floor.manager.email, PASSWORD))
    _assert_locked_page(_admin_login(Client(), floor.manager.email, PASSWORD))
    assert_problem(_api_login(floor.manager.email, PASSWORD), 429, "throttled")


def test_signing_in_is_not_counted_as_an_attempt(floor):
    for _ in range(ACCOUNT_LIMIT + 5):
        assert _api_login(floor.waiter.email, PASSWORD).status_code == 200


def test_unknown_and_known_accounts_are_locked_out_alike(floor):
    for email in (floor.waiter.email, "nobody@example.com"):
        for _ in range(ACCOUNT_LIMIT):
            assert_problem(_api_login(email, "wrong"), 401, "unauthenticated")
    known, unknown = _api_login(floor.waiter.email, "wrong"), _api_login("nobody@example.com", "x")
    for response in (known, unknown):
        body = assert_problem(response, 429, "throttled")
        assert int(response["Retry-After"]) > 0
    strip = lambda r: re.sub(r"\d+", "N", r.content.decode())  # noqa: E731 - the seconds left
    assert strip(known) == strip(unknown)
    assert body["detail"].startswith("Too many sign-in attempts")


# --- the race ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_sixteen_parallel_guesses_get_no_more_than_the_limit_checked():
    user = UserFactory(role=Role.KITCHEN)
    start = threading.Barrier(16)

    def guess(i) -> int:
        try:
            client = APIClient()
            start.wait()
            return client.post(
                LOGIN, {"email": user.email, "password": f"guess-{i}"}, format="json"
            ).status_code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(guess, range(16), timeout=30))
    assert sorted(answers) == [401] * ACCOUNT_LIMIT + [429] * (16 - ACCOUNT_LIMIT)


# --- item 3: no oracle at the kitchen login -------------------------------------------------


def _page(response) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def test_a_waiters_right_password_answers_exactly_as_a_wrong_one(floor):
    """Reproduced: the right password of a waiter answered "The kitchen display is for kitchen
    staff and managers.", a wrong one the generic message: a password oracle."""
    right, wrong = _kitchen_login(Client(), floor.waiter.email, PASSWORD), _kitchen_login(
        Client(), floor.waiter.email, "wrong"
    )
    assert right.status_code == wrong.status_code == 200
    assert _page(right) == _page(wrong)
    assert "Please enter a correct email and password." in _page(right)


def test_a_waiters_right_password_takes_as_long_as_a_wrong_one(floor, settings):
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS  # the real, slow hasher
    floor.waiter.set_password(PASSWORD)
    floor.waiter.save()
    timings = {PASSWORD: [], "wrong": []}
    for _ in range(3):
        for password in timings:
            started = time.perf_counter()
            _kitchen_login(Client(), floor.waiter.email, password)
            timings[password].append(time.perf_counter() - started)
    right, wrong = (statistics.median(timings[p]) for p in (PASSWORD, "wrong"))
    assert 0.5 < right / wrong < 2, timings


# --- item 11 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b'{"email": "a@example.com", "password": ', b"not json", b"[1, 2"])
def test_malformed_json_at_login_is_a_malformed_request(db, body):
    """Reproduced: the throttle wrapper swallowed the parse error; the view then saw no data
    and answered a validation error."""
    response = APIClient().post(LOGIN, body, content_type="application/json")
    assert_problem(response, 400, "malformed-request")


def test_login_still_validates_its_fields(db):
    response = APIClient().post(LOGIN, {"email": "a@example.com"}, format="json")
    body = assert_problem(response, 400, "validation-error")
    assert "password" in body["errors"]


def test_login_with_the_right_password_still_works(floor):
    response = login(floor.waiter.email.upper(), PASSWORD)
    assert response.status_code == 200
    assert uuid.UUID(response.json()["user"]["id"]) == floor.waiter.pk


@pytest.mark.parametrize("role", [Role.WAITER, Role.KITCHEN])
def test_the_admin_login_is_no_oracle_either(floor, role):
    """A sibling of item 3: a cook given is_staff, right password, got "You are authenticated
    as …, but are not authorized" from the admin login; a wrong password the form error."""
    user = floor.user(role)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    right, wrong = _admin_login(Client(), user.email, PASSWORD), _admin_login(Client(), user.email, "x")
    assert right.status_code == wrong.status_code == 200
    assert _page(right) == _page(wrong)
    assert "not authorized" not in _page(right)


def test_sessions_signed_in_before_the_throttle_backend_stay_signed_in(floor):
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(floor.kitchen.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = floor.kitchen.get_session_auth_hash()
    session.save()
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    assert client.get("/kitchen/").status_code == 200


def test_a_signed_in_session_guessing_at_the_admin_login_is_still_counted(floor, other_floor):
    client = Client()
    client.force_login(floor.manager)
    for _ in range(ACCOUNT_LIMIT):
        assert _admin_login(client, other_floor.manager.email, "wrong").status_code == 200
    _assert_locked_page(_admin_login(client, other_floor.manager.email, PASSWORD))
