"""Request bodies are bounded (MAX_REQUEST_BODY_BYTES, 1 MiB): larger ones answer 413 problem
details before they are read, on every path: the JSON API, the kitchen's form login, the
admin; under the Procfile's ASGI server, under WSGI, and inside Django itself."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from restaurant.bodylimit import ASGIBodyLimit

from ..live import WebServer
from ..orders._wire_support import LOGIN, assert_problem

LIMIT = settings.MAX_REQUEST_BODY_BYTES
PATHS = {
    "json api": (LOGIN, "application/json"),
    "kitchen form login": ("/kitchen/login/", "application/x-www-form-urlencoded"),
    "admin login": ("/admin/login/", "application/x-www-form-urlencoded"),
}


def test_the_limit_is_one_mebibyte_and_djangos_own_form_limit_is_the_same():
    assert LIMIT == 1024 * 1024
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == LIMIT


def _oversized(content_type) -> bytes:
    if content_type == "application/json":
        return json.dumps({"email": "a@example.com", "password": "x" * (LIMIT + 10)}).encode()
    return b"username=a%40example.com&password=" + b"x" * (LIMIT + 10)


@pytest.mark.parametrize("path", sorted(PATHS))
def test_inside_django_every_parser_path_answers_413(db, path):
    """Django's own limit (forms) and the JSON parser (which reads DRF's raw stream, past
    Django's limit) both honour DATA_UPLOAD_MAX_MEMORY_SIZE."""
    url, content_type = PATHS[path]
    response = Client().post(url, _oversized(content_type), content_type=content_type)
    body = assert_problem(response, 413, "payload-too-large")
    assert str(LIMIT) in body["detail"]


def test_a_body_at_the_limit_is_still_read(db):
    padding = LIMIT - len(b'{"email": "a@example.com", "password": ""}')
    body = json.dumps({"email": "a@example.com", "password": "x" * padding}).encode()
    assert len(body) == LIMIT
    response = APIClient().post(LOGIN, body, content_type="application/json")
    assert_problem(response, 400, "validation-error")  # read and validated: too long a password


def test_an_idempotent_write_with_an_oversized_body_is_413_too(floor):
    response = floor.client().post(
        "/api/v1/orders", _oversized("application/json"), content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="big-body",
    )
    assert_problem(response, 413, "payload-too-large")


# --- in front of Django: not read at all ------------------------------------------------------


class _Unreadable(io.RawIOBase):
    def read(self, *args):
        raise AssertionError("the body was read")


def test_wsgi_refuses_a_declared_oversized_body_unread():
    from restaurant.wsgi import application

    answered = {}
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": LOGIN, "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8001", "HTTP_HOST": "127.0.0.1", "wsgi.url_scheme": "http",
        "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(100 * 1024 * 1024),
        "wsgi.input": _Unreadable(), "wsgi.errors": io.StringIO(),
    }
    chunks = application(environ, lambda status, headers: answered.update(status=status, headers=headers))
    assert answered["status"].startswith("413")
    assert dict(answered["headers"])["Content-Type"] == "application/problem+json"
    assert json.loads(b"".join(chunks))["type"] == "/problems/payload-too-large"


async def _run_asgi(headers, chunks):
    """Drive ASGIBodyLimit around an app that reads the whole body, as Django's does."""
    read = []

    async def app(scope, receive, send):
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            read.append(len(message["body"]))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    chunk_iter = iter(chunks)

    async def receive():
        return next(chunk_iter)

    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": LOGIN, "headers": headers}
    await ASGIBodyLimit(app)(scope, receive, send)
    return read, sent


def test_asgi_refuses_a_declared_oversized_body_unread():
    def never():
        raise AssertionError("the body was read")
        yield

    read, sent = asyncio.run(_run_asgi([(b"content-length", str(100 * 1024 * 1024).encode())], never()))
    assert read == [] and sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["type"] == "/problems/payload-too-large"


def test_asgi_cuts_a_chunked_body_off_at_the_limit():
    chunk = 64 * 1024
    endless = ({"type": "http.request", "body": b"x" * chunk, "more_body": True} for _ in range(1600))
    read, sent = asyncio.run(_run_asgi([], endless))
    assert sum(read) <= LIMIT  # the app never got past the limit...
    assert sent[0]["status"] == 413  # ...and the client was told why


def test_asgi_passes_bodies_within_the_limit():
    read, sent = asyncio.run(_run_asgi(
        [(b"content-length", b"10")], iter([{"type": "http.request", "body": b"x" * 10}])
    ))
    assert read == [10] and sent[0]["status"] == 200


# --- the Procfile's server: memory stays flat -----------------------------------------------------


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def _post_huge(server, path, content_type, size, chunked=False) -> tuple[int, dict]:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
    head += "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {size}\r\n"
    block = b"x" * (1024 * 1024)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall((head + "\r\n").encode())
        sent = 0
        try:
            while sent < size:
                conn.sendall(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
                sent += len(block)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused mid-body: the answer is already there
        response = b""
        try:
            while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
                data = conn.recv(65536)
                if not data:
                    break
                response += data
        except ConnectionResetError:
            pass
    status_line, _, rest = response.partition(b"\r\n")
    body = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), json.loads(body)


@pytest.mark.django_db(transaction=True)
def test_hundred_megabyte_bodies_are_refused_without_growing_the_worker():
    """Reproduced: an anonymous 100 MB login body was parsed (~4 s); four at once took the
    worker from 288 MB to 1 GB."""
    server = WebServer("body-limits")
    try:
        assert server.request("GET", "/healthz")[0] == 200
        before = _peak_rss_kib(server.pid)
        cases = [(name, *PATHS[name], False) for name in sorted(PATHS)] + [
            ("json api, chunked", *PATHS["json api"], True)
        ]
        for name, path, content_type, chunked in cases:
            started = time.monotonic()
            status, body = _post_huge(server, path, content_type, 100 * 1024 * 1024, chunked)
            assert status == 413, (name, status, body)
            assert body["type"] == "/problems/payload-too-large", name
            assert time.monotonic() - started < 5, name
        grown_mib = (_peak_rss_kib(server.pid) - before) / 1024
        print(f"peak RSS {before / 1024:.0f} MiB, grew {grown_mib:.1f} MiB")
        assert grown_mib < 16, f"peak RSS grew {grown_mib:.0f} MiB"
        assert server.request("GET", "/healthz")[0] == 200
    finally:
        server.stop()
