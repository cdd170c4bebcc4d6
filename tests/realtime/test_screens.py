"""Kitchen screens on /ws/events/: naming, acknowledgements, seenBy, GET /screens, the
announcements (realtime.screens). Across live workers: tests/realtime/test_screens_live.py."""

import pytest
from django.test import override_settings

from orders import services
from orders.models import Role
from orders.screens import Screen
from realtime import screens
from realtime.models import OutboxEvent

from ..conftest import Floor, api_client
from ..factories import MenuItemFactory
from .conftest import db, ready_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio, pytest.mark.redis]


def _grill_and_bar_order(floor):
    bar = MenuItemFactory(restaurant=floor.restaurant, station="bar", name="Beer")
    order = services.order_create(actor=floor.waiter, table_session=floor.session)
    services.order_item_add(actor=floor.waiter, order=order, qty=1, menu_item=floor.menu_item)  # grill
    services.order_confirm(actor=floor.waiter, order=order)
    return order, bar


async def _screen(user, name, station, seen=None):
    """A socket named as a screen; the events that came before the answer go to `seen`
    (its own `screen.status.changed` commits, and arrives, before the answer)."""
    socket, ready = await ready_socket(user)
    await socket.send({"type": "screen", "name": name, "station": station})
    answer = await socket.receive()
    while answer["type"] == "event":
        if seen is not None:
            seen.append(answer)
        answer = await socket.receive()
    assert answer["type"] == "screen" and answer["name"] == name, answer
    return socket, ready, answer["screenId"]


def _status_events():
    return [e.payload for e in OutboxEvent.objects.filter(name="screen.status.changed").order_by("seq")]


async def test_a_screen_names_itself_comes_online_and_acks_what_it_drew():
    floor = await db(Floor)()
    seen = []
    grill, ready, grill_id = await _screen(floor.kitchen, "Grill 1", "grill", seen)
    (online,) = seen
    assert online["event"] == "screen.status.changed"
    assert online["data"] | {"at": None} == {
        "screenId": grill_id, "restaurantId": str(floor.restaurant.pk), "name": "Grill 1",
        "station": "grill", "online": True, "lagEvents": 0, "behind": False, "at": None,
    }
    bar, _, bar_id = await _screen(floor.kitchen, "Bar", "bar")
    order, _ = await db(_grill_and_bar_order)(floor)
    events = await grill.events(3)  # bar online, order.new, order.status.changed
    await bar.events(2)
    assert [e["event"] for e in events] == ["screen.status.changed", "order.new", "order.status.changed"]

    # Not yet acknowledged: nobody has seen it.
    body = (await db(lambda: api_client(floor.waiter).get(f"/api/v1/orders/{order.pk}").json())())
    assert body["seenBy"] == []
    await grill.send({"type": "ack", "lastEventId": events[-1]["id"]})
    await bar.send({"type": "ack", "lastEventId": events[-1]["id"]})  # not its station
    assert await grill.nothing() and await bar.nothing()
    body = await db(lambda: api_client(floor.waiter).get(f"/api/v1/orders/{order.pk}").json())()
    assert [(s["screenId"], s["name"], s["station"]) for s in body["seenBy"]] == [(grill_id, "Grill 1", "grill")]
    assert body["seenBy"][0]["seenAt"].endswith("Z")

    listed = await db(lambda: api_client(floor.manager).get("/api/v1/screens").json())()
    by_name = {row["name"]: row for row in listed}
    assert set(by_name) == {"Grill 1", "Bar"}
    assert by_name["Grill 1"] | {"connectedAt": None, "lastSeenAt": None} == {
        "id": grill_id, "name": "Grill 1", "station": "grill", "online": True,
        "connectedAt": None, "lastSeenAt": None, "lastAckedEventId": events[-1]["id"],
        "lagEvents": 0, "behind": False,
    }
    await grill.close()
    await bar.close()


async def test_bad_screen_messages_get_errors_and_change_nothing():
    floor = await db(Floor)()
    waiter, _ = await ready_socket(floor.waiter)
    await waiter.send({"type": "screen", "name": "Grill 1", "station": "grill"})
    assert (await waiter.receive())["type"] == "error"
    cook, ready = await ready_socket(floor.kitchen)
    await cook.send({"type": "ack", "lastEventId": "1"})
    assert "Name the screen" in (await cook.receive())["detail"]
    for bad in ({"name": ""}, {"name": 5}, {"name": "x" * 101}, {"name": "Ok", "station": ["grill"]}):
        await cook.send({"type": "screen", **bad})
        assert (await cook.receive())["type"] == "error", bad
    await cook.send({"type": "screen", "name": "Grill 1", "station": "grill"})
    assert (await cook.receive())["event"] == "screen.status.changed"
    assert (await cook.receive())["type"] == "screen"
    for bad in ("abc", "-1", "999999"):
        await cook.send({"type": "ack", "lastEventId": bad})
        message = await cook.receive()
        while message["type"] == "event":
            message = await cook.receive()
        assert message["type"] == "error", bad
    assert await db(lambda: Screen.objects.get().last_acked_at)() is None
    await waiter.close()
    await cook.close()


