"""One client process of the load generator: many WebSocket / Socket.IO sockets, lean.

Started by bench/run.py (several at once, one per core, so that clients are not the
bottleneck), driven over stdin/stdout with JSON lines:

    started:  {"connected": n, "failed": f, "seconds": s}
    stdin:    "count"            answer {"count": deliveries so far}
              "reset"            forget arrivals so far
              "dump <path>"      write arrivals to <path>, answer {"dumped": path}
              "quit"

Each socket is a raw asyncio protocol: the HTTP upgrade by hand, server frames parsed from
their two-byte header (servers never mask), nothing decoded on arrival. An arriving text
frame is stored under its own bytes with the arrival time (one `time.monotonic()` per read,
shared by the frames that read brought): every socket of a restaurant gets the same frame
for an event, so the work per delivery is one dict lookup and one list append. Frames are
parsed once, at dump time.

Times are CLOCK_MONOTONIC (`time.monotonic()`), the same clock in every process of the
machine, so the driver's REST response times compare with them directly.

Kinds:
  ws   ours, /ws/events/ with `Authorization: Bearer`; connected at {"type":"ready",...}
  sio  Socket.IO v5 over the websocket transport (EIO=4), auth packet `40{"token":...}`
       like the reference's clients; connected at `40{"sid":...}`; answers pings.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import sys
import time
from urllib.parse import urlsplit

try:
    import uvloop
except ImportError:  # pragma: no cover - the bench requirements install it
    uvloop = None

ARRIVALS: dict[bytes, list[float]] = {}
STATS = {"closed": 0, "other": 0}


def _arrived(payload: bytes, now: float) -> None:
    """Record an event frame's arrival; parsed only at the end (`dump`)."""
    times = ARRIVALS.get(payload)
    if times is None:
        ARRIVALS[payload] = [now]
    else:
        times.append(now)


def _mask_frame(opcode: int, payload: bytes) -> bytes:
    """A client frame: masked, as RFC 6455 requires (with a zero key: payload unchanged)."""
    length = len(payload)
    if length < 126:
        header = bytes((0x80 | opcode, 0x80 | length))
    elif length < 65536:
        header = bytes((0x80 | opcode, 0x80 | 126)) + length.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + length.to_bytes(8, "big")
    return header + b"\x00\x00\x00\x00" + payload


class Socket(asyncio.Protocol):
    def __init__(self, kind: str, host: str, path: str, token: str, connected: asyncio.Future):
        self.kind = kind
        self.host = host
        self.path = path
        self.token = token
        self.connected = connected
        self.buffer = bytearray()
        self.upgraded = False
        self.transport = None

    # --- transport -----------------------------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        headers = [
            f"GET {self.path} HTTP/1.1", f"Host: {self.host}", "Upgrade: websocket",
            "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
        ]
        if self.kind == "ws":
            headers.append(f"Authorization: Bearer {self.token}")
        transport.write(("\r\n".join(headers) + "\r\n\r\n").encode())

    def connection_lost(self, exc):
        STATS["closed"] += 1
        if not self.connected.done():
            self.connected.set_result(False)

    def send_text(self, text: str):
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_mask_frame(0x1, text.encode()))

    def data_received(self, data: bytes):
        now = time.monotonic()
        buffer = self.buffer
        buffer += data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buffer[:end]).split(b"\r\n", 1)[0]
            del buffer[: end + 4]
            if b" 101 " not in status:
                if not self.connected.done():
                    self.connected.set_result(False)
                self.transport.close()
                return
            self.upgraded = True
        pos = 0
        size = len(buffer)
        while size - pos >= 2:
            b0 = buffer[pos]
            length = buffer[pos + 1] & 0x7F
            start = pos + 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buffer[pos + 2: pos + 4], "big")
                start = pos + 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buffer[pos + 2: pos + 10], "big")
                start = pos + 10
            end = start + length
            if end > size:
                break
            payload = bytes(buffer[start:end])
            pos = end
            opcode = b0 & 0x0F
            if opcode == 0x1:
                self.on_text(payload, now)
            elif opcode == 0x9:
                self.transport.write(_mask_frame(0xA, payload))
            elif opcode == 0x8:
                self.transport.close()
        if pos:
            del buffer[:pos]

    # --- protocol --------------------------------------------------------------------------

    def _connected(self, ok: bool) -> None:
        if not self.connected.done():
            self.connected.set_result(ok)

    def on_text(self, payload: bytes, now: float):
        if self.kind == "ws":
            if payload.startswith(b'{"type":"event"'):
                _arrived(payload, now)
            elif payload.startswith(b'{"type":"ready"'):
                self._connected(True)
            else:
                STATS["other"] += 1
        else:
            if payload.startswith(b"42"):
                _arrived(payload, now)
            elif payload == b"2":
                self.transport.write(_mask_frame(0x1, b"3"))
            elif payload.startswith(b"0{"):
                self.send_text("40" + json.dumps({"token": self.token}))
            elif payload.startswith(b"40"):
                self._connected(True)
            elif payload.startswith(b"44"):
                self._connected(False)
            else:
                STATS["other"] += 1


