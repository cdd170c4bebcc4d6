"""`/socket.io/` with the reference backend's own clients, against live web workers (the
Procfile's `web` command).

The clients are the real thing: socket.io-client 4.x from npm in Node (the reference's
script, and a probe that opens several sockets the ways the reference's clients do), and
the reference's HTML test page in headless Chromium. Node and Chromium are required in CI
(CI=true): missing, these tests fail instead of skipping.
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from orders.auth_services import _issue
from orders.models import Role

from ..conftest import IN_CI, Floor
from ..factories import UserFactory
from ..live import ARTIFACTS, ROOT, WebServer
from ..orders._wire_support import REFERENCE_ITEM_KEYS
from .test_socket_auth import BAD_TOKENS

pytestmark = [pytest.mark.django_db(transaction=True)]

CLIENT_DIR = ROOT / "tests" / "socketio_client"
CLIENT_JS = CLIENT_DIR / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
PAGE = CLIENT_DIR / "test-websocket.html"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]
TRANSPORTS = ["websocket", "polling"]


def _required(message: str):
    if IN_CI:
        pytest.fail(f"{message} (required in CI)", pytrace=False)
    pytest.skip(message)


# --- Node and socket.io-client ---------------------------------------------------------------


@pytest.fixture(scope="session")
def node_client() -> Path:
    """tests/socketio_client with its pinned socket.io-client installed (`npm ci`)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        _required("needs Node.js and npm")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < 18:
        _required(f"needs Node.js 18+, found {version}")
    # Parallel test workers install once: the others wait on the lock, then find it done.
    with open(CLIENT_DIR / ".npm-ci.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (CLIENT_DIR / "node_modules" / "socket.io-client" / "package.json").exists():
            installed = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"], cwd=CLIENT_DIR, capture_output=True,
                text=True, timeout=300,
            )
            if installed.returncode != 0:
                _required(f"npm ci in tests/socketio_client failed: {installed.stderr[-2000:]}")
    return CLIENT_DIR


class Probe:
    """tests/socketio_client/probe.js: several socket.io-client sockets, reported as JSON lines
    (or another script of that directory that reports the same way and reads commands)."""

    def __init__(self, sockets: list[dict], script: str = "probe.js"):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log = open(ARTIFACTS / "socketio-probe.log", "ab")
        self.proc = subprocess.Popen(
            ["node", script], cwd=CLIENT_DIR, env=dict(os.environ, SOCKETS=json.dumps(sockets)),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
        )
        self.records: list[dict] = []
        self._new = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            record = json.loads(line)
            with self._new:
                self.records.append(record)
                self._new.notify_all()

    def wait(self, predicate, timeout=10.0, what="a record"):
        deadline = time.monotonic() + timeout
        with self._new:
            while True:
                for record in self.records:
                    if predicate(record):
                        return record
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"timed out waiting for {what}; got {self.records}")
                self._new.wait(remaining)

    def first(self, name, kind, timeout=10.0) -> dict:
        return self.wait(lambda r: r.get("socket") == name and r["kind"] == kind, timeout, f"{name} {kind}")

    def of(self, name, kind=None) -> list[dict]:
        with self._new:
            return [r for r in self.records if r.get("socket") == name and (kind is None or r["kind"] == kind)]

    def events(self, name, count, timeout=10.0) -> list[tuple[str, dict]]:
        self.wait(lambda r: len(self.of(name, "event")) >= count, timeout, f"{count} events on {name}")
        return [(r["event"], r["data"]) for r in self.of(name, "event")]

    def send(self, **command):
        """A command line for scripts that read them (recovery.js)."""
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


def spec(name, server, token=None, via="auth", transports=None) -> dict:
    entry = {"name": name, "url": server.base, "via": via if token is not None else "none"}
    if token is not None:
        entry["token"] = token
    if transports:
        entry["transports"] = transports
    return entry


# --- the servers -------------------------------------------------------------------------------


