"""Access ends on /socket.io/ too: every revocation kind closes the reference clients' sockets
(socket.io-client in Node, against a live Procfile worker) within a second, on both
transports. Socket.IO authenticates by token only: the cookie kinds (kitchen sign-out, session
expiry) are tests/security/test_revocation.py's."""

from __future__ import annotations

import time

import pytest
from orders.auth_services import _issue
from orders.models import Role

from ..conftest import Floor
from ..factories import UserFactory
from ..realtime.test_socketio import Probe, live, node_client, page_server, spec  # noqa: F401
from .test_revocation import USER_WIDE

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

def _logout(login, server):
    status, _ = server.request("POST", "/api/v1/auth/logout", {"refreshToken": login.refresh_token})
    assert status == 204


def _reuse_a_rotated_refresh_token(login, server):
    status, _ = server.request("POST", "/api/v1/auth/refresh", {"refreshToken": login.refresh_token})
    assert status == 200
    status, _ = server.request("POST", "/api/v1/auth/refresh", {"refreshToken": login.refresh_token})
    assert status == 401


LOGIN_ENDING = {
    "logged out": (_logout, "Logged out"),
    "refresh token reused": (_reuse_a_rotated_refresh_token, "Logged out"),
}
KINDS = [*USER_WIDE, *LOGIN_ENDING]
TRANSPORTS = ["websocket", "polling"]


def test_every_revocation_kind_closes_socketio_sockets_within_a_second(live):  # noqa: F811
    floor = Floor()
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
            kind = name.split("/")[0]
            started = time.monotonic()
            if kind in USER_WIDE:
                action, reason = USER_WIDE[kind]
                action(user, floor)
            else:
                action, reason = LOGIN_ENDING[kind]
                action(login, live)
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
