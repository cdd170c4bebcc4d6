"""realtime.outgoing: a socket's ASGI sends, in order, bounded, off the stream's path."""

import asyncio

import pytest

from realtime import outgoing
from realtime.outgoing import Outgoing

pytestmark = pytest.mark.asyncio


class StuckSend:
    """A server send that blocks until released (flow control of a client that stopped
    reading), recording what got through."""

    def __init__(self):
        self.sent: list[str] = []
        self.open = asyncio.Event()

    async def __call__(self, text):
        await self.open.wait()
        self.sent.append(text)


async def test_frames_go_out_in_order_and_the_queue_is_released_when_idle():
    send = StuckSend()
    queue = Outgoing(send)
    assert queue.idle()
    assert queue.put("1") and queue.put("2")
    assert not queue.idle()
    send.open.set()
    await queue.flushed()
    assert send.sent == ["1", "2"] and queue.idle()
    assert queue._pending is None  # no deque kept for an idle socket


async def test_a_stuck_socket_overflows_instead_of_growing(monkeypatch):
    monkeypatch.setattr(outgoing, "MAX_PENDING", 10)
    send = StuckSend()
    queue = Outgoing(send)
    assert queue.put("12345")
    assert queue.put("6789")
    assert not queue.put("abc")  # over 10 bytes waiting: fallen behind, queue dropped
    assert queue._size == 0 and queue._pending is None


async def test_a_replay_is_paced_not_counted_as_falling_behind(monkeypatch):
    monkeypatch.setattr(outgoing, "MAX_PENDING", 10)
    send = StuckSend()
    queue = Outgoing(send)

    async def replay():
        for n in range(20):
            await queue.put_paced(f"{n:03d}")

    task = asyncio.ensure_future(replay())
    await asyncio.sleep(0.05)
    assert not task.done()  # waits for the socket instead of overflowing
    send.open.set()
    await asyncio.wait_for(task, 2)
    await queue.flushed()
    assert send.sent == [f"{n:03d}" for n in range(20)]


async def test_a_failed_send_drops_the_queue():
    async def gone(text):
        raise ConnectionError("client went away")

    queue = Outgoing(gone)
    assert queue.put("1") and queue.put("2")
    await queue.flushed()
    assert queue.idle() and queue._size == 0