class _PageHandler(BaseHTTPRequestHandler):
    """The reference's HTML page (pointed at the live server) and socket.io-client's
    browser build, from another origin than the API's, as a POS web app would be."""

    def do_GET(self):  # noqa: N802 - http.server's name
        path = self.path.split("?")[0]
        if path == "/test-websocket.html":
            # The only change a deployment makes to the reference page: the server URL.
            body = PAGE.read_text(encoding="utf-8").replace("http://localhost:3000", self.server.target)
            body, kind = body.encode(), "text/html; charset=utf-8"
        elif path == "/socket.io.min.js":
            body, kind = CLIENT_JS.read_bytes(), "application/javascript"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def page_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
    server.origin = f"http://127.0.0.1:{server.server_address[1]}"
    server.target = None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def live(django_db_setup, node_client, page_server):
    """One web worker for the module; the page's origin is allowed (WS_ALLOWED_ORIGINS)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server = WebServer("socketio", WS_ALLOWED_ORIGINS=page_server.origin)
    page_server.target = server.base
    yield server
    server.stop()


@pytest.fixture
def floors():
    return Floor("A"), Floor("B")


def tokens(user):
    """What POST /auth/login answers for `user` (without paying for the password hasher)."""
    return _issue(user)


# --- the reference's curl flow -------------------------------------------------------------------


def curl_flow(server, waiter_token, kitchen_token, session_id) -> dict:
    """The reference write-up's flow: create, add an item, confirm, kitchen starts the item.
    Returns what REST answered, for comparing the events with."""
    status, created = server.request("POST", "/api/v1/orders", {"tableSessionId": session_id}, waiter_token)
    assert status == 201, created
    order_id = created["id"]
    status, item = server.request(
        "POST", f"/api/v1/orders/{order_id}/items",
        {"name": "Hamburguesa", "qty": 2, "unitPrice": 15.50}, waiter_token,
    )
    assert status == 201, item
    status, confirmed = server.request("POST", f"/api/v1/orders/{order_id}/confirm", None, waiter_token)
    assert status == 200, confirmed
    status, moved = server.request(
        "POST", f"/api/v1/orders/{order_id}/items/{item['id']}/status", {"status": "IN_PROGRESS"},
        kitchen_token,
    )
    assert status == 200, moved
    status, final = server.request("GET", f"/api/v1/orders/{order_id}", None, waiter_token)
    assert status == 200, final
    return {"confirmed": confirmed, "moved": moved, "final": final}


def expected_events(flow: dict) -> list[tuple[str, dict]]:
    """docs/contract.md's payloads, built from the REST answers of the same changes."""
    confirmed, moved, final = flow["confirmed"], flow["moved"], flow["final"]
    assert confirmed["items"][0]["unitPrice"] == "15.50"
    return [
        ("order.new", {
            "orderId": confirmed["id"], "restaurantId": confirmed["restaurantId"],
            "tableSessionId": confirmed["tableSessionId"], "status": "CONFIRMED",
            # order.new's items keep the reference's nine keys; REST's item JSON has more.
            "items": [{k: item[k] for k in REFERENCE_ITEM_KEYS} for item in confirmed["items"]],
            "createdAt": confirmed["createdAt"],
        }),
        ("order.status.changed", {
            "orderId": confirmed["id"], "restaurantId": confirmed["restaurantId"],
            "previousStatus": "DRAFT", "newStatus": "CONFIRMED", "updatedAt": confirmed["updatedAt"],
        }),
        ("order.item.status.changed", {
            "orderId": confirmed["id"], "itemId": moved["id"], "restaurantId": confirmed["restaurantId"],
            "previousStatus": "PENDING", "newStatus": "IN_PROGRESS", "updatedAt": moved["updatedAt"],
        }),
        ("order.status.changed", {
            "orderId": confirmed["id"], "restaurantId": confirmed["restaurantId"],
            "previousStatus": "CONFIRMED", "newStatus": "IN_PROGRESS", "updatedAt": final["updatedAt"],
        }),
    ]


def assert_exact(received: list[tuple[str, dict]], expected: list[tuple[str, dict]]):
    assert [name for name, _ in received] == [name for name, _ in expected]
    for (name, data), (_, want) in zip(received, expected):
        assert set(data) == set(want), name
        if name == "order.new":
            assert [set(item) for item in data["items"]] == [set(item) for item in want["items"]]
        assert data == want, name


