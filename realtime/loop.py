"""Where realtime's asynchronous work runs: the one place an event loop is bound.

In an ASGI server process everything (hand-over, relay sweep, heartbeats, streams) runs on
the server's own event loop, so the channel layer's Redis connections are the server's,
reused for every event. `bind_to_server_loop` (the outermost ASGI wrapper) and the socket
entry points bind it on first use. Elsewhere (management commands, shells, a WSGI worker)
one long-lived background loop in a daemon thread takes its place.

Parts that need a loop task of their own (the relay sweep, heartbeats) register a starter
with `on_bind`; it runs once per bound loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from . import internals

_guard = threading.Lock()
_server: asyncio.AbstractEventLoop | None = None
_background: asyncio.AbstractEventLoop | None = None
_starters: list[Callable[[asyncio.AbstractEventLoop], None]] = []


def on_bind(starter: Callable[[asyncio.AbstractEventLoop], None]) -> None:
    """`starter(loop)` runs whenever a new loop is bound (and now, if one already is)."""
    _starters.append(starter)
    if _server is not None:
        _server.call_soon_threadsafe(starter, _server)


def bind(loop: asyncio.AbstractEventLoop) -> None:
    """Run realtime's work on this (the ASGI server's) loop from now on."""
    global _server
    if _server is loop:
        return
    with _guard:
        if _server is loop:
            return
        _server = loop
    for starter in list(_starters):
        starter(loop)


def bound() -> asyncio.AbstractEventLoop | None:
    return _server


def target() -> asyncio.AbstractEventLoop:
    """The server's loop while it runs, else the background loop (started on first use)."""
    global _background
    loop = _server
    if loop is not None and loop.is_running() and not loop.is_closed():
        return loop
    with _guard:
        if _background is None:
            _background = asyncio.new_event_loop()
            threading.Thread(target=_background.run_forever, name="outbox-publisher", daemon=True).start()
        return _background


def call_soon(callback, *args) -> None:
    """Run `callback(*args)` on the target loop, from any thread."""
    target().call_soon_threadsafe(callback, *args)


def submit(coroutine):
    """Run `coroutine` on the target loop, from any thread; a concurrent Future."""
    return asyncio.run_coroutine_threadsafe(coroutine, target())


def bind_to_server_loop(app):
    """ASGI wrapper, outermost: realtime's work in this server process runs on its event
    loop; a WebSocket's server-side objects are seen here, before any middleware wraps them
    (the fast path's, realtime.internals)."""

    async def application(scope, receive, send):
        bind(asyncio.get_running_loop())
        if scope.get("type") == "websocket":
            internals.server_websocket(scope, receive, send)
        return await app(scope, receive, send)

    return application
