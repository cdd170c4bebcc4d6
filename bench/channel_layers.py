"""Fan-out through channels-redis: RedisChannelLayer vs RedisPubSubChannelLayer.

One process, N receiving channels in one group (as N sockets of one restaurant would be),
M group messages sent one after another. Reports delivered messages per second and the
send-to-receive latency percentiles.

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/channel_layers.py --sockets 200 --events 100
"""

import argparse
import asyncio
import json
import os
import statistics
import time

from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

LAYERS = {"core": RedisChannelLayer, "pubsub": RedisPubSubChannelLayer}


async def run(layer_name, url, sockets, events):
    layer = LAYERS[layer_name](hosts=[url], prefix=f"bench{os.getpid()}", capacity=10_000)
    group = "restaurant.bench"
    channels = [await layer.new_channel() for _ in range(sockets)]
    for channel in channels:
        await layer.group_add(group, channel)
    latencies = []
    done = asyncio.Event()
    remaining = sockets * events

    async def receiver(channel):
        nonlocal remaining
        for _ in range(events):
            message = await layer.receive(channel)
            latencies.append(time.perf_counter() - message["sent"])
            remaining -= 1
            if remaining == 0:
                done.set()

    tasks = [asyncio.create_task(receiver(c)) for c in channels]
    await asyncio.sleep(0.2)
    started = time.perf_counter()
    for n in range(events):
        await layer.group_send(group, {"type": "outbox.event", "id": n, "sent": time.perf_counter()})
        await asyncio.sleep(0.01)
    await asyncio.wait_for(done.wait(), 120)
    elapsed = time.perf_counter() - started
    for task in tasks:
        task.cancel()
    for channel in channels:
        await layer.group_discard(group, channel)
    if hasattr(layer, "flush"):
        await layer.flush()
    latencies.sort()
    return {
        "layer": layer_name, "sockets": sockets, "events": events,
        "deliveries_per_s": round(sockets * events / elapsed),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--events", type=int, default=100)
    args = parser.parse_args()
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    for name in LAYERS:
        print(json.dumps(asyncio.run(run(name, url, args.sockets, args.events))))


if __name__ == "__main__":
    main()
