"""Screen presence across two live workers (the Procfile's web command), a SIGKILLed worker
and a frozen screen. SCREEN_OFFLINE_SECONDS is 2 here, the sweep every 0.25 s."""

import asyncio
import json
import os
import signal
import time

import pytest
import websockets

from orders.models import Role

from ..live import WebServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

OFFLINE = 2.0
SETTINGS = {"SCREEN_OFFLINE_SECONDS": OFFLINE, "SCREEN_SWEEP_INTERVAL": 0.25}


@pytest.fixture
def staff(seeded_floor):
    seeded_floor.manager.set_password("password123")
    seeded_floor.manager.save()
    return seeded_floor


@pytest.fixture
def workers():
    a, b = WebServer("screens-a", **SETTINGS), WebServer("screens-b", **SETTINGS)
    yield a, b
    a.stop()
    b.stop()


async def _screen(server, token, name, station):
    ws = await websockets.connect(server.ws_url, additional_headers={"Authorization": f"Bearer {token}"})
    ready = json.loads(await asyncio.wait_for(ws.recv(), 10))
    await ws.send(json.dumps({"type": "screen", "name": name, "station": station}))
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if message["type"] == "screen":
            return ws, ready, message["screenId"]


def _screens(server, token):
    status, body = server.request("GET", "/api/v1/screens", token=token)
    assert status == 200, body
    return {row["name"]: row for row in body}


def _wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return time.monotonic()
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_a_screen_on_one_worker_is_listed_by_the_other_and_goes_offline_when_its_worker_dies(
    workers, staff,
):
    a, b = workers
    kitchen, manager = (a.login(u.email, "password123") for u in (staff.kitchen, staff.manager))
    asyncio.run(_presence_across_workers(a, b, kitchen, manager))


async def _presence_across_workers(a, b, kitchen, manager):
    observer = await websockets.connect(a.ws_url, additional_headers={"Authorization": f"Bearer {manager}"})
    json.loads(await observer.recv())  # ready

    grill, _, grill_id = await _screen(b, kitchen, "Grill 1", "grill")
    bar, _, _ = await _screen(b, kitchen, "Bar", "bar")
    listed = _screens(a, manager)
    assert listed["Grill 1"]["online"] and listed["Bar"]["online"] and listed["Grill 1"]["id"] == grill_id

    # A clean close: offline SCREEN_OFFLINE_SECONDS later (not at once: a reload is not an outage).
    await bar.close()
    closed = time.monotonic()
    assert _screens(a, manager)["Bar"]["online"]
    gone = _wait_for(lambda: not _screens(a, manager)["Bar"]["online"], OFFLINE + 3)
    assert OFFLINE - 0.5 <= gone - closed <= OFFLINE + 1

    # SIGKILL: no goodbye. Worker A, which never held the screen, lists it offline in time
    # and announces it.
    os.kill(b.pid, signal.SIGKILL)
    killed = time.monotonic()
    b.proc.wait(5)
    gone = _wait_for(lambda: not _screens(a, manager)["Grill 1"]["online"], OFFLINE + 3)
    assert gone - killed <= OFFLINE + 1

    async def offline_announcement():
        while True:
            message = json.loads(await observer.recv())
            if message.get("event") == "screen.status.changed" and message["data"]["name"] == "Grill 1" \
                    and not message["data"]["online"]:
                return message

    announced = await asyncio.wait_for(offline_announcement(), OFFLINE + 3)
    assert announced["data"]["screenId"] == grill_id
    await observer.close()


def test_a_frozen_screen_shows_as_behind(workers, staff):
    a, _ = workers
    floor = staff
    tokens = {role: a.login(floor.user(role).email, "password123") for role in (Role.KITCHEN, Role.MANAGER, Role.WAITER)}
    asyncio.run(_frozen(a, floor, tokens))


async def _frozen(a, floor, tokens):
    kitchen, manager, waiter = tokens[Role.KITCHEN], tokens[Role.MANAGER], tokens[Role.WAITER]
    grill, ready, _ = await _screen(a, kitchen, "Grill 1", "grill")
    await grill.send(json.dumps({"type": "ack", "lastEventId": ready["lastEventId"]}))
    assert not _screens(a, manager)["Grill 1"]["behind"]

    # The screen's event loop is blocked from here on (time.sleep, synchronous calls): it
    # neither reads nor acknowledges, while its socket stays open.
    status, order = a.request("POST", "/api/v1/orders", {"tableSessionId": str(floor.session.pk)}, waiter)
    assert status == 201, order
    status, _ = a.request("POST", f"/api/v1/orders/{order['id']}/items",
                          {"menuItemId": str(floor.menu_item.pk), "qty": 1}, waiter)
    assert status == 201
    assert a.request("POST", f"/api/v1/orders/{order['id']}/confirm", None, waiter)[0] == 200
    time.sleep(OFFLINE + 1)
    row = _screens(a, manager)["Grill 1"]
    assert row["online"] and row["behind"] and row["lagEvents"] >= 2
    status, body = a.request("GET", f"/api/v1/orders/{order['id']}", token=manager)
    assert body["seenBy"] == []

    # Thawed: it reads what it missed, draws it, acknowledges; no longer behind, and seen.
    last = None
    while True:
        try:
            message = json.loads(await asyncio.wait_for(grill.recv(), 1))
        except TimeoutError:
            break
        if message["type"] == "event":
            last = message["id"]
    await grill.send(json.dumps({"type": "ack", "lastEventId": last}))
    _wait_for(lambda: not _screens(a, manager)["Grill 1"]["behind"], 3)
    status, body = a.request("GET", f"/api/v1/orders/{order['id']}", token=manager)
    assert [s["name"] for s in body["seenBy"]] == ["Grill 1"]
    await grill.close()
