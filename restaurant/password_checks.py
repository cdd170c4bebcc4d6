"""At most `LOGIN_PASSWORD_CHECKS` password checks at once in a process, the others waiting
their turn without holding a database connection.

A check is PBKDF2 at Django's default cost (~230 ms of CPU here): it must stay that
expensive, but not be paid by everyone else. Each request's sync code runs in a thread (the
web worker's pool, restaurant.threaded_http; one per request under Django's ASGI handler),
so a shift's tablets logging in at once were that many threads hashing in parallel: on 2 cores, 50 of them starved the event
loop (socket deliveries) and every other request of CPU for seconds, and each held a pooled
database connection while it hashed, so the pool ran dry and other requests got 503
(BENCHMARKS.md, the login burst). Queued here, the checks take one core at most, the rest
of the process goes on, and a waiting login holds no connection.

The per-account and per-address counters (restaurant.throttling) are taken inside the turn:
an attempt waiting its turn is not yet counted, so 50 tablets behind one address signing in
at once are counted one by one as they are checked, each given back as it signs in, never
all 50 at once against the per-address limit (30/min).

Taken by the throttle backend, so every surface that calls `authenticate` waits its turn
(API, kitchen and admin logins); the admin's password change checks the old password
without it (rare, staff only).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

_gates: dict[int, threading.BoundedSemaphore] = {}
_gates_lock = threading.Lock()


def _gate() -> threading.BoundedSemaphore:
    size = max(1, settings.LOGIN_PASSWORD_CHECKS)
    with _gates_lock:
        return _gates.setdefault(size, threading.BoundedSemaphore(size))


@contextmanager
def turn():
    """Wait for a turn to check a password. Not re-entrant: a holder must not ask again."""
    gate = _gate()
    if not gate.acquire(blocking=False):
        # Waiting may take seconds: give the connection back to the pool meanwhile, unless a
        # transaction holds it (then it cannot be given back; the callers here open none).
        if not connection.in_atomic_block:
            connection.close()
        gate.acquire()
    try:
        yield
    finally:
        gate.release()
