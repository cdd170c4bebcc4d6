"""The README's deployment, as shipped: compose.yaml runs the Procfile's processes with the
Procfile's options, Caddy sends every path to `web`, the Python version is pinned once,
hosted Redis over TLS (rediss://) reaches both the channel layer and the cache, and `web`
with several workers serves REST and delivers events to sockets on every worker.
(compose.yaml itself cannot run here: no container daemon.)"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import websockets
import yaml

from ..conftest import Floor, auth_header
from ..live import ROOT, WebServer, procfile_command

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
# compose.yaml runs `web` on port 8000 with WEB_CONCURRENCY=2 (one worker per core).
PROCFILE_VALUES = {"$PORT": "8000", "${WEB_CONCURRENCY:-1}": "2"}


def procfile(process_type):
    return [PROCFILE_VALUES.get(arg, arg) for arg in procfile_command(process_type)]


def test_compose_runs_the_procfile_processes_with_their_options():
    assert COMPOSE["web"]["command"] == procfile("web")
    assert COMPOSE["relay"]["command"] == procfile("relay")
    assert COMPOSE["release"]["command"] == procfile("release")
    for name in ("web", "relay"):
        assert COMPOSE[name]["depends_on"]["release"]["condition"] == "service_completed_successfully"
    environment = COMPOSE["web"]["environment"]
    assert environment["BEHIND_TLS_PROXY"] == "1" and environment["TRUSTED_PROXY_COUNT"] == "1"
    assert "ports" not in COMPOSE["web"]  # only via the proxy


def test_one_process_type_serves_http_and_the_proxy_sends_everything_to_it():
    """No path-routed `api` split (BENCHMARKS.md, "Deployment"): every HTTP path is `web`'s."""
    processes = [line.partition(":")[0] for line in (ROOT / "Procfile").read_text().splitlines()
                 if line and not line.startswith("#")]
    assert processes == ["release", "web", "relay", "webhooks", "printers"]
    assert set(COMPOSE) == {"postgres", "redis", "release", "web", "relay", "caddy"}
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert re.findall(r"reverse_proxy (\S+)", caddyfile) == ["web:8000"]
    assert "handle" not in caddyfile and "path" not in caddyfile.split("{$SITE_HOST}")[1]


def test_python_version_is_pinned_once():
    pinned = (ROOT / ".python-version").read_text().strip()
    assert pinned == f"{sys.version_info.major}.{sys.version_info.minor}" == "3.11"
    assert f"FROM python:{pinned}-slim" in (ROOT / "Dockerfile").read_text()


def test_hosted_redis_over_tls_reaches_the_channel_layer_and_the_cache():
    url = "rediss://:secret@redis.example.com:6380/0?ssl_cert_reqs=required"
    script = (
        "import json; from django.conf import settings; "
        "print(json.dumps([settings.CHANNEL_LAYERS['default']['CONFIG']['hosts'], "
        "settings.CACHES['default']['LOCATION']]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {script}"], cwd=ROOT,
        env={"DJANGO_SETTINGS_MODULE": "restaurant.settings", "SECRET_KEY": "x", "REDIS_URL": url,
             "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    hosts, cache = json.loads(result.stdout)
    assert hosts == [url]
    assert cache == "rediss://:secret@redis.example.com:6380/1?ssl_cert_reqs=required"


def _workers(supervisor: int) -> list[int]:
    """uvicorn's worker processes (multiprocessing's spawned children; not its resource
    tracker)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    return [int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def _connections_by_process(supervisor: int, port: int) -> dict[int, int]:
    """Established TCP connections to `port` held by each child process of `supervisor`
    (uvicorn's workers share its listening socket; the kernel hands each connection to one)."""
    established = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "01":
            established.add(fields[9])
    held = {}
    for child in _workers(supervisor):
        inodes = set()
        for fd in Path(f"/proc/{child}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        held[child] = len(inodes & established)
    return held


async def _open_sockets_on_both_workers(server, token, at_least=10, timeout=60.0):
    """Sockets until there are `at_least` and both workers hold some (a worker still
    importing the app takes none: keep opening, a few at a time, until both do)."""
    sockets = []
    deadline = time.monotonic() + timeout
    while True:
        for _ in range(5):
            ws = await websockets.connect(server.ws_url, additional_headers={"Authorization": f"Bearer {token}"},
                                          open_timeout=20)
            ready = json.loads(await asyncio.wait_for(ws.recv(), 20))
            assert ready["type"] == "ready", ready
            sockets.append(ws)
        held = _connections_by_process(server.pid, server.port)
        if len(sockets) >= at_least and sum(1 for n in held.values() if n) == 2:
            return sockets, held
        assert time.monotonic() < deadline, f"sockets by worker after {len(sockets)}: {held}"


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_web_with_two_workers_serves_rest_and_an_event_reaches_every_socket_on_both():
    """The Procfile's `web` with WEB_CONCURRENCY=2: uvicorn's supervisor and two workers on
    one port. A socket gets an event caused by a REST call that the other worker may have
    served: the channel layer (Redis) carries it between them."""
    floor = Floor("Two workers")
    waiter, kitchen = (auth_header(user)["HTTP_AUTHORIZATION"][7:] for user in (floor.waiter, floor.kitchen))
    server = WebServer("web-two-workers", workers=2)
    try:
        assert len(_workers(server.pid)) == 2

        async def scenario():
            sockets, held = await _open_sockets_on_both_workers(server, kitchen)
            # The REST flow, each request on a new connection (so both workers serve some).
            status, order = await asyncio.to_thread(
                server.request, "POST", "/api/v1/orders", {"tableSessionId": str(floor.session.pk)}, waiter)
            assert status == 201, order
            status, item = await asyncio.to_thread(
                server.request, "POST", f"/api/v1/orders/{order['id']}/items",
                {"name": "Tortilla", "qty": 1, "unitPrice": "7.00"}, waiter)
            assert status == 201, item
            status, confirmed = await asyncio.to_thread(
                server.request, "POST", f"/api/v1/orders/{order['id']}/confirm", None, waiter)
            assert status == 200 and confirmed["status"] == "CONFIRMED", confirmed
            status, listed = await asyncio.to_thread(server.request, "GET", f"/api/v1/orders/{order['id']}", None, waiter)
            assert status == 200 and [i["id"] for i in listed["items"]] == [item["id"]], listed

            async def first_event(ws):
                while True:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if message["type"] == "event":
                        return message

            events = await asyncio.gather(*(first_event(ws) for ws in sockets))
            for ws in sockets:
                await ws.close()
            return held, events, order

        held, events, order = asyncio.run(scenario())
        assert sorted(n > 0 for n in held.values()) == [True, True], held
        assert len(events) == sum(held.values()) >= 10
        # Every socket, on either worker, got the confirmation's order.new, with one id.
        assert {(e["event"], e["data"]["orderId"]) for e in events} == {("order.new", order["id"])}, events
        assert len({e["id"] for e in events}) == 1
    finally:
        server.stop()
