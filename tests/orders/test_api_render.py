"""REST answers rendered without rebuilding serializers or re-reading what is known
(orders/api/serializers.py `represent`, orders/api/views.py `_render`): byte for byte what
the serializers give for the rows as stored, read afresh."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from djangorestframework_camel_case.render import CamelCaseJSONRenderer

from orders import selectors
from orders.api import representations as r
from orders.api import serializers as s
from orders.models import ItemStatus, OrderItem, OrderStatus, Role
from orders.screens import Screen, ScreenDelivery

from ..factories import OrderItemFactory

pytestmark = pytest.mark.django_db


def rendered(data) -> bytes:
    return CamelCaseJSONRenderer().render(data)


def order_as_stored(floor, order_id) -> bytes:
    order = selectors.order_get(restaurant=floor.restaurant, order_id=order_id)
    return rendered(s.OrderSerializer(order).data)


def item_as_stored(item_id) -> bytes:
    return rendered(s.OrderItemDetailSerializer(OrderItem.objects.get(pk=item_id)).data)


def post(client, path, body=None, keyed=False):
    headers = {"HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex} if keyed else {}
    return client.post(path, body or {}, format="json", **headers)


@pytest.fixture
def dish(floor):
    """A dish with allergens and a priced option that adds one."""
    menu_item = floor.menu_item
    menu_item.allergens = ["gluten", "milk"]
    menu_item.course = 2
    menu_item.save()
    group = menu_item.modifier_groups.create(name="Extras", min_select=0, max_select=2)
    option = group.options.create(name="Cheese", price_delta=Decimal("1.25"), allergens=["eggs"])
    return menu_item, option


def rich_order(floor, dish, status=OrderStatus.IN_PROGRESS):
    """Every field case of an item: menu and free-form, modifiers (an option and free-form),
    allergens and allergies (conflicting), acknowledged, course and seat, notes, held,
    cancelled with a void reason, large and negative-delta prices; screens that saw it."""
    menu_item, option = dish
    now = timezone.now()
    order = floor.order(status=status, items=0, notes="window", confirmed_at=now)
    OrderItemFactory(
        order=order, menu_item=menu_item, name=menu_item.name, unit_price=Decimal("999999.99"),
        qty=3, station="grill", notes="well done", course=1, seat=4,
        modifiers=[
            {"name": "Cheese", "price_delta": "1.25", "option_id": str(option.pk)},
            {"name": "No onion", "price_delta": "-0.50", "option_id": None},
        ],
        modifiers_price=Decimal("0.75"), allergens=["gluten", "eggs", "milk"], allergies=["milk"],
        allergy_acknowledged_at=now - timedelta(microseconds=123456),
        allergy_acknowledged_by=floor.kitchen, status=ItemStatus.IN_PROGRESS,
    )
    OrderItemFactory(order=order, name="Flan", unit_price=Decimal("4.10"), course=2, fired_at=None)
    OrderItemFactory(
        order=order, name="Soup", status=ItemStatus.CANCELLED, void_reason="sent back",
        created_at=now + timedelta(milliseconds=7),
    )
    screen = Screen.objects.create(restaurant=floor.restaurant, name="Grill 1", station="grill")
    for event_id in (5, 9):  # seen twice: shown once, at the first
        ScreenDelivery.objects.create(screen=screen, order=order, event_id=event_id)
    return order


def test_written_out_answers_are_what_the_serializers_render(floor, dish):
    orders = [
        rich_order(floor, dish), floor.order(status=OrderStatus.DRAFT, items=1, notes=""),
        floor.order(status=OrderStatus.CANCELLED, items=0),
    ]
    for order in orders * 2:  # a shared serializer keeps nothing of the previous answer
        order = selectors.order_get(restaurant=floor.restaurant, order_id=order.pk)
        expected = rendered(s.OrderSerializer(order).data)
        assert rendered(r.order_json(order)) == expected
        assert rendered(s.represent(s.OrderSerializer, order)) == expected
        items = list(order.items.all())
        assert rendered(r.order_json(order, items=items, seen=s.seen_by(order))) == expected
        for item in items:
            expected = rendered(s.OrderItemDetailSerializer(item).data)
            assert rendered(r.item_json(item)) == expected
            assert rendered(s.represent(s.OrderItemDetailSerializer, item)) == expected
    shown = selectors.order_get(restaurant=floor.restaurant, order_id=orders[0].pk)
    assert b'"seenBy":[{"screenId"' in rendered(r.order_json(shown))
    assert b'"total":"3000006.32"' in rendered(r.order_json(shown))  # the void is not counted
    listed = list(selectors.order_list(restaurant=floor.restaurant))
    assert rendered(s.represent(s.OrderSerializer, listed, many=True)) == rendered(
        s.OrderSerializer(listed, many=True).data
    )


def test_an_item_with_every_optional_field_empty_is_rendered_alike(floor):
    order = floor.order(status=OrderStatus.DRAFT, items=0)
    item = OrderItemFactory(
        order=order, station="", notes="", seat=None, menu_item=None, modifiers=[], allergens=[],
        allergies=[], fired_at=None, unit_price=Decimal("0.00"),
    )
    item = OrderItem.objects.get(pk=item.pk)
    assert rendered(r.item_json(item)) == rendered(s.OrderItemDetailSerializer(item).data)
    fresh = selectors.order_get(restaurant=floor.restaurant, order_id=order.pk)
    assert rendered(r.order_json(fresh)) == rendered(s.OrderSerializer(fresh).data)


@pytest.mark.parametrize("keyed", [False, True], ids=["unkeyed", "keyed"])
def test_the_order_flow_answers_are_the_rows_as_stored(floor, dish, keyed):
    menu_item, option = dish
    waiter = floor.client(Role.WAITER)
    created = post(waiter, "/api/v1/orders", {"tableSessionId": str(floor.session.pk), "notes": "n"}, keyed)
    assert created.status_code == 201, created.content
    order_id = created.json()["id"]
    assert created.content == order_as_stored(floor, order_id)

    item_body = {
        "menuItemId": str(menu_item.pk), "qty": 2, "seat": 3, "allergies": ["eggs"],
        "modifiers": [{"optionId": str(option.pk)}, {"name": "No salt", "priceDelta": "-0.10"}],
    }
    added = post(waiter, f"/api/v1/orders/{order_id}/items", item_body, keyed)
    assert added.status_code == 201, added.content
    assert added.content == item_as_stored(added.json()["id"])
    free = post(waiter, f"/api/v1/orders/{order_id}/items", {"name": "Agua", "qty": 1, "unitPrice": 1.5}, keyed)
    assert free.content == item_as_stored(free.json()["id"])

    confirmed = post(waiter, f"/api/v1/orders/{order_id}/confirm", None, keyed)
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.content == order_as_stored(floor, order_id)
    assert confirmed.json()["seenBy"] == []

    kitchen = floor.client(Role.KITCHEN)
    item_id = free.json()["id"]
    moved = post(kitchen, f"/api/v1/orders/{order_id}/items/{item_id}/status", {"status": "IN_PROGRESS"}, keyed)
    assert moved.status_code == 200, moved.content
    assert moved.content == item_as_stored(item_id)

    fired = post(waiter, f"/api/v1/orders/{order_id}/fire", {"course": 2}, keyed)
    assert fired.status_code == 200, fired.content
    assert fired.content == order_as_stored(floor, order_id)
    rushed = post(waiter, f"/api/v1/orders/{order_id}/priority", {"priority": "RUSH"}, keyed)
    assert rushed.content == order_as_stored(floor, order_id)


@pytest.mark.parametrize("keyed", [False, True], ids=["unkeyed", "keyed"])
def test_kitchen_and_cancel_answers_are_the_rows_as_stored(floor, dish, keyed):
    order = rich_order(floor, dish, status=OrderStatus.CONFIRMED)
    kitchen, waiter = floor.client(Role.KITCHEN), floor.client(Role.WAITER)
    bumped = post(kitchen, f"/api/v1/orders/{order.pk}/bump", None, keyed)
    assert bumped.status_code == 200, bumped.content
    assert bumped.content == order_as_stored(floor, order.pk)
    assert bumped.json()["seenBy"] != []  # a confirmed order's screens are read
    recalled = post(kitchen, f"/api/v1/orders/{order.pk}/recall", None, keyed)
    assert recalled.status_code == 200, recalled.content
    assert recalled.content == order_as_stored(floor, order.pk)
    assert waiter.get(f"/api/v1/orders/{order.pk}").content == order_as_stored(floor, order.pk)

    draft = floor.order(status=OrderStatus.DRAFT, items=2)
    cancelled = post(waiter, f"/api/v1/orders/{draft.pk}/cancel", {"reason": "left"}, keyed)
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.content == order_as_stored(floor, draft.pk)


def test_an_order_list_page_is_the_rows_as_stored(floor, dish):
    rich_order(floor, dish)
    floor.order(status=OrderStatus.DRAFT, items=2)
    page = floor.client(Role.WAITER).get("/api/v1/orders")
    assert page.status_code == 200, page.content
    results = page.json()["results"]
    assert len(results) == 2
    for order in results:
        assert json.loads(order_as_stored(floor, order["id"])) == order
