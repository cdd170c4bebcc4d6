"""Django's HTTP requests on a fixed pool of threads, through its WSGI handler.

Under Django's ASGI handler a request's sync part runs in a thread made for that request
(`ThreadSensitiveContext`), reached through a dozen hops between it and the event loop: the
`request_started`/`request_finished` signals, the middleware adapter, the view adapter,
the response. Django's WSGI handler runs the whole request, middleware to response, in one
call; a2wsgi runs that call on a pool of threads that lives as long as the process. Measured
over HTTP under the Procfile's uvicorn: 59 -> 52 M instructions of server per POS order flow
(BENCHMARKS.md, section 10).

The body is read here, on the event loop, before a thread is taken, as Django's ASGI handler
does: a slow client holds no thread, and a chunked body (no Content-Length, which Django's
WSGI request would read as empty) reaches Django whole. `restaurant.bodylimit.ASGIBodyLimit`
in front bounds it.

Async views (the health check, which pings the channel layer from the server's loop) stay
on Django's ASGI handler: under WSGI each call would run on an event loop of its own.

`HTTP_THREADS` sizes the pool (0: every request through Django's ASGI handler, as before).
It is more than a shift's logins at once (50): a login waits for its turn to check a
password in its thread (restaurant.password_checks), and those waits must not take every
thread from the other requests. Database connections are bounded by the pool of
connections, not by this.
"""

from __future__ import annotations

from functools import lru_cache

from a2wsgi import WSGIMiddleware
from asgiref.sync import iscoroutinefunction
from django.urls import Resolver404, get_resolver


class ThreadedHTTP:
    """ASGI app: sync Django views on `threads` threads (WSGI), async ones on `asgi_app`."""

    def __init__(self, *, wsgi_app, asgi_app, threads: int):
        self.asgi_app = asgi_app
        self.threaded = WSGIMiddleware(wsgi_app, workers=threads)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or _is_async_view(scope["path"]):
            return await self.asgi_app(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left (or ASGIBodyLimit cut the body off: it answers)
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        headers = [(name, value) for name, value in scope["headers"] if name != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))

        async def replay():
            return {"type": "http.request", "body": body, "more_body": False}

        await self.threaded(dict(scope, headers=headers), replay, send)


@lru_cache(maxsize=1024)
def _is_async_view(path: str) -> bool:
    try:
        match = get_resolver().resolve(path)
    except Resolver404:
        return False
    return iscoroutinefunction(match.func)
