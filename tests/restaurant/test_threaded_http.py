"""Django's sync views on the ASGI server's pool of threads (restaurant.threaded_http)."""

import asyncio
import json
import socket
import threading

import pytest

from orders.auth_services import _issue
from restaurant.threaded_http import ThreadedHTTP, _is_async_view

from ..conftest import Floor
from ..live import WebServer


def _scope(path="/api/v1/orders", headers=()):
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "headers": list(headers), "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8000)}


def _serve(app, scope, messages):
    """Runs one request through `app`; what it sent back."""
    sent = []

    async def run():
        pending = iter(messages)

        async def receive():
            return next(pending)

        async def send(message):
            sent.append(message)

        await app(scope, receive, send)

    asyncio.run(run())
    return sent


class _RecordingWSGI:
    def __init__(self):
        self.seen = []

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read()
        self.seen.append((threading.current_thread().name, environ.get("CONTENT_LENGTH"), body))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


def _never_asgi(scope, receive, send):
    raise AssertionError("a sync view's request reached Django's ASGI handler")


def test_only_async_views_stay_on_djangos_asgi_handler():
    assert _is_async_view("/healthz")
    assert not _is_async_view("/api/v1/orders")
    assert not _is_async_view("/admin/")
    assert not _is_async_view("/no/such/page")  # Django's 404, answered on the pool


def test_a_request_runs_whole_on_a_pool_thread_with_its_chunked_body_joined():
    wsgi = _RecordingWSGI()
    app = ThreadedHTTP(wsgi_app=wsgi, asgi_app=_never_asgi, threads=2)
    chunks = [{"type": "http.request", "body": b'{"a":', "more_body": True},
              {"type": "http.request", "body": b"1}", "more_body": False}]
    for _ in range(3):
        sent = _serve(app, _scope(headers=[(b"transfer-encoding", b"chunked")]), chunks)
        assert sent[0]["status"] == 200
        assert b"".join(m.get("body", b"") for m in sent[1:]) == b"ok"
    assert [seen[1:] for seen in wsgi.seen] == [("7", b'{"a":1}')] * 3
    threads = {name for name, _, _ in wsgi.seen}
    assert len(threads) <= 2 and all(name.startswith("WSGI") for name in threads), threads
    assert threading.current_thread().name not in threads


def test_a_client_gone_before_its_body_arrived_takes_no_thread():
    wsgi = _RecordingWSGI()
    app = ThreadedHTTP(wsgi_app=wsgi, asgi_app=_never_asgi, threads=1)
    sent = _serve(app, _scope(), [{"type": "http.request", "body": b"{", "more_body": True},
                                  {"type": "http.disconnect"}])
    assert sent == [] and wsgi.seen == []


@pytest.mark.django_db(transaction=True)
def test_a_chunked_json_body_reaches_the_view_under_the_web_server():
    """Django's WSGI request reads no body without a Content-Length: the pool's requests
    get the whole body, as under Django's ASGI handler."""
    floor = Floor()
    token = _issue(floor.waiter).access_token
    body = json.dumps({"tableSessionId": str(floor.session.pk), "notes": "chunked"}).encode()
    server = WebServer("threaded-http")
    try:
        head = (f"POST /api/v1/orders HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        half = len(body) // 2
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:half], body[half:]))
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
            conn.sendall(head.encode() + chunked + b"0\r\n\r\n")
            response = b""
            while data := conn.recv(65536):
                response += data
    finally:
        server.stop()
    status_line, _, rest = response.partition(b"\r\n")
    assert status_line.split()[1] == b"201", response
    answer = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert answer["notes"] == "chunked" and answer["tableSessionId"] == str(floor.session.pk)
