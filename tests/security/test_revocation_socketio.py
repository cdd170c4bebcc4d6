"""Access ends on /socket.io/ too: every revocation kind closes the reference clients' sockets
(socket.io-client in Node, against a live Procfile worker) within a second, on both
transports. Socket.IO authenticates by token only: the cookie kinds (kitchen sign-out, session
expiry) are tests/security/test_revocation.py's."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from orders.auth_services import _issue
from orders.models import Role, User

from ..conftest import Floor
from ..factories import RestaurantFactory, UserFactory
from ..realtime.test_socketio import Probe, live, node_client, page_server, spec  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

STRONG_PASSWORD = "Zebra-Quantum-Lantern-91"


def _delete(user, login, server, floor):
    User.objects.get(pk=user.pk).delete()


def _change_password(user, login, server, floor):
    user = User.objects.get(pk=user.pk)
    user.set_password(STRONG_PASSWORD)
    user.save()


def _reset_password_in_the_admin(user, login, server, floor):
    client = Client()
    client.force_login(floor.manager)
    response = client.post(
        f"/admin/orders/user/{user.pk}/password/",
        {"password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD},
    )
    assert response.status_code == 302


def _deactivate(user, login, server, floor):
    user = User.objects.get(pk=user.pk)
    user.is_active = False
    user.save()


def _move(user, login, server, floor):
    user = User.objects.get(pk=user.pk)
    user.restaurant = floor.elsewhere
    user.save()


def _logout(user, login, server, floor):
    status, _ = server.request("POST", "/api/v1/auth/logout", {"refreshToken": login.refresh_token})
    assert status == 204


def _reuse_a_rotated_refresh_token(user, login, server, floor):
    status, _ = server.request("POST", "/api/v1/auth/refresh", {"refreshToken": login.refresh_token})
    assert status == 200
    status, _ = server.request("POST", "/api/v1/auth/refresh", {"refreshToken": login.refresh_token})
    assert status == 401


KINDS = {
    "deleted": (_delete, "Account deleted"),
    "password changed": (_change_password, "Password changed"),
    "password reset": (_reset_password_in_the_admin, "Password changed"),
    "deactivated": (_deactivate, "Account changed"),
    "moved": (_move, "Account changed"),
    "logged out": (_logout, "Logged out"),
    "refresh token reused": (_reuse_a_rotated_refresh_token, "Logged out"),
}
TRANSPORTS = ["websocket", "polling"]


def test_every_revocation_kind_closes_socketio_sockets_within_a_second(live):  # noqa: F811
    floor = Floor()
    floor.elsewhere = RestaurantFactory()
    sockets = {}
    for kind in KINDS:
        for transport in TRANSPORTS:
            user = UserFactory(role=Role.KITCHEN, restaurant=floor.restaurant)
            sockets[f"{kind}/{transport}"] = (user, _issue(user), transport)
    bystander = _issue(floor.kitchen)
    probe = Probe([
        *(spec(name, live, login.access_token, "auth", [transport])
          for name, (_, login, transport) in sockets.items()),
        spec("bystander", live, bystander.access_token, "auth", ["websocket"]),
    ])
    try:
        for name in [*sockets, "bystander"]:
            probe.first(name, "connect")
        for name, (user, login, _) in sockets.items():
            action, reason = KINDS[name.split("/")[0]]
            started = time.monotonic()
            action(user, login, live, floor)
            closed = probe.first(name, "disconnect", timeout=5)
            elapsed = time.monotonic() - started
            assert closed["reason"] == "io server disconnect", (name, closed)
            assert [(r["event"], r["data"]) for r in probe.of(name, "event")] == [
                ("auth.closed", {"reason": reason})
            ], name
            assert elapsed < 1.0, (name, elapsed)
        assert probe.of("bystander", "disconnect") == []
    finally:
        probe.close()