# --- the reference's own clients ------------------------------------------------------------------


REFERENCE_MARKERS = {
    "📦 New order: ": "order.new",
    "🔄 Order status changed: ": "order.status.changed",
    "🍽️  Item status changed: ": "order.item.status.changed",
}


def _reference_script_events(output: str) -> list[tuple[str, dict]]:
    decoder, found = json.JSONDecoder(), []
    for marker, name in REFERENCE_MARKERS.items():
        start = output.find(marker)
        while start != -1:
            try:
                data, _ = decoder.raw_decode(output, start + len(marker))
            except json.JSONDecodeError:
                break  # still being printed
            found.append((start, name, data))
            start = output.find(marker, start + 1)
    return [(name, data) for _, name, data in sorted(found, key=lambda f: f[0])]


def test_reference_node_script_receives_the_curl_flow(live, seeded_floor):
    """The write-up's test-websocket.js, unchanged but for TOKEN and WS_URL: it connects with
    `auth: {token}` (polling, then the websocket upgrade) and prints the three events."""
    floor = seeded_floor
    waiter = live.login(floor.waiter.email, "password123")
    kitchen = live.login(floor.kitchen.email, "password123")
    lines: queue.Queue = queue.Queue()
    script = subprocess.Popen(
        ["node", "test-websocket.js"], cwd=CLIENT_DIR, env=dict(os.environ, TOKEN=kitchen, WS_URL=live.base),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
    )
    threading.Thread(target=lambda: [lines.put(line) for line in script.stdout], daemon=True).start()
    output = ""
    try:
        deadline = time.monotonic() + 10
        while "✅ Connected to WebSocket server" not in output:
            output += lines.get(timeout=max(0.1, deadline - time.monotonic()))
        flow = curl_flow(live, waiter, kitchen, str(floor.session.pk))
        deadline = time.monotonic() + 10
        while len(_reference_script_events(output)) < 4:
            try:
                output += lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
    finally:
        script.kill()
        script.wait(5)
    assert "❌" not in output, output
    assert_exact(_reference_script_events(output), expected_events(flow))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_reference_clients_receive_the_curl_flow_and_nobody_else_does(live, floors, transport):
    """`auth: {token}` and `extraHeaders: {Authorization}` sockets get the four frames with
    docs/contract.md's payloads; a socket of another restaurant gets nothing."""
    floor, other = floors
    waiter, kitchen = tokens(floor.waiter).access_token, tokens(floor.kitchen).access_token
    probe = Probe([
        spec("auth", live, kitchen, "auth", [transport]),
        spec("header", live, tokens(floor.manager).access_token, "header", [transport]),
        spec("other", live, tokens(other.kitchen).access_token, "auth", [transport]),
    ])
    try:
        for name in ("auth", "header", "other"):
            assert probe.first(name, "connect")["transport"] == transport
        flow = curl_flow(live, waiter, kitchen, str(floor.session.pk))
        expected = expected_events(flow)
        for name in ("auth", "header"):
            assert_exact(probe.events(name, 4), expected)
            assert {r["transport"] for r in probe.of(name, "event")} == {transport}
        time.sleep(0.5)
        assert probe.of("other", "event") == []
        assert [len(probe.of(name, "event")) for name in ("auth", "header")] == [4, 4]  # once each
        assert not any(r["kind"] in ("disconnect", "upgrade") for r in probe.records if "socket" in r)
    finally:
        probe.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_missing_and_bad_tokens_fail_with_the_reference_messages(live, floors, transport):
    floor, _ = floors
    inactive = UserFactory(restaurant=floor.restaurant, role=Role.KITCHEN)
    inactive_token = tokens(inactive).access_token
    inactive.is_active = False
    inactive.save()
    no_restaurant = UserFactory(restaurant=None, role=Role.MANAGER, is_superuser=True)
    bad = {kind: make(floor.kitchen) for kind, make in BAD_TOKENS.items()}
    sockets = [
        spec("none", live, None, transports=[transport]),
        spec("empty", live, "", "auth", [transport]),
        spec("header_garbage", live, "not-a-jwt", "header", [transport]),
        spec("inactive", live, inactive_token, "auth", [transport]),
        spec("no_restaurant", live, tokens(no_restaurant).access_token, "auth", [transport]),
        *[spec(kind, live, token, "auth", [transport]) for kind, token in bad.items()],
    ]
    probe = Probe(sockets)
    try:
        assert probe.first("none", "connect_error")["message"] == "No token provided"
        assert probe.first("empty", "connect_error")["message"] == "No token provided"
        for name in ["header_garbage", "inactive", "no_restaurant", *bad]:
            assert probe.first(name, "connect_error")["message"] == "Invalid token", name
        assert not [r for r in probe.records if r["kind"] in ("connect", "event")]
    finally:
        probe.close()


