"""The kitchen-operation events over `/ws/events/`, each payload pinned exactly, and the
reference's three events of a free-form order unchanged byte for byte.

CONTRACT.md, "Kitchen operations": order.items.added, order.course.fired,
order.item.allergy.acknowledged, order.priority.changed, menu.item.availability.changed.
"""

import json
from decimal import Decimal

import pytest

from orders import services
from orders.models import ModifierGroup, ModifierOption, OrderItem
from realtime.kitchen_payloads import item as item_payload
from restaurant.wire import iso_ms

from ..conftest import Floor
from .conftest import db, ready_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _compact(value) -> str:
    return json.dumps(value, separators=(",", ":"))


async def _raw_event(socket) -> str:
    message = await socket.communicator.receive_output(3)
    assert message["type"] == "websocket.send", message
    return message["text"]


def _free_form_draft(floor):
    order = services.order_create(actor=floor.waiter, table_session=floor.session)
    services.order_item_add(actor=floor.waiter, order=order, name="Hamburguesa", qty=2, unit_price="15.50")
    return order


async def test_the_reference_events_of_a_free_form_order_are_byte_for_byte_the_seeds():
    floor = await db(Floor)()
    order = await db(_free_form_draft)(floor)
    socket, _ = await ready_socket(floor.kitchen)
    await db(lambda: services.order_confirm(actor=floor.waiter, order=order))()
    frames = [await _raw_event(socket) for _ in range(2)]
    item = await db(lambda: OrderItem.objects.get(order=order))()
    await db(lambda: services.item_set_status(actor=floor.kitchen, item=item, status="IN_PROGRESS"))()
    frames.append(await _raw_event(socket))
    await db(order.refresh_from_db)()
    await db(item.refresh_from_db)()
    first = int(json.loads(frames[0])["id"])
    r, o = str(floor.restaurant.pk), str(order.pk)
    seed_item = {
        "id": str(item.pk), "orderId": o, "name": "Hamburguesa", "qty": 2, "unitPrice": "15.50",
        "status": "PENDING", "notes": None, "createdAt": iso_ms(item.created_at),
        "updatedAt": iso_ms(item.created_at),
    }
    expected = [
        {"type": "event", "id": str(first), "event": "order.new", "data": {
            "orderId": o, "restaurantId": r, "tableSessionId": str(floor.session.pk),
            "status": "CONFIRMED", "items": [seed_item], "createdAt": iso_ms(order.created_at)}},
        {"type": "event", "id": str(first + 1), "event": "order.status.changed", "data": {
            "orderId": o, "restaurantId": r, "previousStatus": "DRAFT", "newStatus": "CONFIRMED",
            "updatedAt": iso_ms(order.confirmed_at)}},
        {"type": "event", "id": str(first + 2), "event": "order.item.status.changed", "data": {
            "orderId": o, "itemId": str(item.pk), "restaurantId": r, "previousStatus": "PENDING",
            "newStatus": "IN_PROGRESS", "updatedAt": iso_ms(item.updated_at)}},
    ]
    assert frames == [_compact(e) for e in expected]
    await socket.close()


def _kitchen_scene(floor):
    """A confirmed order with a held main course (a dish with a modifier, counted down) and
    a starter with a declared allergy."""
    dish = floor.menu_item
    dish.course, dish.remaining, dish.allergens = 2, 5, ["milk"]
    dish.save()
    group = ModifierGroup.objects.create(menu_item=dish, name="Doneness", min_select=1, max_select=1)
    rare = ModifierOption.objects.create(group=group, name="Rare", price_delta=Decimal("0.50"))
    order = services.order_create(actor=floor.waiter, table_session=floor.session)
    starter = services.order_item_add(
        actor=floor.waiter, order=order, name="Soup", qty=1, unit_price="5.00", allergies=["milk"]
    )
    main = services.order_item_add(
        actor=floor.waiter, order=order, menu_item=dish, qty=1, modifiers=[{"option_id": rare.pk}]
    )
    services.order_confirm(actor=floor.waiter, order=order)
    return order, starter, main, rare


async def test_every_kitchen_event_arrives_with_its_exact_payload():
    floor = await db(Floor)()
    order, starter, main, rare = await db(_kitchen_scene)(floor)
    socket, _ = await ready_socket(floor.kitchen)
    r, o = str(floor.restaurant.pk), str(order.pk)
    dish = floor.menu_item

    def add_on():
        return services.order_item_add(
            actor=floor.waiter, order=order, menu_item=dish, qty=1,
            modifiers=[{"option_id": rare.pk}, {"name": "no onion"}],
        )

    added = await db(add_on)()
    items_added, countdown = await socket.events(2)
    assert (items_added["event"], countdown["event"]) == ("order.items.added", "menu.item.availability.changed")
    assert items_added["data"] == {
        "orderId": o, "restaurantId": r, "items": [await db(lambda: item_payload(added))()],
        "createdAt": iso_ms(added.created_at),
    }
    item = items_added["data"]["items"][0]
    assert item["modifiers"] == [
        {"name": "Rare", "priceDelta": "0.50", "optionId": str(rare.pk)},
        {"name": "no onion", "priceDelta": "0.00", "optionId": None},
    ]
    assert (item["course"], item["firedAt"], item["allergens"], item["station"]) == (2, None, ["milk"], "grill")
    await db(dish.refresh_from_db)()
    assert countdown["data"] == {
        "menuItemId": str(dish.pk), "restaurantId": r, "available": True, "remaining": 3,
        "availableAgainAt": None, "updatedAt": iso_ms(dish.updated_at),
    }

    firing = await db(lambda: services.order_fire_course(actor=floor.waiter, order=order, course=2))()
    (fired,) = await socket.events(1)
    assert fired["event"] == "order.course.fired"
    assert fired["data"] == {
        "orderId": o, "restaurantId": r, "course": 2, "itemIds": [str(main.pk), str(added.pk)],
        "firedAt": iso_ms(firing.fired_at),
    }

    acked = await db(lambda: services.item_acknowledge_allergy(actor=floor.kitchen, item=starter))()
    (ack,) = await socket.events(1)
    assert ack["event"] == "order.item.allergy.acknowledged"
    assert ack["data"] == {
        "orderId": o, "itemId": str(starter.pk), "restaurantId": r, "allergies": ["milk"],
        "acknowledgedBy": str(floor.kitchen.pk), "acknowledgedAt": iso_ms(acked.allergy_acknowledged_at),
    }

    rushed = await db(lambda: services.order_set_priority(actor=floor.kitchen, order=order, priority="RUSH"))()
    (rush,) = await socket.events(1)
    assert rush == {**rush, "event": "order.priority.changed", "data": {
        "orderId": o, "restaurantId": r, "priority": "RUSH", "updatedAt": iso_ms(rushed.updated_at),
    }}

    eighty_sixed = await db(
        lambda: services.menu_item_set_availability(actor=floor.kitchen, menu_item=dish, available=False)
    )()
    (off,) = await socket.events(1)
    assert off["event"] == "menu.item.availability.changed"
    assert off["data"] == {
        "menuItemId": str(dish.pk), "restaurantId": r, "available": False, "remaining": 3,
        "availableAgainAt": None, "updatedAt": iso_ms(eighty_sixed.updated_at),
    }
    # Consecutive ids, nothing more.
    ids = [int(e["id"]) for e in (items_added, countdown, fired, ack, rush, off)]
    assert ids == list(range(ids[0], ids[0] + 6))
    assert await socket.nothing()
    await socket.close()
