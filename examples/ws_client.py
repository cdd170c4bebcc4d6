#!/usr/bin/env python
"""A minimal kitchen-display client for /ws/events/: logs in, listens, resumes after drops.

    pip install websockets
    python examples/ws_client.py --base http://127.0.0.1:8000 \
        --email kitchen@restaurante.com --password password123

It prints every event once, in order, and survives server restarts, Redis restarts and
network drops by reconnecting with its last event id (`Last-Event-ID`). On `resync` a real
display would reload its board over REST (GET /api/v1/orders?status=CONFIRMED,IN_PROGRESS,READY).
"""

import argparse
import asyncio
import json
import urllib.request

import websockets


def login(base, email, password):
    request = urllib.request.Request(
        f"{base}/api/v1/auth/login",
        data=json.dumps({"email": email, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)


async def listen(base, email, password):
    ws_url = base.replace("http", "ws", 1) + "/ws/events/"
    tokens = login(base, email, password)
    last_event_id = None
    delay = 1
    while True:
        headers = {"Authorization": f"Bearer {tokens['accessToken']}"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        try:
            async with websockets.connect(ws_url, additional_headers=headers) as ws:
                delay = 1
                async for raw in ws:
                    message = json.loads(raw)
                    if message["type"] == "ready":
                        print(f"connected to restaurant {message['restaurantId']}, head {message['lastEventId']}")
                        last_event_id = last_event_id or message["lastEventId"]
                    elif message["type"] == "event":
                        last_event_id = message["id"]
                        print(message["id"], message["event"], json.dumps(message["data"]))
                    elif message["type"] == "resync":
                        print("resync: reload the board over REST")
        except websockets.ConnectionClosed as closed:
            if closed.rcvd and closed.rcvd.code == 4401:
                print(f"closed: {closed.rcvd.reason}; logging in again")
                tokens = login(base, email, password)
        except OSError as error:
            print(f"connection failed: {error}")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--email", default="kitchen@restaurante.com")
    parser.add_argument("--password", default="password123")
    args = parser.parse_args()
    asyncio.run(listen(args.base, args.email, args.password))