def test_socket_closes_when_its_token_expires_and_when_its_login_logs_out(live, floors):
    floor, _ = floors
    short = AccessToken.for_user(floor.kitchen)
    short.set_exp(lifetime=timedelta(seconds=2))
    session_a, session_b = tokens(floor.waiter), tokens(floor.waiter)
    probe = Probe([
        spec("expiring", live, str(short), "auth", ["websocket"]),
        spec("login_a", live, session_a.access_token, "auth", ["polling"]),
        spec("login_b", live, session_b.access_token, "header", ["websocket"]),
    ])
    try:
        for name in ("expiring", "login_a", "login_b"):
            probe.first(name, "connect")

        status, _ = live.request("POST", "/api/v1/auth/logout", {"refreshToken": session_a.refresh_token})
        assert status == 204
        assert probe.first("login_a", "disconnect", timeout=5)["reason"] == "io server disconnect"
        assert [(r["event"], r["data"]) for r in probe.of("login_a", "event")] == [
            ("auth.closed", {"reason": "Logged out"})
        ]

        assert probe.first("expiring", "disconnect", timeout=5)["reason"] == "io server disconnect"
        assert [(r["event"], r["data"]) for r in probe.of("expiring", "event")] == [
            ("auth.closed", {"reason": "Token expired"})
        ]
        # The other login of the same user is still connected.
        assert probe.of("login_b", "disconnect") == []
    finally:
        probe.close()


def _polling_handshake(server, origin=None):
    request = urllib.request.Request(server.base + "/socket.io/?EIO=4&transport=polling")
    if origin:
        request.add_header("Origin", origin)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers  # case-insensitive: uvicorn lowercases
    except urllib.error.HTTPError as error:
        return error.code, error.headers


def test_origin_allowlist_applies_to_both_transports(live, page_server):
    import asyncio

    import websockets

    status, headers = _polling_handshake(live, "https://evil.example")
    assert status == 400 and "Access-Control-Allow-Origin" not in headers
    status, headers = _polling_handshake(live, page_server.origin)
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == page_server.origin
    assert "Access-Control-Allow-Credentials" not in headers  # tokens, never cookies
    assert _polling_handshake(live)[0] == 200  # no Origin: not a browser

    url = live.base.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"

    async def websocket_handshake(origin):
        try:
            async with websockets.connect(url, origin=origin, open_timeout=5) as ws:
                return (await asyncio.wait_for(ws.recv(), 5))[:1]
        except websockets.InvalidStatus as refused:
            return refused.response.status_code

    assert asyncio.run(websocket_handshake("https://evil.example")) == 403
    assert asyncio.run(websocket_handshake(page_server.origin)) == "0"  # Engine.IO OPEN


