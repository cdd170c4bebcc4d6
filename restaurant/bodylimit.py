"""Request bodies over `MAX_REQUEST_BODY_BYTES` are answered 413 before they are read.

In front of Django, so that it holds for every path alike (the JSON API, the kitchen's and
the admin's forms): under ASGI Django reads a whole body (spooling it past 2.5 MB) before any
middleware or view runs, so a limit inside Django comes too late. A body whose
Content-Length is over the limit is refused unread; one that arrives without a length
(chunked) is cut off as soon as it passes the limit. Behind them, the JSON parser
(restaurant.parsers) and Django's own form limit (`DATA_UPLOAD_MAX_MEMORY_SIZE`, the same
number) answer 413 too, for any caller that reaches Django another way.
"""

from __future__ import annotations

import json

from django.conf import settings

from .parsers import too_large_detail
from .problems import PROBLEM_CONTENT_TYPE, problem


def _too_large_body(limit: int) -> bytes:
    return json.dumps(problem(413, "payload-too-large", too_large_detail(limit))).encode()


def _declared_length(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None  # absent or malformed: Django answers a malformed one itself


class ASGIBodyLimit:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = settings.MAX_REQUEST_BODY_BYTES
        headers = dict(scope.get("headers") or [])
        declared = _declared_length(headers.get(b"content-length"))
        if declared is not None and declared > limit:
            return await self._refuse(send, limit)

        received, exceeded, answered = 0, False, False

        async def bounded_receive():
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Django stops reading at a disconnect and answers nothing; we do.
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def watched_send(message):
            nonlocal answered
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, bounded_receive, watched_send)
        if exceeded and not answered:
            await self._refuse(send, limit)

    @staticmethod
    async def _refuse(send, limit: int):
        body = _too_large_body(limit)
        await send({
            "type": "http.response.start", "status": 413,
            "headers": [
                (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        })
        await send({"type": "http.response.body", "body": body})


class WSGIBodyLimit:
    """The same for the WSGI server (Procfile `api`). Without a Content-Length Django reads
    no body under WSGI at all."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        limit = settings.MAX_REQUEST_BODY_BYTES
        declared = _declared_length(environ.get("CONTENT_LENGTH"))
        if declared is not None and declared > limit:
            body = _too_large_body(limit)
            start_response("413 Content Too Large", [
                ("Content-Type", PROBLEM_CONTENT_TYPE), ("Content-Length", str(len(body))),
                ("Connection", "close"),
            ])
            return [body]
        return self.app(environ, start_response)
