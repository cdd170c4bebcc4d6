"""Backup printing on the real path: a kitchen screen on `/ws/events/` of a live worker (the
Procfile's web command) holds the grill's paper while it is connected; the ticket it drew
and acknowledged never prints, the one it did not prints once it is gone
(SCREEN_OFFLINE_SECONDS, 2 s here, after its socket closed)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import websockets

from realtime.printers.models import JobState, PrintJob

from ...live import WebServer
from .conftest import running_printers
from .test_backup import _backup_printer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

OFFLINE = 2.0


@pytest.fixture
def web():
    server = WebServer("printers-backup", SCREEN_OFFLINE_SECONDS=OFFLINE, SCREEN_SWEEP_INTERVAL=0.25)
    yield server
    server.stop()


def _confirm(server, floor, token) -> str:
    status, order = server.request("POST", "/api/v1/orders", {"tableSessionId": str(floor.session.pk)}, token)
    assert status == 201, order
    status, body = server.request("POST", f"/api/v1/orders/{order['id']}/items",
                                  {"menuItemId": str(floor.menu_item.pk), "qty": 1}, token)
    assert status == 201, body
    assert server.request("POST", f"/api/v1/orders/{order['id']}/confirm", None, token)[0] == 200
    return order["id"]


async def _ticket_event(ws, order_id) -> str:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if message.get("event") == "order.new" and message["data"]["orderId"] == order_id:
            return message["id"]


def test_a_live_screen_holds_the_paper_and_what_it_did_not_acknowledge_prints_once_it_is_gone(
    web, seeded_floor, printer_settings, listeners
):
    printer_settings.SCREEN_OFFLINE_SECONDS = OFFLINE
    floor = seeded_floor
    grill = listeners()
    _backup_printer(floor, printer_settings, grill.port, floor.menu_item.station)
    kitchen, waiter = (web.login(u.email, "password123") for u in (floor.kitchen, floor.waiter))
    with running_printers():
        asyncio.run(_service(web, floor, kitchen, waiter, grill))
        printed = grill.wait_for(1, timeout=OFFLINE + 5)
        time.sleep(0.5)
    assert len(grill.jobs) == 1
    seen, missed = PrintJob.objects.order_by("event_seq")
    assert seen.state == JobState.ON_SCREEN and missed.state == JobState.PRINTED
    assert printed[0] == bytes(missed.data)


async def _service(web, floor, kitchen, waiter, grill):
    ws = await websockets.connect(web.ws_url, additional_headers={"Authorization": f"Bearer {kitchen}"})
    json.loads(await asyncio.wait_for(ws.recv(), 10))  # ready
    await ws.send(json.dumps({"type": "screen", "name": "Grill 1", "station": floor.menu_item.station}))
    drawn = _confirm(web, floor, waiter)
    await ws.send(json.dumps({"type": "ack", "lastEventId": await _ticket_event(ws, drawn)}))
    missed = _confirm(web, floor, waiter)
    await _ticket_event(ws, missed)  # it arrives, the screen dies before drawing it
    await asyncio.sleep(1.0)
    assert grill.jobs == [], "printed while the station's screen was online"
    await ws.close()
    closed = time.monotonic()
    while not grill.jobs:
        await asyncio.sleep(0.05)
        assert time.monotonic() - closed < OFFLINE + 5
    assert time.monotonic() - closed >= OFFLINE - 0.5, "printed before the screen's presence expired"
