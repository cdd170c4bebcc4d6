"""Logs and security headers of a real worker.

A web worker's whole output (the ASGI server's access log and every logger of the app) is read
after a flow that logs in, fails a login, uses and refreshes tokens, logs out, signs in to
the kitchen page with a password, puts a token in a query string, and opens sockets (with a
header, with `?token=` in the URL, with an `auth` message). Not one token, password or
Authorization header is in it; every request and socket line names the user and the
restaurant. Then the security headers: HSTS behind a TLS proxy, nosniff, frame options, and
a CSP on the kitchen page.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.parse
import urllib.request

import pytest
import websockets
from django.test import Client

from ..live import ARTIFACTS, WebServer
from .conftest import PASSWORD
from .test_database_outage import _get, _session_cookie

pytestmark = [pytest.mark.django_db(transaction=True)]

WRONG_PASSWORD = "Wr0ng-Passw0rd-xyz"


def _post_form(url, fields, cookies, referer):
    request = urllib.request.Request(
        url, data=urllib.parse.urlencode(fields).encode(), method="POST",
        headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()), "Referer": referer,
                 "Content-Type": "application/x-www-form-urlencoded"},
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _kitchen_login(server, email, password):
    status, headers, body, _ = _get(server.base + "/kitchen/login/")
    assert status == 200
    csrf_cookie = re.search(r"csrftoken=([^;]+)", headers["Set-Cookie"]).group(1)
    csrf_field = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
    return _post_form(
        server.base + "/kitchen/login/",
        {"username": email, "password": password, "csrfmiddlewaretoken": csrf_field, "next": "/kitchen/"},
        {"csrftoken": csrf_cookie}, server.base + "/kitchen/login/",
    )


def test_logs_hold_no_secret_and_every_request_and_socket_line_names_user_and_restaurant(live_floor):
    floor = live_floor
    log_path = ARTIFACTS / "logs-no-secrets.log"
    start = log_path.stat().st_size if log_path.exists() else 0
    server = WebServer("logs-no-secrets")
    secrets = {PASSWORD, WRONG_PASSWORD}
    try:
        status, pair = server.request(
            "POST", "/api/v1/auth/login", {"email": floor.waiter.email, "password": PASSWORD}
        )
        assert status == 200
        waiter = pair["accessToken"]
        status, _ = server.request(
            "POST", "/api/v1/auth/login", {"email": floor.waiter.email, "password": WRONG_PASSWORD}
        )
        assert status == 401
        kitchen = server.login(floor.kitchen.email, PASSWORD)
        secrets |= {waiter, pair["refreshToken"], kitchen}

        status, order = server.request("POST", "/api/v1/orders", {"tableSessionId": str(floor.session.pk)}, waiter)
        assert status == 201
        status, _ = server.request("GET", f"/api/v1/orders?token={waiter}&accessToken={kitchen}", token=waiter)
        assert status == 200
        status, _ = server.request("GET", "/api/v1/orders", token="not-a-valid-token")
        assert status == 401
        status, refreshed = server.request("POST", "/api/v1/auth/refresh", {"refreshToken": pair["refreshToken"]})
        assert status == 200
        secrets |= {refreshed["accessToken"], refreshed["refreshToken"]}
        status, _ = server.request("POST", "/api/v1/auth/logout", {"refreshToken": refreshed["refreshToken"]})
        assert status == 204
        status, _ = _kitchen_login(server, floor.kitchen.email, PASSWORD)
        assert status == 302
        status, _ = _kitchen_login(server, floor.kitchen.email, WRONG_PASSWORD)
        assert status == 200  # the form again, with an error

        async def sockets():
            headers = {"Authorization": f"Bearer {kitchen}"}
            async with websockets.connect(server.ws_url, additional_headers=headers) as ws:
                assert json.loads(await ws.recv())["type"] == "ready"
            async with websockets.connect(f"{server.ws_url}?token={kitchen}") as ws:
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd.code == 4401
            async with websockets.connect(server.ws_url) as ws:
                await ws.send(json.dumps({"type": "auth", "token": kitchen}))
                assert json.loads(await ws.recv())["type"] == "ready"
            await asyncio.sleep(0.5)  # let the disconnect lines be written

        asyncio.run(sockets())
    finally:
        server.stop()

    with open(log_path, encoding="utf-8", errors="replace") as log:
        log.seek(start)
        output = log.read()
    assert "api request" in output, output[-2000:]
    assert '"WebSocket /ws/events/' in output or "WSCONNECT" in output, output[-2000:]  # uvicorn, daphne
    for secret in secrets:
        assert secret not in output, f"a secret is in the log: {secret[:12]}…"
    assert not re.search(r"(?i)bearer\s+\S", output)
    assert not re.search(r"(?i)authorization\s*[:=]", output)
    assert "?token=[redacted]" in output  # the access log's URL, scrubbed

    waiter_ids = f"userId={floor.waiter.pk} restaurantId={floor.restaurant.pk}"
    kitchen_ids = f"userId={floor.kitchen.pk} restaurantId={floor.restaurant.pk}"
    request_lines = [l for l in output.splitlines() if " api request " in l]
    socket_lines = [l for l in output.splitlines() if " socket " in l]
    assert request_lines and socket_lines
    for line in request_lines + socket_lines:
        assert re.search(r"userId=\S+ restaurantId=\S+", line), line
    assert any("method=POST path=/api/v1/orders status=201" in l and waiter_ids in l for l in request_lines)
    assert any("socket connected " + kitchen_ids + " via=token" in l for l in socket_lines)
    assert sum("socket disconnected" in l and kitchen_ids in l for l in socket_lines) == 2
    assert any("socket disconnected" in l and "userId=- restaurantId=-" in l for l in socket_lines)


def test_security_headers_behind_a_tls_proxy(live_floor):
    floor = live_floor
    server = WebServer("tls-proxy-headers", BEHIND_TLS_PROXY="1")
    try:
        token = server.login(floor.waiter.email, PASSWORD)
        https = {"X-Forwarded-Proto": "https", "Authorization": f"Bearer {token}"}
        status, headers, _, _ = _get(server.base + "/api/v1/auth/me", https)
        assert status == 200
        assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
        # An error answer carries them too.
        status, headers, _, _ = _get(server.base + "/api/v1/orders", {"X-Forwarded-Proto": "https"})
        assert status == 401 and headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Strict-Transport-Security"]

        kitchen = {"Cookie": _session_cookie(floor.kitchen), "X-Forwarded-Proto": "https"}
        status, headers, _, _ = _get(server.base + "/kitchen/", kitchen)
        assert status == 200
        csp = headers["Content-Security-Policy"]
        for directive in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'",
                          "base-uri 'none'", "form-action 'self'"):
            assert directive in csp, csp
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert headers["X-Frame-Options"] == "DENY"
    finally:
        server.stop()


def test_no_hsts_and_no_trusted_proto_header_without_a_tls_proxy(floor):
    """BEHIND_TLS_PROXY off (these tests' settings): X-Forwarded-Proto is not trusted, so
    no HSTS on plain HTTP; the other headers are always there."""
    response = Client().get("/api/v1/orders", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 401
    assert "Strict-Transport-Security" not in response
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
