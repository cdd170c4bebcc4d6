"""`/healthz`: is each dependency reachable right now?"""

import asyncio
import time
import uuid

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import JsonResponse

CHECK_TIMEOUT = 2.0


def _database_ping():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        # A health probe must not keep a broken connection around for the next one.
        connection.close_if_unusable_or_obsolete()


async def _channel_layer_ping():
    layer = get_channel_layer()
    channel = await layer.new_channel("healthz.")
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "healthz.ping", "token": token})
    message = await layer.receive(channel)
    if message.get("token") != token:
        raise RuntimeError("channel layer returned another message")


async def _timed(check):
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - any failure means "down", reported by name
        return {"status": "down", "error": exc.__class__.__name__}
    return {"status": "ok", "latencyMs": round((time.perf_counter() - started) * 1000, 1)}


async def healthz(request):
    database, channel_layer = await asyncio.gather(
        _timed(sync_to_async(_database_ping, thread_sensitive=False)),
        _timed(_channel_layer_ping),
    )
    checks = {"database": database, "channelLayer": channel_layer}
    healthy = all(c["status"] == "ok" for c in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", "checks": checks}, status=200 if healthy else 503
    )
