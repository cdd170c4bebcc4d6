"""Helpers for driving `/ws/events/` in-process with Channels' WebsocketCommunicator."""

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from restaurant.asgi import application

from ..conftest import auth_header


def bearer(user) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", auth_header(user)["HTTP_AUTHORIZATION"].encode())]


class Socket:
    def __init__(self, communicator: WebsocketCommunicator):
        self.communicator = communicator
        self.connected = False
        self.close_code = None

    async def receive(self, timeout=3.0) -> dict:
        message = await self.communicator.receive_output(timeout)
        if message["type"] == "websocket.close":
            self.close_code = message.get("code")
            self.close_reason = message.get("reason")
            return {"type": "__closed__", "code": message.get("code"), "reason": message.get("reason")}
        return json.loads(message["text"])

    async def send(self, payload: dict):
        await self.communicator.send_to(text_data=json.dumps(payload))

    async def events(self, count: int, timeout=3.0) -> list[dict]:
        received = []
        while len(received) < count:
            message = await self.receive(timeout)
            assert message["type"] == "event", message
            received.append(message)
        return received

    async def nothing(self, timeout=0.5) -> bool:
        return await self.communicator.receive_nothing(timeout=timeout)

    async def close(self):
        await self.communicator.disconnect()


async def open_socket(headers=(), path="/ws/events/") -> Socket:
    communicator = WebsocketCommunicator(application, path, headers=list(headers))
    connected, _ = await communicator.connect(timeout=5)
    socket = Socket(communicator)
    socket.connected = connected
    return socket


async def ready_socket(user, last_event_id=None) -> tuple[Socket, dict]:
    headers = await db(bearer)(user)
    if last_event_id is not None:
        headers.append((b"last-event-id", str(last_event_id).encode()))
    socket = await open_socket(headers)
    assert socket.connected
    ready = await socket.receive()
    assert ready["type"] == "ready", ready
    return socket, ready


def db(function):
    """Run ORM code (services) from a test coroutine, committing as a request would."""
    return database_sync_to_async(function)




@pytest.fixture
def seeded_floor(settings):
    """Staff who log in over REST to a server process, which knows only the real hashers."""
    from django.conf import global_settings

    from ..conftest import Floor

    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    floor = Floor()
    for user in (floor.waiter, floor.kitchen):
        user.set_password("password123")
        user.save()
    return floor
