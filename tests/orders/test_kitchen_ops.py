"""Kitchen operations end to end over REST: modifiers, allergens, courses, add-ons, voids,
ticket numbers and 86 (CONTRACT.md, "Kitchen operations"; docs/kitchen.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from orders import services
from orders.models import ItemStatus, MenuItem, ModifierGroup, ModifierOption, OrderStatus, Role
from realtime.models import OutboxEvent

from ..factories import MenuItemFactory, OrderItemFactory
from ._isolation_support import assert_db_unchanged, assert_problem, db_state


@pytest.fixture
def burger(floor):
    dish = MenuItemFactory(
        restaurant=floor.restaurant, name="Burger", price=Decimal("15.50"), station="grill",
        allergens=["gluten", "milk"], course=2, prep_minutes=12,
    )
    doneness = ModifierGroup.objects.create(menu_item=dish, name="Doneness", min_select=1, max_select=1)
    dish.rare = ModifierOption.objects.create(group=doneness, name="Rare", position=1)
    dish.medium = ModifierOption.objects.create(group=doneness, name="Medium", position=2)
    extras = ModifierGroup.objects.create(menu_item=dish, name="Extras", min_select=0, max_select=2, position=1)
    dish.bacon = ModifierOption.objects.create(group=extras, name="Bacon", price_delta=Decimal("1.50"))
    dish.egg = ModifierOption.objects.create(
        group=extras, name="Egg", price_delta=Decimal("1.20"), allergens=["eggs"]
    )
    dish.cheese = ModifierOption.objects.create(
        group=extras, name="Cheddar", price_delta=Decimal("1.00"), allergens=["milk"], available=False
    )
    return dish


def events(floor, *names):
    qs = OutboxEvent.objects.filter(restaurant=floor.restaurant).order_by("seq")
    return [(e.name, e.payload) for e in qs if not names or e.name in names]


def add(floor, order_id, body, role=Role.WAITER):
    return floor.client(role).post(f"/api/v1/orders/{order_id}/items", body, format="json")


def new_order(floor):
    return services.order_create(actor=floor.waiter, table_session=floor.session)


def confirm(floor, order):
    response = floor.client().post(f"/api/v1/orders/{order.pk}/confirm", {}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


# --- Menu -------------------------------------------------------------------------------------


def test_menu_items_serve_allergens_courses_86_state_and_modifier_groups(floor, burger):
    results = floor.client().get("/api/v1/menu-items", {"pageSize": 100}).json()["results"]
    dish = next(m for m in results if m["id"] == str(burger.pk))
    assert dish["allergens"] == ["gluten", "milk"]
    assert (dish["course"], dish["prepMinutes"]) == (2, 12)
    assert (dish["available"], dish["remaining"], dish["availableAgainAt"]) == (True, None, None)
    assert [(g["name"], g["minSelect"], g["maxSelect"]) for g in dish["modifierGroups"]] == [
        ("Doneness", 1, 1), ("Extras", 0, 2),
    ]
    assert dish["modifierGroups"][1]["options"][0] == {
        "id": str(burger.bacon.pk), "name": "Bacon", "priceDelta": "1.50", "allergens": [],
        "available": True,
    }


# --- Order items: modifiers, allergens, stations ------------------------------------------------


def test_modifiers_are_copied_and_priced_and_allergens_computed(floor, burger):
    order = new_order(floor)
    response = add(floor, order.pk, {
        "menuItemId": str(burger.pk), "qty": 2, "seat": 3, "allergies": ["eggs", "peanuts"],
        "modifiers": [{"optionId": str(burger.medium.pk)}, {"optionId": str(burger.egg.pk)},
                      {"name": "no onion"}, {"name": "extra sauce", "priceDelta": "0.30"}],
    })
    assert response.status_code == 201, response.content
    item = response.json()
    assert item["modifiers"] == [
        {"name": "Medium", "priceDelta": "0.00", "optionId": str(burger.medium.pk)},
        {"name": "Egg", "priceDelta": "1.20", "optionId": str(burger.egg.pk)},
        {"name": "no onion", "priceDelta": "0.00", "optionId": None},
        {"name": "extra sauce", "priceDelta": "0.30", "optionId": None},
    ]
    assert (item["unitPrice"], item["course"], item["seat"], item["station"]) == ("15.50", 2, 3, "grill")
    assert item["menuItemId"] == str(burger.pk)
    assert item["allergens"] == ["gluten", "eggs", "milk"]  # the regulation's order
    assert item["allergies"] == ["eggs", "peanuts"]
    assert item["allergenConflicts"] == ["eggs"]
    assert item["firedAt"] is None  # DRAFT: nothing is fired before the confirm
    # qty × (unitPrice + Σ priceDelta) = 2 × (15.50 + 1.20 + 0.30)
    assert floor.client().get(f"/api/v1/orders/{order.pk}").json()["total"] == "34.00"
    # A later menu edit does not rewrite what was ordered.
    ModifierOption.objects.filter(pk=burger.egg.pk).update(name="Fried egg", price_delta=Decimal("9.00"))
    again = floor.client().get(f"/api/v1/orders/{order.pk}").json()
    assert again["items"][0]["modifiers"][1]["name"] == "Egg" and again["total"] == "34.00"


@pytest.mark.parametrize(
    "modifiers,status,message",
    [
        ([], 400, "Doneness: choose at least 1"),
        ([{"optionId": "rare"}, {"optionId": "medium"}], 400, "Doneness: choose at most 1"),
        ([{"optionId": "rare"}, {"optionId": "rare"}], 400, "chosen twice"),
        ([{"optionId": "rare"}, {"optionId": "bacon"}, {"optionId": "egg"}, {"optionId": "bacon"}], 400, "twice"),
        ([{"optionId": "rare"}, {"optionId": "other"}], 400, "is not an option of Burger"),
        ([{"optionId": "rare"}, {"optionId": "cheese"}], 409, "Cheddar"),
        ([{"optionId": "rare"}, {"name": ""}], 400, "name"),
        ([{"optionId": "rare", "name": "both"}], 400, "either optionId"),
    ],
    ids=["required-missing", "too-many", "twice", "twice-in-extras", "foreign-option", "86d-option",
         "blank-free-form", "both-kinds"],
)
def test_group_limits_and_option_availability_are_enforced(floor, burger, modifiers, status, message):
    other = ModifierOption.objects.create(
        group=ModifierGroup.objects.create(menu_item=floor.menu_item, name="Size"), name="Large"
    )
    ids = {"rare": burger.rare, "medium": burger.medium, "bacon": burger.bacon, "egg": burger.egg,
           "cheese": burger.cheese, "other": other}
    body_modifiers = [
        {**m, "optionId": str(ids[m["optionId"]].pk)} if "optionId" in m else m for m in modifiers
    ]
    order = new_order(floor)
    before = db_state()
    response = add(floor, order.pk, {"menuItemId": str(burger.pk), "qty": 1, "modifiers": body_modifiers})
    body = assert_problem(response, status)
    assert message in str(body), body
    assert_db_unchanged(before)


def test_option_ids_need_a_menu_item(floor, burger):
    order = new_order(floor)
    response = add(floor, order.pk, {"name": "Burger", "qty": 1, "unitPrice": "15.50",
                                     "modifiers": [{"optionId": str(burger.rare.pk)}]})
    assert "menuItemId" in str(assert_problem(response, 400))


def test_free_form_item_named_like_a_dish_gets_no_station_unless_menu_item_id(floor, burger):
    """Documented in docs/kitchen.md: routing is by menuItemId, never by name."""
    order = new_order(floor)
    free = add(floor, order.pk, {"name": "Burger", "qty": 1, "unitPrice": "15.50"}).json()
    assert (free["station"], free["menuItemId"], free["allergens"]) == ("", None, [])
    routed = add(floor, order.pk, {"menuItemId": str(burger.pk), "qty": 1,
                                   "modifiers": [{"optionId": str(burger.rare.pk)}]}).json()
    assert (routed["station"], routed["menuItemId"]) == ("grill", str(burger.pk))


def test_unknown_allergen_codes_are_400(floor):
    order = new_order(floor)
    before = db_state()
    body = assert_problem(add(floor, order.pk, {"name": "Soup", "qty": 1, "unitPrice": "4.00",
                                                "allergies": ["shellfish"]}), 400)
    assert "allergies" in body["errors"]
    assert_db_unchanged(before)


# --- Courses: fire and hold ----------------------------------------------------------------------


def _three_courses(floor, burger):
    order = new_order(floor)
    starter = services.order_item_add(actor=floor.waiter, order=order, name="Soup", unit_price="5.00", qty=1)
    main = services.order_item_add(actor=floor.waiter, order=order, menu_item=burger, qty=1,
                                   modifiers=[{"option_id": burger.rare.pk}])
    dessert = services.order_item_add(actor=floor.waiter, order=order, name="Flan", unit_price="4.00",
                                      qty=1, course=3)
    return order, starter, main, dessert


def test_confirm_fires_the_lowest_course_and_holds_the_others(floor, burger):
    order, starter, main, dessert = _three_courses(floor, burger)
    body = confirm(floor, order)
    fired = {i["id"]: i["firedAt"] for i in body["items"]}
    assert fired[str(starter.pk)] is not None
    assert fired[str(main.pk)] is None and fired[str(dessert.pk)] is None
    # The reference's two events, and no other: the confirm itself fires course 1.
    assert [name for name, _ in events(floor)] == ["order.new", "order.status.changed"]

    kitchen = floor.client(Role.KITCHEN)
    status_url = f"/api/v1/orders/{order.pk}/items/{main.pk}/status"
    held = assert_problem(kitchen.post(status_url, {"status": "IN_PROGRESS"}, format="json"), 409)
    assert held["type"].endswith("/course-held")

    fire = floor.client(Role.WAITER).post(f"/api/v1/orders/{order.pk}/fire", {"course": 2}, format="json")
    assert fire.status_code == 200, fire.content
    fired_main = next(i for i in fire.json()["items"] if i["id"] == str(main.pk))
    (name, payload), = events(floor, "order.course.fired")
    assert payload == {
        "orderId": str(order.pk), "restaurantId": str(floor.restaurant.pk), "course": 2,
        "itemIds": [str(main.pk)], "firedAt": fired_main["firedAt"],
    }
    assert kitchen.post(status_url, {"status": "IN_PROGRESS"}, format="json").status_code == 200
    # Fired once: firing it again is a conflict.
    assert_problem(kitchen.post(f"/api/v1/orders/{order.pk}/fire", {"course": 2}, format="json"), 409)


@pytest.mark.parametrize("auto_fire", [True, False])
def test_next_course_fires_when_the_previous_is_served_if_the_restaurant_says_so(floor, burger, auto_fire):
    floor.restaurant.auto_fire_next_course = auto_fire
    floor.restaurant.save()
    floor.waiter.refresh_from_db()
    order, starter, main, dessert = _three_courses(floor, burger)
    services.order_confirm(actor=floor.waiter, order=order)
    for status, role in (("IN_PROGRESS", Role.KITCHEN), ("READY", Role.KITCHEN), ("SERVED", Role.WAITER)):
        services.item_set_status(actor=floor.user(role), item=starter, status=status)
    main.refresh_from_db()
    dessert.refresh_from_db()
    assert (main.fired_at is not None) is auto_fire
    assert dessert.fired_at is None
    assert len(events(floor, "order.course.fired")) == int(auto_fire)
    if auto_fire:
        assert events(floor, "order.course.fired")[0][1]["itemIds"] == [str(main.pk)]


# --- Changes after sending ------------------------------------------------------------------------


def test_add_on_to_a_ready_order_takes_it_back_to_in_progress(floor, burger):
    order = floor.order(status=OrderStatus.READY, item_status=ItemStatus.READY)
    before = len(events(floor))
    response = add(floor, order.pk, {"name": "Extra fries", "qty": 1, "unitPrice": "3.00"})
    assert response.status_code == 201, response.content
    item = response.json()
    assert item["firedAt"] is not None  # course 1 is already fired
    new = events(floor)[before:]
    assert [name for name, _ in new] == ["order.items.added", "order.status.changed"]
    assert new[0][1]["items"] == [item]  # the same item JSON as REST
    assert set(new[0][1]) == {"orderId", "restaurantId", "items", "createdAt"}
    assert (new[1][1]["previousStatus"], new[1][1]["newStatus"]) == ("READY", "IN_PROGRESS")


def test_add_on_of_a_held_course_is_held_and_of_a_lower_one_fires(floor, burger):
    order, starter, main, dessert = _three_courses(floor, burger)
    services.order_confirm(actor=floor.waiter, order=order)
    later = add(floor, order.pk, {"name": "Cake", "qty": 1, "unitPrice": "4.00", "course": 3}).json()
    assert later["firedAt"] is None
    first = add(floor, order.pk, {"name": "Bread", "qty": 1, "unitPrice": "1.00", "course": 1}).json()
    assert first["firedAt"] is not None


def test_void_after_sending_keeps_its_reason(floor):
    order = floor.order(status=OrderStatus.IN_PROGRESS, item_status=ItemStatus.IN_PROGRESS)
    item = order.items.get()
    response = floor.client().post(
        f"/api/v1/orders/{order.pk}/items/{item.pk}/status",
        {"status": "CANCELLED", "reason": "sent back: cold"}, format="json",
    )
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["voidReason"]) == ("CANCELLED", "sent back: cold")
    name, payload = events(floor)[-2]
    assert name == "order.item.status.changed" and payload["newStatus"] == "CANCELLED"
    assert_problem(floor.client().post(
        f"/api/v1/orders/{order.pk}/items/{item.pk}/status",
        {"status": "READY", "reason": "nope"}, format="json",
    ), 400)


# --- Allergies -------------------------------------------------------------------------------------


def test_allergy_acknowledgement_records_who_and_when_and_unblocks_the_start(floor):
    order = floor.order(status=OrderStatus.CONFIRMED, items=0)
    item = OrderItemFactory(order=order, allergies=["milk"], allergens=["milk", "gluten"])
    kitchen = floor.client(Role.KITCHEN)
    start = f"/api/v1/orders/{order.pk}/items/{item.pk}/status"
    assert_problem(kitchen.post(start, {"status": "IN_PROGRESS"}, format="json"), 409)
    response = kitchen.post(f"/api/v1/orders/{order.pk}/items/{item.pk}/acknowledge-allergy", format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["allergyAcknowledgedBy"] == str(floor.kitchen.pk)
    assert body["allergenConflicts"] == ["milk"]
    (name, payload), = events(floor, "order.item.allergy.acknowledged")
    assert payload == {
        "orderId": str(order.pk), "itemId": str(item.pk), "restaurantId": str(floor.restaurant.pk),
        "allergies": ["milk"], "acknowledgedBy": str(floor.kitchen.pk),
        "acknowledgedAt": body["allergyAcknowledgedAt"],
    }
    assert kitchen.post(start, {"status": "IN_PROGRESS"}, format="json").status_code == 200


# --- Priority and ticket numbers ------------------------------------------------------------------


def test_priority_rush_emits_its_event_once(floor):
    order = floor.order(status=OrderStatus.CONFIRMED)
    url = f"/api/v1/orders/{order.pk}/priority"
    for _ in range(2):
        response = floor.client(Role.KITCHEN).post(url, {"priority": "RUSH"}, format="json")
        assert response.status_code == 200 and response.json()["priority"] == "RUSH"
    (name, payload), = events(floor, "order.priority.changed")
    assert payload == {"orderId": str(order.pk), "restaurantId": str(floor.restaurant.pk),
                       "priority": "RUSH", "updatedAt": payload["updatedAt"]}
    assert_problem(floor.client().post(url, {"priority": "URGENT"}, format="json"), 400)


def test_ticket_numbers_restart_at_midnight_in_the_restaurants_time_zone(floor, monkeypatch):
    floor.restaurant.timezone = "America/New_York"
    floor.restaurant.save()
    floor.waiter.refresh_from_db()
    numbers = []
    # 23:00 and 23:30 on 9 March in New York, then 01:00 on the 10th: all 10 March in UTC.
    for hour, minute in ((3, 0), (3, 30), (5, 0)):
        order = new_order(floor)
        services.order_item_add(actor=floor.waiter, order=order, name="Soup", unit_price="4.00", qty=1)
        monkeypatch.setattr(timezone, "now", lambda h=hour, m=minute: datetime(2026, 3, 10, h, m, tzinfo=UTC))
        numbers.append(confirm(floor, order)["number"])
        monkeypatch.undo()
    assert numbers == [1, 2, 1]
    assert new_order(floor).number is None  # a draft has none yet


# --- 86 -------------------------------------------------------------------------------------------


def test_countdown_reaching_zero_86s_the_dish_and_more_than_left_is_409(floor, burger):
    kitchen = floor.client(Role.KITCHEN)
    url = f"/api/v1/menu-items/{floor.menu_item.pk}/availability"
    response = kitchen.post(url, {"available": True, "remaining": 3}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["available"], response.json()["remaining"]) == (True, 3)
    order = new_order(floor)
    before = db_state()
    assert assert_problem(add(floor, order.pk, {"menuItemId": str(floor.menu_item.pk), "qty": 4}), 409)[
        "type"].endswith("/item-unavailable")
    assert_db_unchanged(before)
    assert add(floor, order.pk, {"menuItemId": str(floor.menu_item.pk), "qty": 2}).status_code == 201
    line = add(floor, order.pk, {"menuItemId": str(floor.menu_item.pk), "qty": 1})
    assert line.status_code == 201
    floor.menu_item.refresh_from_db()
    assert (floor.menu_item.available, floor.menu_item.remaining) == (False, 0)
    assert [(p["available"], p["remaining"]) for _, p in events(floor, "menu.item.availability.changed")] == [
        (True, 3), (True, 1), (False, 0),
    ]
    # A line removed from a draft gives its portions back.
    floor.client().delete(f"/api/v1/orders/{order.pk}/items/{line.json()['id']}")
    floor.menu_item.refresh_from_db()
    assert (floor.menu_item.available, floor.menu_item.remaining) == (True, 1)


def test_86_until_a_time_comes_back_by_itself_through_the_relay(floor):
    kitchen = floor.client(Role.KITCHEN)
    url = f"/api/v1/menu-items/{floor.menu_item.pk}/availability"
    until = timezone.now() + timedelta(minutes=30)
    response = kitchen.post(url, {"available": False, "availableAgainAt": until.isoformat()}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["available"] is False and response.json()["availableAgainAt"]
    call_command("relay_outbox", "--once")
    assert MenuItem.objects.get(pk=floor.menu_item.pk).available is False
    MenuItem.objects.filter(pk=floor.menu_item.pk).update(available_again_at=timezone.now() - timedelta(seconds=1))
    call_command("relay_outbox", "--once")
    dish = MenuItem.objects.get(pk=floor.menu_item.pk)
    assert (dish.available, dish.available_again_at) == (True, None)
    back = events(floor, "menu.item.availability.changed")[-1][1]
    assert (back["available"], back["availableAgainAt"]) == (True, None)
    past = timezone.now() - timedelta(minutes=1)
    assert_problem(kitchen.post(url, {"available": False, "availableAgainAt": past.isoformat()}, format="json"), 400)


def test_an_86_set_in_the_admin_emits_the_same_event(floor):
    admin = Client()
    admin.force_login(floor.manager)
    dish = floor.menu_item
    response = admin.post(f"/admin/orders/menuitem/{dish.pk}/change/", {
        "name": dish.name, "price": "12.50", "station": dish.station, "active": "on",
        "course": "1", "remaining": "5",
        "modifier_groups-TOTAL_FORMS": "0", "modifier_groups-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302, response.content[:2000]
    (name, payload), = events(floor, "menu.item.availability.changed")
    assert (payload["available"], payload["remaining"]) == (False, 5)
