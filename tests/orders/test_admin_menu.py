"""The menu admin (orders/admin/menu.py): managers edit dishes, modifier groups (inline) and
options (inline on the group's page) of their own restaurant only; 86 changes made here go
through `services.menu_item_update` and emit the kitchen's event."""

from __future__ import annotations

import pytest

from orders.models import MenuItem, ModifierGroup, ModifierOption, OrderStatus
from realtime.models import OutboxEvent

from .test_admin import ADMIN, admin_client

GROUPS = "modifier_groups"
OPTIONS = "options"


def _formset(prefix, rows=(), initial=0):
    data = {f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": str(initial),
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}
    for index, row in enumerate(rows):
        data.update({f"{prefix}-{index}-{key}": value for key, value in row.items()})
    return data


def _dish_form(dish, **changes):
    return {"name": dish.name, "price": str(dish.price), "station": dish.station, "active": "on",
            "course": str(dish.course), "available": "on", **changes}


@pytest.fixture
def both(floor, other_floor):
    for f in (floor, other_floor):
        f.group = ModifierGroup.objects.create(menu_item=f.menu_item, name="Doneness", min_select=1)
        f.option = ModifierOption.objects.create(group=f.group, name="Rare")
    return floor, other_floor


def test_manager_adds_a_modifier_group_on_the_dishs_page(floor):
    client = admin_client(floor.manager)
    dish = floor.menu_item
    page = client.get(f"{ADMIN}orders/menuitem/{dish.pk}/change/")
    assert page.status_code == 200
    assert b"Modifier groups" in page.content or b"modifier_groups" in page.content
    response = client.post(f"{ADMIN}orders/menuitem/{dish.pk}/change/", {
        **_dish_form(dish, allergens=["gluten", "milk"], course="2"),
        **_formset(GROUPS, [{"name": "Extras", "min_select": "0", "max_select": "3", "position": "0"}]),
    })
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    dish.refresh_from_db()
    assert (dish.allergens, dish.course) == (["gluten", "milk"], 2)
    assert list(dish.modifier_groups.values_list("name", "max_select")) == [("Extras", 3)]


def test_group_limits_are_form_errors_not_crashes(floor):
    client = admin_client(floor.manager)
    dish = floor.menu_item
    response = client.post(f"{ADMIN}orders/menuitem/{dish.pk}/change/", {
        **_dish_form(dish),
        **_formset(GROUPS, [{"name": "Bad", "min_select": "3", "max_select": "1", "position": "0"}]),
    })
    assert response.status_code == 200  # the form again
    assert not ModifierGroup.objects.filter(name="Bad").exists()


def test_manager_adds_options_on_the_groups_page(both):
    floor, _ = both
    client = admin_client(floor.manager)
    url = f"{ADMIN}orders/modifiergroup/{floor.group.pk}/change/"
    assert client.get(url).status_code == 200
    response = client.post(url, {
        "menu_item": str(floor.menu_item.pk), "name": "Doneness", "min_select": "1",
        "max_select": "1", "position": "0",
        **_formset(OPTIONS, [
            {"id": str(floor.option.pk), "group": str(floor.group.pk), "name": "Rare",
             "price_delta": "0.00", "available": "on", "position": "0"},
            {"name": "Blue cheese", "price_delta": "1.50", "allergens": ["milk"], "available": "on",
             "position": "1"},
        ], initial=1),
    })
    assert response.status_code == 302, response.content[:3000]
    added = ModifierOption.objects.get(name="Blue cheese")
    assert (added.group_id, added.price_delta, added.allergens) == (floor.group.pk, 1.5, ["milk"])


def test_manager_cannot_reach_another_restaurants_groups(both):
    floor, other = both
    client = admin_client(floor.manager)
    for page in ("change", "delete", "history"):
        response = client.get(f"{ADMIN}orders/modifiergroup/{other.group.pk}/{page}/")
        assert response.status_code in (302, 404), (page, response.status_code)
        assert str(other.group.pk).encode() not in response.content
    # The group's dish can only be one of the manager's own.
    form = client.get(f"{ADMIN}orders/modifiergroup/{floor.group.pk}/change/").context["adminform"].form
    assert set(form.fields["menu_item"].queryset) == {floor.menu_item}
    client.post(f"{ADMIN}orders/modifiergroup/{floor.group.pk}/change/", {
        "menu_item": str(other.menu_item.pk), "name": "Moved", "min_select": "0", "max_select": "1",
        "position": "0", **_formset(OPTIONS),
    })
    floor.group.refresh_from_db()
    assert floor.group.menu_item_id == floor.menu_item.pk


def test_86_from_the_changelist_goes_through_the_service(floor):
    """list_editable `available`: the manager 86s a dish from the list; the kitchen hears it."""
    client = admin_client(floor.manager)
    dish = floor.menu_item
    response = client.post(f"{ADMIN}orders/menuitem/", {
        "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-0-id": str(dish.pk),
        "form-0-active": "on", "_save": "Save",
    })
    assert response.status_code == 302, response.content[:2000]
    dish.refresh_from_db()
    assert dish.available is False
    event = OutboxEvent.objects.get(restaurant=floor.restaurant, name="menu.item.availability.changed")
    assert (event.payload["menuItemId"], event.payload["available"]) == (str(dish.pk), False)


def test_no_portions_left_but_available_is_a_form_error(floor):
    client = admin_client(floor.manager)
    dish = floor.menu_item
    response = client.post(f"{ADMIN}orders/menuitem/{dish.pk}/change/",
                           {**_dish_form(dish, remaining="0"), **_formset(GROUPS)})
    assert response.status_code == 200
    dish.refresh_from_db()
    assert (dish.available, dish.remaining) == (True, None)
    assert not OutboxEvent.objects.filter(name="menu.item.availability.changed").exists()


def test_order_change_page_shows_a_kitchen_order(floor):
    order = floor.order(status=OrderStatus.CONFIRMED)
    order.items.update(modifiers=[{"name": "no onion", "priceDelta": "0.00", "optionId": None}],
                       allergies=["milk"], course=2)
    assert admin_client(floor.manager).get(f"{ADMIN}orders/order/{order.pk}/change/").status_code == 200
    assert MenuItem.objects.filter(pk=floor.menu_item.pk).exists()
