"""PostgreSQL unavailable, without touching the machine's PostgreSQL: a TCP proxy of the
test's own stands between a live daphne worker and the database, and is cut and restored.

Two kinds of outage: refused (connections are closed at once, as when the server is down)
and black-holed (connections hang, as when the network drops packets; the connect timeout,
`DB_CONNECT_TIMEOUT`, 3 s, bounds them). Either way the REST API answers 503 problem details
within seconds, pages outside DRF answer 503 (not 500), `/healthz` says the database is the
dependency that is down, and when the proxy is restored everything works again in the same
process: requests, health, and events to sockets.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection

from ..live import WebServer, free_port
from ..live import test_database_url as database_url_of_the_tests
from .conftest import PASSWORD, ResumingClient

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# The pool's recovery: a pending connect attempt's timeout (3 s) and one backoff step.
RECOVERY = 8.0
QUICK = 5.0


class TcpProxy:
    """127.0.0.1:<port> -> the database, on an asyncio loop in a thread of this process."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self.port = free_port()
        self.mode = "up"  # "up", "refuse" or "blackhole"
        self.pipes: set = set()
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self.thread.start()
        started.wait(10)

    def _run(self, started):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._accept, "127.0.0.1", self.port)
        )
        started.set()
        self.loop.run_forever()

    async def _accept(self, reader, writer):
        if self.mode == "refuse":
            writer.transport.abort()
            return
        if self.mode == "blackhole":
            self.pipes.add(writer)  # held open, never answered, until restored or cut
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.pipes.update({writer, up_writer})

        async def pump(source, sink):
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                sink.transport.abort()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self.pipes.difference_update({writer, up_writer})

    def _set(self, mode):
        async def apply():
            self.mode = mode
            for writer in list(self.pipes):
                writer.transport.abort()  # every open database connection breaks
            self.pipes.clear()

        asyncio.run_coroutine_threadsafe(apply(), self.loop).result(5)

    def cut(self, mode="refuse"):
        self._set(mode)

    def restore(self):
        self._set("up")

    def close(self):
        self._set("refuse")
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def _get(url, headers=None, timeout=20):
    request = urllib.request.Request(url, headers=headers or {})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, headers_, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers_, body = error.code, error.headers, error.read()
    return status, headers_, body, time.monotonic() - started


def _session_cookie(user) -> str:
    """A logged-in Django session (the kitchen page's), written straight to the database."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"sessionid={session.session_key}"


def _problem_503(status, headers, body, took):
    assert status == 503, (status, body[:300])
    assert took < QUICK, took
    assert headers["Content-Type"].startswith("application/problem+json"), headers["Content-Type"]
    assert headers["Retry-After"]
    problem = json.loads(body)
    assert problem["type"] == "/problems/service-unavailable" and problem["status"] == 503


def test_database_outage_answers_503_quickly_and_recovers_without_a_restart(live_floor):
    floor = live_floor
    settings_dict = connection.settings_dict
    proxy = TcpProxy(settings_dict.get("HOST") or "127.0.0.1", int(settings_dict.get("PORT") or 5432))
    url = database_url_of_the_tests().replace(
        f":{settings_dict.get('PORT') or 5432}/", f":{proxy.port}/"
    )
    assert str(proxy.port) in url
    server = WebServer(
        "worker-db-outage", DATABASE_URL=url,
        OUTBOX_SWEEP_INTERVAL="0.5", OUTBOX_SWEEP_GRACE="0.5", WS_HEARTBEAT_INTERVAL="0.5",
    )
    try:
        waiter = server.login(floor.waiter.email, PASSWORD)
        kitchen = server.login(floor.kitchen.email, PASSWORD)
        bearer = {"Authorization": f"Bearer {waiter}"}
        cookie = {"Cookie": _session_cookie(floor.kitchen), "Accept": "text/html"}
        status, _, _, _ = _get(server.base + "/kitchen/", cookie)
        assert status == 200
        pid = server.pid

        for mode in ("refuse", "blackhole"):
            proxy.cut(mode)
            _problem_503(*_get(server.base + "/api/v1/orders", bearer))
            started = time.monotonic()
            status, body = server.request(
                "POST", "/api/v1/orders", {"tableSessionId": str(floor.session.pk)}, waiter
            )
            assert status == 503 and time.monotonic() - started < QUICK, (mode, status, body)
            status, body = server.request(
                "POST", "/api/v1/auth/login", {"email": floor.waiter.email, "password": PASSWORD}
            )
            assert status == 503, (mode, status, body)
            # The kitchen page is Django, not DRF: its session lookup fails in the middleware
            # stack's lazy user. 503 there too, not a 500.
            status, headers, body, took = _get(server.base + "/kitchen/", cookie)
            assert status == 503 and took < QUICK, (mode, status, body[:300])
            assert headers["Retry-After"]
            status, headers, body, took = _get(server.base + "/healthz")
            health = json.loads(body)
            assert status == 503 and took < QUICK, (mode, status, health, took)
            assert health["checks"]["database"]["status"] == "down", health
            assert health["checks"]["channelLayer"]["status"] == "ok", health

            # Back: the same process serves again, nothing restarted. The pool reconnects on
            # its own schedule (an attempt started during a black hole ends at the connect
            # timeout, then the next waits its backoff): health is polled until then, within
            # RECOVERY seconds; everything after is served at once.
            proxy.restore()
            deadline = time.monotonic() + RECOVERY
            while True:
                status, _, body, _ = _get(server.base + "/healthz")
                if status == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert status == 200, body
            status, _, body, _ = _get(server.base + "/api/v1/orders", bearer)
            assert status == 200, body
            status, _, _, _ = _get(server.base + "/kitchen/", cookie)
            assert status == 200
        assert server.pid == pid and server.proc.poll() is None

        async def events_flow_again():
            client = ResumingClient(server.ws_url, kitchen)
            await client.connect()
            head = client.last_event_id
            status, order = await asyncio.to_thread(
                server.request, "POST", "/api/v1/orders", {"tableSessionId": str(floor.session.pk)}, waiter
            )
            assert status == 201, order
            status, _ = await asyncio.to_thread(
                server.request, "POST", f"/api/v1/orders/{order['id']}/items",
                {"name": "Soup", "qty": 1, "unitPrice": "4.00"}, waiter,
            )
            assert status == 201
            status, _ = await asyncio.to_thread(
                server.request, "POST", f"/api/v1/orders/{order['id']}/confirm", None, waiter
            )
            assert status == 200
            await client.read_until(head + 2, timeout=10)
            await client.close()

        asyncio.run(events_flow_again())
    finally:
        server.stop()
        proxy.close()
