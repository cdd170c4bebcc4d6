#!/usr/bin/env python
"""A minimal kitchen-display client for /ws/events/: logs in, listens, resumes after drops.

    pip install websockets
    python examples/ws_client.py --base http://127.0.0.1:8000 \
        --email kitchen@restaurante.com --password password123

The server defaults to http://127.0.0.1:8000 (`make run`); point the client elsewhere with
`--base https://orders.example.com` or `RESTAURANT_URL=https://orders.example.com`.

It prints every event once, in order, and survives server restarts, Redis restarts and
network drops by reconnecting with its last event id (`Last-Event-ID`). On `resync` a real
display would reload its board over REST (GET /api/v1/orders?status=CONFIRMED,IN_PROGRESS,READY).
"""

import argparse
import asyncio
import json
import os
import sys
import urllib.error
import urllib.request

try:
    import websockets
except ImportError:
    sys.exit("This example needs the websockets package: pip install websockets")

DEFAULT_BASE = "http://127.0.0.1:8000"


class CannotLogIn(Exception):
    """Why logging in failed, in words for the person running the client."""


def login(base, email, password):
    request = urllib.request.Request(
        f"{base}/api/v1/auth/login",
        data=json.dumps({"email": email, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        try:
            detail = json.load(error).get("detail", "")
        except ValueError:
            detail = ""
        if error.code == 401:
            raise CannotLogIn(f"{base} refused the login of {email}: wrong email or password.") from None
        raise CannotLogIn(f"{base} answered {error.code} to the login. {detail}".strip()) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise CannotLogIn(
            f"Cannot reach the server at {base} ({reason}).\n"
            "Is it running? `make run` serves on http://127.0.0.1:8000. To use another server, "
            "pass --base https://host[:port] or set RESTAURANT_URL."
        ) from None


async def listen(base, email, password):
    ws_url = base.replace("http", "ws", 1) + "/ws/events/"
    tokens = login(base, email, password)  # a first failure is the user's to fix: say it and stop
    print(f"logged in to {base} as {email}; listening on {ws_url}")
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
                try:
                    tokens = login(base, email, password)
                except CannotLogIn as error:
                    print(f"{error}\nretrying in {delay} s")
        except (OSError, websockets.InvalidHandshake) as error:
            print(f"connection to {ws_url} failed ({error}); retrying in {delay} s")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base", default=os.environ.get("RESTAURANT_URL", DEFAULT_BASE),
        help=f"the server's URL (default: $RESTAURANT_URL or {DEFAULT_BASE})",
    )
    parser.add_argument("--email", default="kitchen@restaurante.com")
    parser.add_argument("--password", default="password123")
    args = parser.parse_args()
    try:
        asyncio.run(listen(args.base.rstrip("/"), args.email, args.password))
    except CannotLogIn as error:
        sys.exit(str(error))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
