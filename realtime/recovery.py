"""Socket.IO connection state recovery (socket.io-client 4.6+), resting on the outbox.

- The CONNECT answer carries a `pid`: a signed token naming the socket's restaurant (and a
  nonce). Any worker can check it; no session is kept anywhere.
- Every event's last argument is its event id, which the client keeps as its `offset`.
- A client reconnecting with a pid valid for its restaurant and an offset the outbox can
  still replay from is recovered: the same pid back (`socket.recovered === true`) and every
  event after the offset. Anything else gets a fresh session (a new pid).

The pid reaches the CONNECT answer through python-socketio's `serializer` hook (a `Packet`
subclass), its documented way to customize packets: public API only.
"""

from __future__ import annotations

import logging
import secrets

from channels.db import database_sync_to_async
from django.core import signing
from socketio import packet as sio_packet

from . import selectors

logger = logging.getLogger(__name__)

PID_SALT = "realtime.socketio.pid"
_replay_window = database_sync_to_async(selectors.replay_window)


def new_pid(restaurant_id: str) -> str:
    """A session's pid: signed, naming its restaurant; the nonce makes each one distinct."""
    return signing.dumps({"r": restaurant_id, "n": secrets.token_urlsafe(6)}, salt=PID_SALT)


def pid_restaurant(pid) -> str | None:
    if not isinstance(pid, str) or len(pid) > 300:
        return None
    try:
        value = signing.loads(pid, salt=PID_SALT)
    except signing.BadSignature:
        return None
    return value.get("r") if isinstance(value, dict) else None


def parse_offset(value) -> int | None:
    if not isinstance(value, str) or not value.isdigit() or len(value) > 19:
        return None
    return int(value)


async def recoverable_offset(restaurant_id: str, auth) -> int | None:
    """The offset to recover from, when the handshake's `auth` (what socket.io-client sends:
    `{token, pid, offset}`) names this restaurant's session and the outbox can replay it."""
    if not isinstance(auth, dict) or pid_restaurant(auth.get("pid")) != restaurant_id:
        return None
    offset = parse_offset(auth.get("offset"))
    if offset is None:
        return None
    try:
        return offset if await _replay_window(restaurant_id, offset) is not None else None
    except Exception:  # noqa: BLE001 - database away: a fresh session, not a refusal
        logger.warning("socket.io: could not check a recovery offset", exc_info=True)
        return None


class ConnectAnswer(sio_packet.Packet):
    """python-socketio's packet, with the session's `pid` added to the CONNECT answer."""

    pids: dict[str, str] = {}  # sid -> pid, for CONNECT answers not yet encoded

    def encode(self):
        if self.packet_type == sio_packet.CONNECT and isinstance(self.data, dict):
            pid = self.pids.pop(self.data.get("sid"), None)
            if pid is not None:
                self.data = {**self.data, "pid": pid}
        return super().encode()