@override_settings(SCREEN_OFFLINE_SECONDS=1)
async def test_the_sweep_announces_behind_and_offline_once_each_and_stations_down():
    floor = await db(Floor)()
    other = await db(Floor)("Other")
    grill, _, grill_id = await _screen(floor.kitchen, "Grill 1", "grill")
    await db(_grill_and_bar_order)(floor)
    import asyncio

    await asyncio.sleep(1.2)  # order.new is now older than SCREEN_OFFLINE_SECONDS, unacked
    await db(screens.mark_present)([grill_id])  # as its worker's refresher does (live: test_screens_live)
    await db(screens.sweep)()
    await db(screens.sweep)()
    rows = await db(screens.screen_rows)(floor.restaurant.pk)
    assert rows[0]["behind"] is True and rows[0]["lag_events"] > 0
    assert [(e["online"], e["behind"]) for e in await db(_status_events)()] == [(True, False), (True, True)]
    head = await db(lambda: OutboxEvent.objects.filter(restaurant=floor.restaurant).order_by("-seq").first().seq)()
    await grill.send({"type": "ack", "lastEventId": str(head)})
    received = await grill.events(4)  # order.new, its status change, behind, caught up
    assert [m["event"] for m in received] == [
        "order.new", "order.status.changed", "screen.status.changed", "screen.status.changed"
    ]
    assert [m["data"]["behind"] for m in received[2:]] == [True, False]
    assert [(e["online"], e["behind"]) for e in await db(_status_events)()][-1] == (True, False)

    await grill.close()
    assert await db(screens.stations_down)(floor.restaurant.pk) == []  # still within the grace
    await asyncio.sleep(1.2)
    await db(screens.sweep)()
    await db(screens.sweep)()
    events = await db(_status_events)()
    assert [(e["online"], e["behind"]) for e in events][-1] == (False, False)
    assert sum(1 for e in events if not e["online"]) == 1
    assert await db(screens.stations_down)(floor.restaurant.pk) == ["grill"]
    assert await db(screens.stations_down)(other.restaurant.pk) == []
    assert all(e["restaurantId"] == str(floor.restaurant.pk) for e in events)


async def test_screens_are_for_managers_and_waiters_and_stay_in_their_restaurant():
    floor = await db(Floor)()
    other = await db(Floor)("Other")
    grill, _, _ = await _screen(floor.kitchen, "Grill 1", "grill")
    assert await db(lambda: api_client(floor.kitchen).get("/api/v1/screens").status_code)() == 403
    assert await db(lambda: api_client(floor.waiter).get("/api/v1/screens").status_code)() == 200
    assert await db(lambda: api_client(other.manager).get("/api/v1/screens").json())() == []
    await grill.close()


def _ready_order(floor):
    order, _ = _grill_and_bar_order(floor)
    item = order.items.get()
    for status in ("IN_PROGRESS", "READY"):
        services.item_set_status(actor=floor.kitchen, item=item, status=status)
    return order


async def test_calling_a_ready_order_emits_pickup_called_for_the_pos():
    floor = await db(Floor)()
    order = await db(_ready_order)(floor)
    await db(order.refresh_from_db)()
    pos, _ = await ready_socket(floor.waiter)
    response = await db(lambda: api_client(floor.kitchen).post(f"/api/v1/orders/{order.pk}/call"))()
    assert response.status_code == 200, response.content
    (called,) = await pos.events(1)
    table = await db(lambda: order.table_session.table.name)()
    assert called["event"] == "order.pickup.called"
    assert called["data"] | {"calledAt": None} == {
        "orderId": str(order.pk), "restaurantId": str(floor.restaurant.pk), "number": order.number,
        "tableName": table, "waiterId": str(floor.waiter.pk), "calledBy": str(floor.kitchen.pk),
        "calledAt": None,
    }
    history = await db(lambda: api_client(floor.manager).get(f"/api/v1/orders/{order.pk}/history").json())()
    assert history[-1]["action"] == "pickup.called" and history[-1]["actor"]["role"] == "KITCHEN"
    # A waiter may not call; an order not READY is 409 and emits nothing.
    assert await db(lambda: api_client(floor.waiter).post(f"/api/v1/orders/{order.pk}/call").status_code)() == 403
    draft = await db(lambda: services.order_create(actor=floor.waiter, table_session=floor.session))()
    response = await db(lambda: api_client(floor.manager).post(f"/api/v1/orders/{draft.pk}/call"))()
    assert response.status_code == 409
    assert await pos.nothing()
    await pos.close()


async def test_with_the_presence_cache_down_nothing_is_declared_offline(monkeypatch):
    from django.core.cache import cache

    floor = await db(Floor)()
    grill, _, _ = await _screen(floor.kitchen, "Grill 1", "grill")

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get_many", down)
    with pytest.raises(Exception):
        await db(screens.sweep)()
    assert [e["online"] for e in await db(_status_events)()] == [True]
    response = await db(lambda: api_client(floor.manager).get("/api/v1/screens"))()
    assert response.status_code == 503 and response["Content-Type"] == "application/problem+json"
    board = await db(lambda: api_client(floor.kitchen).get("/api/v1/kitchen/board"))()
    assert board.status_code == 200 and board.json()["stationsDown"] == []
    await grill.close()


@override_settings(SCREEN_OFFLINE_SECONDS=1)
async def test_a_screen_declared_offline_while_its_socket_lives_comes_back_online_on_the_next_refresh():
    from django.core.cache import cache
    from orders.screens import presence_key

    floor = await db(Floor)()
    grill, _, grill_id = await _screen(floor.kitchen, "Grill 1", "grill")
    await db(cache.delete)(presence_key(grill_id))  # lost: a cache restart
    await db(screens.sweep)()
    await db(screens.keep_present)([grill_id])  # its worker's next refresh
    assert [e["online"] for e in await db(_status_events)()] == [True, False, True]
    rows = await db(screens.screen_rows)(floor.restaurant.pk)
    assert rows[0]["online"] is True
    await grill.close()