def test_reference_html_page_lists_the_events_in_chromium(live, page_server, seeded_floor):
    """The write-up's test-websocket.html, served from another origin (allowed by
    WS_ALLOWED_ORIGINS), with socket.io-client's browser build instead of the CDN's."""
    if not Path(CHROMIUM).exists():
        _required(f"needs Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _required("needs the playwright Python package")
    floor = seeded_floor
    waiter = live.login(floor.waiter.email, "password123")
    kitchen = live.login(floor.kitchen.email, "password123")

    def messages(page):
        return page.eval_on_selector_all("#messages div", "divs => divs.map(d => d.textContent)")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 1400})
            page.goto(f"{page_server.origin}/test-websocket.html")

            page.fill("#tokenInput", "not-a-jwt")
            page.click("text=Connect")
            page.wait_for_function(
                "document.querySelector('#messages').innerText.includes('❌ Error: Invalid token')",
                timeout=10_000,
            )

            page.fill("#tokenInput", kitchen)
            page.click("text=Connect")
            page.wait_for_function(
                "document.querySelector('#messages').innerText.includes('✅ Connected: ')", timeout=10_000
            )
            flow = curl_flow(live, waiter, kitchen, str(floor.session.pk))
            page.wait_for_function("document.querySelectorAll('#messages div').length >= 6", timeout=10_000)
            page.screenshot(path=str(ARTIFACTS / "socketio-reference-page.png"), full_page=True)
            shown = messages(page)
        finally:
            browser.close()

    assert shown[0] == "❌ Error: Invalid token"
    assert shown[1].startswith("✅ Connected: ")
    labels = {"📦 New Order: ": "order.new", "🔄 Status Changed: ": "order.status.changed",
              "🍽️  Item Status: ": "order.item.status.changed"}
    received = []
    for text in shown[2:]:
        label = next(label for label in labels if text.startswith(label))
        received.append((labels[label], json.loads(text[len(label):])))
    assert_exact(received, expected_events(flow))


@pytest.mark.redis
def test_event_caused_on_one_worker_reaches_a_socketio_client_on_another(node_client, floors):
    floor, _ = floors
    worker_a, worker_b = WebServer("socketio-worker-a"), WebServer("socketio-worker-b")
    probe = None
    try:
        waiter, kitchen = tokens(floor.waiter).access_token, tokens(floor.kitchen).access_token
        probe = Probe([
            spec("websocket", worker_b, kitchen, "auth", ["websocket"]),
            spec("polling", worker_b, kitchen, "header", ["polling"]),
        ])
        probe.first("websocket", "connect")
        probe.first("polling", "connect")
        flow = curl_flow(worker_a, waiter, kitchen, str(floor.session.pk))
        for name in ("websocket", "polling"):
            assert_exact(probe.events(name, 4), expected_events(flow))
    finally:
        if probe:
            probe.close()
        worker_a.stop()
        worker_b.stop()


@pytest.mark.redis
def test_redis_restart_under_socketio_clients_loses_and_repeats_nothing(node_client, floors):
    """Socket.IO clients have no resume: the bridge heals for them. Events committed while
    Redis is down wait in the outbox; once it is back, each socket gets every one of them,
    in order, exactly once, without reconnecting."""
    from ..live import RedisServer

    floor, _ = floors
    redis = RedisServer("socketio-redis-restart")
    server = WebServer(
        "socketio-redis-restart-worker", REDIS_URL=redis.url, WS_HEARTBEAT_INTERVAL="0.5",
        OUTBOX_SWEEP_INTERVAL="0.5", OUTBOX_SWEEP_GRACE="0.5",
    )
    probe = None
    try:
        waiter, kitchen = tokens(floor.waiter).access_token, tokens(floor.kitchen).access_token
        session = str(floor.session.pk)
        probe = Probe([
            spec("websocket", server, kitchen, "auth", ["websocket"]),
            spec("polling", server, kitchen, "header", ["polling"]),
        ])
        probe.first("websocket", "connect")
        probe.first("polling", "connect")
        flows = [curl_flow(server, waiter, kitchen, session)]
        for name in ("websocket", "polling"):
            probe.events(name, 4)

        redis.stop()
        flows += [curl_flow(server, waiter, kitchen, session) for _ in range(2)]
        redis._start("socketio-redis-restart")
        flows.append(curl_flow(server, waiter, kitchen, session))

        expected = [event for flow in flows for event in expected_events(flow)]
        for name in ("websocket", "polling"):
            assert_exact(probe.events(name, 16, timeout=20), expected)
        time.sleep(0.5)
        assert [len(probe.of(name, "event")) for name in ("websocket", "polling")] == [16, 16]
        assert not [r for r in probe.records if r["kind"] == "disconnect"]
    finally:
        if probe:
            probe.close()
        server.stop()
        redis.stop()
