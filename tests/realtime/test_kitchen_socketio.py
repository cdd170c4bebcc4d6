"""The kitchen-operation events reach the reference's Socket.IO client (socket.io-client 4.x
in Node, against a live web worker) by name, with the payloads REST implies."""

from __future__ import annotations

import re

import pytest

from ..conftest import Floor
from .test_socketio import Probe, live, node_client, page_server, spec, tokens  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True)]

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
KITCHEN_EVENTS = {
    "order.items.added", "order.course.fired", "order.item.allergy.acknowledged",
    "order.priority.changed", "menu.item.availability.changed",
}


def test_kitchen_events_arrive_over_socketio_with_their_payloads(live):  # noqa: F811
    floor = Floor("Kitchen")
    waiter, kitchen = tokens(floor.waiter).access_token, tokens(floor.kitchen).access_token
    probe = Probe([spec("kitchen", live, kitchen, "auth", ["websocket"])])
    try:
        probe.first("kitchen", "connect")
        call = live.request
        status, order = call("POST", "/api/v1/orders", {"tableSessionId": str(floor.session.pk)}, waiter)
        assert status == 201, order
        base = f"/api/v1/orders/{order['id']}"
        status, soup = call("POST", f"{base}/items",
                            {"name": "Soup", "qty": 1, "unitPrice": "5.00", "allergies": ["milk"]}, waiter)
        assert status == 201, soup
        status, main = call("POST", f"{base}/items", {"menuItemId": str(floor.menu_item.pk), "qty": 1,
                                                      "course": 2, "modifiers": [{"name": "no onion"}]}, waiter)
        assert status == 201, main
        assert call("POST", f"{base}/confirm", None, waiter)[0] == 200
        status, added = call("POST", f"{base}/items", {"name": "Bread", "qty": 2, "unitPrice": "1.00"}, waiter)
        assert status == 201, added
        status, fired = call("POST", f"{base}/fire", {"course": 2}, waiter)
        assert status == 200, fired
        status, acked = call("POST", f"{base}/items/{soup['id']}/acknowledge-allergy", None, kitchen)
        assert status == 200, acked
        status, rushed = call("POST", f"{base}/priority", {"priority": "RUSH"}, kitchen)
        assert status == 200, rushed
        status, dish = call("POST", f"/api/v1/menu-items/{floor.menu_item.pk}/availability",
                            {"available": False}, kitchen)
        assert status == 200, dish

        probe.wait(lambda r: len([e for e in probe.of("kitchen", "event") if e["event"] in KITCHEN_EVENTS]) >= 5,
                   what="the five kitchen events")
        received = [(r["event"], r["data"]) for r in probe.of("kitchen", "event") if r["event"] in KITCHEN_EVENTS]
    finally:
        probe.close()

    r, o = str(floor.restaurant.pk), order["id"]
    main_fired = next(i["firedAt"] for i in fired["items"] if i["id"] == main["id"])
    availability = received[4][1]
    assert ISO_MS.match(availability.pop("updatedAt"))
    assert received == [
        ("order.items.added", {"orderId": o, "restaurantId": r, "items": [added], "createdAt": added["createdAt"]}),
        ("order.course.fired", {"orderId": o, "restaurantId": r, "course": 2, "itemIds": [main["id"]],
                                "firedAt": main_fired}),
        ("order.item.allergy.acknowledged", {
            "orderId": o, "itemId": soup["id"], "restaurantId": r, "allergies": ["milk"],
            "acknowledgedBy": str(floor.kitchen.pk), "acknowledgedAt": acked["allergyAcknowledgedAt"]}),
        ("order.priority.changed", {"orderId": o, "restaurantId": r, "priority": "RUSH",
                                    "updatedAt": rushed["updatedAt"]}),
        ("menu.item.availability.changed", {"menuItemId": str(floor.menu_item.pk), "restaurantId": r,
                                            "available": False, "remaining": None, "availableAgainAt": None}),
    ]
