"""A shift logging in at once (restaurant.password_checks): password checks take their turn,
and the rest of the process, its database pool first, stays with the other requests."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest
from django.contrib.auth import authenticate
from django.db import connections
from django.test import RequestFactory

from orders.auth_services import _issue
from orders.models import User
from restaurant import password_checks

from ..factories import PASSWORD, UserFactory
from ..live import WebServer
from ..orders._wire_support import LOGIN

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _call(server, method, path, body=None, token=None) -> tuple[int, float]:
    """(status, monotonic time answered); no timeout short enough to cut a queued login."""
    request = urllib.request.Request(
        server.base + path, method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json",
                 **({"Authorization": f"Bearer {token}"} if token else {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()
            return response.status, time.monotonic()
    except urllib.error.HTTPError as error:
        error.read()
        return error.code, time.monotonic()


@pytest.mark.django_db(transaction=True)
def test_a_request_during_a_shifts_logins_gets_a_connection_and_does_not_wait_for_them(floor):
    """Reproduced: under uvicorn each login hashed in a thread of its own while holding a
    pooled connection (inside the login's transaction), so a dozen logins at once emptied
    a small pool and other requests, and logins, were answered 503 after DB_POOL_TIMEOUT.
    Unknown accounts, each still a real PBKDF2 hash (no enumeration oracle by timing)."""
    server = WebServer("password-checks", DB_POOL_MAX_SIZE="3", DB_POOL_TIMEOUT="1")
    try:
        token = _issue(floor.manager).access_token
        logins, threads = [], []

        def log_in(index):
            logins.append(_call(server, "POST", LOGIN,
                                {"email": f"nobody-{index}@example.com", "password": "wrong"}))

        for index in range(12):
            threads.append(threading.Thread(target=log_in, args=(index,)))
            threads[-1].start()
        time.sleep(0.3)  # the logins are in: hashing, or waiting their turn
        read_status, read_answered = _call(server, "GET", "/api/v1/tables", token=token)
        for thread in threads:
            thread.join(180)
    finally:
        server.stop()
    assert sorted(status for status, _ in logins) == [401] * 12
    assert read_status == 200
    assert read_answered < max(answered for _, answered in logins)


@pytest.mark.django_db(transaction=True)
def test_no_more_password_checks_run_at_once_than_the_setting_allows(settings, monkeypatch):
    """Counted around the real check, as the threads of one process see it."""
    settings.LOGIN_PASSWORD_CHECKS = 2
    running, most = [0], [0]
    lock = threading.Lock()
    user = UserFactory()
    real_check = User.check_password

    def counted_check(self, raw):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            time.sleep(0.05)  # long enough for the other threads to pile up
            return real_check(self, raw)
        finally:
            with lock:
                running[0] -= 1

    def log_in(index):
        try:
            request = RequestFactory().post(LOGIN, REMOTE_ADDR=f"10.2.0.{index + 1}")
            assert authenticate(request, email=user.email, password=PASSWORD) == user
        finally:
            connections.close_all()

    monkeypatch.setattr(User, "check_password", counted_check)
    threads = [threading.Thread(target=log_in, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert most[0] == 2


@pytest.mark.django_db(transaction=True)
def test_a_check_waiting_its_turn_holds_no_database_connection(settings):
    settings.LOGIN_PASSWORD_CHECKS = 1
    gate = password_checks._gate()
    seen = {}

    def wait_for_a_turn():
        try:
            seen["connection"] = connections["default"]  # this thread's
            User.objects.exists()
            seen["opened"] = connections["default"].connection is not None
            with password_checks.turn():
                seen["turn"] = True
        finally:
            connections.close_all()

    gate.acquire()  # another login's turn
    try:
        waiter = threading.Thread(target=wait_for_a_turn)
        waiter.start()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not (
            seen.get("opened") and seen["connection"].connection is None
        ):
            time.sleep(0.01)
        held_while_waiting = seen["connection"].connection is not None
        assert "turn" not in seen
    finally:
        gate.release()
    waiter.join(5)
    assert seen["opened"] and not held_while_waiting and seen["turn"]
