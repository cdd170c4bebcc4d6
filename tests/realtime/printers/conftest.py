"""A printer on loopback: a TCP listener that keeps each connection's bytes (one job each)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from realtime.printers.models import StationPrinter
from realtime.printers.worker import PrintWorker
from realtime.selectors import event_head

from ...live import free_port
from ..workers import closing_factory, running


class Listener:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.jobs: list[bytes] = []
        self.lock = threading.Lock()
        self.server = socket.create_server(("127.0.0.1", self.port))
        self.server.settimeout(0.2)
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stopped.is_set():
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with connection:
                data = b""
                while chunk := connection.recv(65536):
                    data += chunk
            with self.lock:
                self.jobs.append(data)

    def wait_for(self, count: int, timeout=10.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.jobs) >= count:
                    return list(self.jobs)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.jobs)} of {count} jobs printed in {timeout}s")

    def close(self):
        self.stopped.set()
        self.server.close()


@pytest.fixture
def listeners():
    yield from closing_factory(Listener)


@pytest.fixture
def printer_settings(settings):
    settings.PRINTER_ALLOW_LOOPBACK = True
    settings.PRINTER_RETRY_BASE = 0.05
    settings.PRINTER_RETRY_MAX = 0.2
    settings.PRINTER_POLL_INTERVAL = 0.05
    settings.PRINTER_TIMEOUT = 1.0
    return settings


def printer_for(floor, settings, port: int, station="grill", name=None) -> StationPrinter:
    settings.PRINTER_PORTS = [*settings.PRINTER_PORTS, port]
    return StationPrinter.objects.create(
        restaurant=floor.restaurant, name=name or f"{station} printer", station=station,
        host="127.0.0.1", port=port, cursor=event_head(floor.restaurant.pk),
    )


def running_printers(threads=4):
    return running(PrintWorker(threads=threads))
