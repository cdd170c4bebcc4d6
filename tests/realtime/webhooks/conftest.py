"""A real webhook receiver on loopback, events from real order changes, and a delivery
worker running in this process (its threads use connections of their own, so tests using
it need committed data: `django_db(transaction=True)`)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from orders import services
from realtime.webhooks import services as webhook_services
from realtime.webhooks.models import EVENT_TYPES, WebhookEndpoint
from realtime.webhooks.worker import DeliveryWorker

from ..workers import closing_factory, running


@dataclass
class Received:
    headers: dict
    body: bytes
    verified: bool
    answered: int | None = None  # None: the receiver never answered (a timeout)

    @property
    def message(self) -> dict:
        return json.loads(self.body)

    @property
    def event_id(self) -> int:
        return int(self.message["eventId"])


@dataclass
class Receiver:
    """An HTTP server that verifies every request with the Standard Webhooks reference
    verification. `answer(received, nth)` decides the answer to the nth request (from 1)
    carrying that webhook-id: a status code, or ("sleep", seconds) to time out the sender."""

    secret: str = ""
    answer: object = None
    requests: list[Received] = field(default_factory=list)

    def __post_init__(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {key.lower(): value for key, value in self.headers.items()}
                try:
                    Webhook(receiver.secret).verify(body, headers)
                    verified = True
                except WebhookVerificationError:
                    verified = False
                received = Received(headers, body, verified)
                with receiver.lock:
                    receiver.requests.append(received)
                    nth = sum(r.headers.get("webhook-id") == headers.get("webhook-id") for r in receiver.requests)
                decision = receiver.answer(received, nth) if receiver.answer else 200
                if isinstance(decision, tuple):
                    time.sleep(decision[1])
                    return
                received.answered = decision if verified else 400
                self.send_response(received.answered)
                for name, value in getattr(receiver, "extra_headers", {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                try:
                    self.wfile.write(b"ok")
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.answered and 200 <= r.answered < 300]

    def wait_for(self, count: int, timeout=15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.accepted()) >= count:
                return self.accepted()
            time.sleep(0.02)
        raise AssertionError(f"{len(self.accepted())} of {count} webhooks accepted in {timeout}s")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    yield from closing_factory(Receiver)


@pytest.fixture
def webhook_settings(settings):
    """Loopback allowed and plain HTTP (the receiver is local); short waits everywhere."""
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_REQUIRE_HTTPS = False
    settings.WEBHOOK_TIMEOUT = 1.0
    settings.WEBHOOK_CONNECT_TIMEOUT = 1.0
    settings.WEBHOOK_RETRY_BASE = 0.05
    settings.WEBHOOK_RETRY_MAX = 0.2
    settings.WEBHOOK_POLL_INTERVAL = 0.05
    return settings


def subscribe(floor, url, *, events=EVENT_TYPES, receiver=None) -> WebhookEndpoint:
    endpoint = webhook_services.endpoint_save(
        actor=floor.manager,
        endpoint=WebhookEndpoint(restaurant=floor.restaurant, url=url, events=list(events)),
        was_active=None,
    )
    if receiver is not None:
        receiver.secret = endpoint.secret
    return endpoint


def confirm_orders(floor, count: int) -> None:
    """`count` orders taken and confirmed: two events each (order.new, order.status.changed)."""
    for n in range(count):
        order = services.order_create(actor=floor.waiter, table_session=floor.session)
        services.order_item_add(actor=floor.waiter, order=order, name=f"Dish {n}", qty=1, unit_price="3.00")
        services.order_confirm(actor=floor.waiter, order=order)


def running_worker(threads=4, resolver=None):
    return running(DeliveryWorker(threads=threads, resolver=resolver))