def event_key(name: str, data: dict):
    """What ties an event to the REST call that caused it."""
    if name == "order.item.status.changed":
        return ["item", data.get("itemId"), data.get("newStatus"), data.get("updatedAt")]
    if name in ("order.new", "order.status.changed"):
        return [name, data.get("orderId"), data.get("newStatus") or data.get("status")]
    return None


def decode(kind: str, frame: bytes):
    if kind == "ws":
        message = json.loads(frame)
        return message["event"], message["data"]
    name, data = json.loads(frame[2:])[:2]
    return name, data


async def open_sockets(args, sockets: list) -> tuple[int, int]:
    loop = asyncio.get_running_loop()
    url = urlsplit(args.url)
    host, port = url.hostname, url.port
    path = "/ws/events/" if args.kind == "ws" else "/socket.io/?EIO=4&transport=websocket"
    gate = asyncio.Semaphore(args.concurrency)
    ok = failed = 0

    async def one():
        nonlocal ok, failed
        async with gate:
            for attempt in range(3):
                connected = loop.create_future()
                try:
                    transport, protocol = await loop.create_connection(
                        lambda: Socket(args.kind, f"{host}:{port}", path, args.token, connected), host, port
                    )
                    if await asyncio.wait_for(connected, 30):
                        sockets.append(protocol)
                        ok += 1
                        return
                    transport.close()
                except (OSError, asyncio.TimeoutError):
                    pass
                await asyncio.sleep(0.2 * (attempt + 1))
            failed += 1

    await asyncio.gather(*(one() for _ in range(args.count)))
    return ok, failed


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def main_async(args):
    sockets: list[Socket] = []
    started = time.monotonic()
    ok, failed = await open_sockets(args, sockets)
    print(json.dumps({"connected": ok, "failed": failed, "seconds": round(time.monotonic() - started, 2)}), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    cpu_mark = cpu_seconds()
    wall_mark = time.monotonic()
    while True:
        line = (await reader.readline()).decode().strip()
        if not line or line == "quit":
            break
        if line == "count":
            print(json.dumps({"count": sum(len(t) for t in ARRIVALS.values())}), flush=True)
        elif line == "reset":
            ARRIVALS.clear()
            cpu_mark, wall_mark = cpu_seconds(), time.monotonic()
            print(json.dumps({"reset": True}), flush=True)
        elif line.startswith("dump "):
            path = line.split(" ", 1)[1]
            cpu, wall = cpu_seconds() - cpu_mark, time.monotonic() - wall_mark
            events = []
            for frame, times in ARRIVALS.items():
                try:
                    name, data = decode(args.kind, frame)
                except (ValueError, KeyError, IndexError):
                    continue
                events.append({"event": name, "key": event_key(name, data), "times": times})
            open_now = sum(1 for s in sockets if s.transport is not None and not s.transport.is_closing())
            with open(path, "w") as out:
                json.dump({
                    "kind": args.kind, "sockets": len(sockets), "open": open_now, "closed": STATS["closed"],
                    "cpu_seconds": round(cpu, 3), "wall_seconds": round(wall, 3), "events": events,
                }, out)
            print(json.dumps({"dumped": path}), flush=True)
    for s in sockets:
        if s.transport is not None:
            s.transport.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--kind", choices=["ws", "sio"], required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (65536, 65536)) if resource.getrlimit(resource.RLIMIT_NOFILE)[1] >= 65536 else None
    if uvloop is not None:
        uvloop.install()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
