"""Helpers for tests of the outbox's worker processes (webhooks, printers): a worker run in
this process, and fixtures that make test servers and close them afterwards."""

from __future__ import annotations

import threading
from contextlib import contextmanager


@contextmanager
def running(worker):
    """`worker` (a realtime.leasing.LeaseWorker) on a thread until the block ends. Its
    threads use connections of their own: tests need `django_db(transaction=True)`."""
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(10)
        assert not thread.is_alive(), f"the {worker.name} did not stop"


def closing_factory(make):
    """A fixture body: yields a function that makes servers with `make`, closes them after."""
    made = []

    def factory(*args, **kwargs):
        server = make(*args, **kwargs)
        made.append(server)
        return server

    yield factory
    for server in made:
        server.close()
