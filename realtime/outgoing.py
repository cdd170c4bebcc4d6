"""A socket's frames on their way through the ASGI `send`: in order, bounded, never blocking
the stream that hands them over.

The restaurant's stream hands each event to every socket in turn; a socket whose client
stopped reading makes the server's `send` wait (uvicorn's flow control). Awaiting that in
the stream would stall every other socket of the restaurant behind it. Instead each socket
queues its frames here and one task per socket sends them; a socket whose queue passes
`MAX_PENDING` bytes has fallen behind: its queue is dropped and it is closed (4503), and its
client resumes from its last event id. Replays add their frames paced (`put_paced`), so a
long replay does not count as falling behind.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

logger = logging.getLogger(__name__)

# Bytes of frames a socket may have waiting. Above the direct writers' 1 MiB: frames queued
# here wait behind the server's own buffer, not the kernel's, so a healthy client reading a
# burst of large events (tests/hardening/test_slow_client.py: 1.4 MB at once) must fit.
MAX_PENDING = 4 << 20


class Outgoing:
    __slots__ = ("_send", "_pending", "_size", "_task")

    def __init__(self, send):
        self._send = send  # async (text) -> None
        # Made on first use and dropped once sent: an empty deque costs ~760 bytes, and
        # most sockets (idle, or written to directly) never queue anything.
        self._pending: deque[str] | None = None
        self._size = 0
        self._task: asyncio.Task | None = None

    def idle(self) -> bool:
        """Nothing queued and nothing being sent: a frame written elsewhere keeps the order."""
        return not self._pending and (self._task is None or self._task.done())

    def put(self, text: str) -> bool:
        """Queue a frame. False: over `MAX_PENDING`, the queue is dropped (fallen behind)."""
        if self._pending is None:
            self._pending = deque()
        self._pending.append(text)
        self._size += len(text)
        if self._size > MAX_PENDING:
            self.drop()
            return False
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return True

    async def put_paced(self, text: str) -> None:
        """Queue a frame of a replay, first letting the queue drain below half its bound."""
        while self._size > MAX_PENDING // 2 and self._task is not None and not self._task.done():
            await asyncio.wait({self._task})
        self.put(text)

    async def flushed(self) -> None:
        """Wait until every queued frame has been handed to the server."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})

    def drop(self) -> None:
        self._pending = None
        self._size = 0

    async def _drain(self) -> None:
        try:
            while self._pending:
                text = self._pending.popleft()
                self._size -= len(text)
                await self._send(text)
            self._pending = None
        except Exception:  # noqa: BLE001 - the client is gone: its disconnect cleans up
            logger.debug("socket send failed; dropping its queue", exc_info=True)
            self.drop()
