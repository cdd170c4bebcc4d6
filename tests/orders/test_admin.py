"""The Django admin (orders/admin/): tenant scoping for managers, who may enter, and the
actions that go through the services."""

from __future__ import annotations

import pytest
from django.contrib.messages import constants as message_levels
from django.test import Client

from orders.models import (
    ItemStatus,
    MenuItem,
    Order,
    OrderItem,
    OrderStatus,
    Restaurant,
    Role,
    Table,
    TableSession,
    TableSessionStatus,
    User,
)

from ..factories import PASSWORD, MenuItemFactory, UserFactory

ADMIN = "/admin/"
STRONG_PASSWORD = "Zebra-Quantum-Lantern-91"


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def changelist_pks(client, model) -> set:
    url = f"{ADMIN}orders/{model._meta.model_name}/"
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    cl = response.context["cl"]
    return {obj.pk for obj in cl.result_list}


def messages_of(response) -> list[tuple[int, str]]:
    return [(m.level, str(m.message)) for m in response.context["messages"]]


def run_action(client, model, action: str, objs):
    return client.post(
        f"{ADMIN}orders/{model._meta.model_name}/",
        {"action": action, "_selected_action": [str(o.pk) for o in objs], "index": "0"},
        follow=True,
    )


@pytest.fixture
def both(floor, other_floor):
    """Two restaurants with an order each (items included)."""
    floor.the_order = floor.order(status=OrderStatus.CONFIRMED, items=2)
    other_floor.the_order = other_floor.order(status=OrderStatus.CONFIRMED, items=2)
    return floor, other_floor


# --- Who may enter ----------------------------------------------------------------------------


def test_manager_enters_the_admin(floor):
    response = admin_client(floor.manager).get(ADMIN)
    assert response.status_code == 200
    assert b"orders/order/" in response.content


@pytest.mark.parametrize("role", [Role.WAITER, Role.KITCHEN])
def test_waiter_and_kitchen_cannot_enter(floor, role):
    user = floor.user(role)
    client = admin_client(user)
    for url in (ADMIN, f"{ADMIN}orders/order/", f"{ADMIN}orders/menuitem/add/"):
        response = client.get(url)
        assert response.status_code == 302, (url, response.status_code)
        assert response["Location"].startswith(f"{ADMIN}login/")
    # Even when someone ticked is_staff on them.
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    response = admin_client(user).get(f"{ADMIN}orders/order/")
    assert response.status_code == 302
    assert response["Location"].startswith(f"{ADMIN}login/")


def test_manager_without_staff_flag_or_inactive_cannot_enter(floor):
    not_staff = UserFactory(restaurant=floor.restaurant, role=Role.MANAGER, is_staff=False)
    response = admin_client(not_staff).get(ADMIN)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{ADMIN}login/")

    client = admin_client(floor.manager)
    floor.manager.is_active = False
    floor.manager.save(update_fields=["is_active"])
    response = client.get(ADMIN)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{ADMIN}login/")


def test_waiter_cannot_log_in_through_the_admin_form(floor):
    client = Client()
    response = client.post(f"{ADMIN}login/", {"username": floor.waiter.email, "password": PASSWORD})
    assert response.status_code == 200  # the form again, with an error
    assert response.context["form"].errors
    assert "_auth_user_id" not in client.session
    # The manager, same form, gets in.
    response = client.post(f"{ADMIN}login/", {"username": floor.manager.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(floor.manager.pk)


# --- Tenant scoping for a manager -------------------------------------------------------------


def test_manager_changelists_show_only_own_restaurant(both):
    a, b = both
    client = admin_client(a.manager)
    assert changelist_pks(client, Order) == {a.the_order.pk}
    assert changelist_pks(client, OrderItem) == set(a.the_order.items.values_list("pk", flat=True))
    assert changelist_pks(client, Table) == {a.table.pk}
    assert changelist_pks(client, TableSession) == {a.session.pk}
    assert changelist_pks(client, MenuItem) == {a.menu_item.pk}
    assert changelist_pks(client, User) == {a.manager.pk, a.waiter.pk, a.kitchen.pk}
    assert changelist_pks(client, Restaurant) == {a.restaurant.pk}

    page = client.get(f"{ADMIN}orders/user/").content.decode()
    for user in (b.manager, b.waiter, b.kitchen):
        assert user.email not in page
    assert b.menu_item.name not in client.get(f"{ADMIN}orders/menuitem/").content.decode()


def test_manager_search_does_not_cross_restaurants(both):
    a, b = both
    client = admin_client(a.manager)
    response = client.get(f"{ADMIN}orders/user/", {"q": b.waiter.email})
    assert {o.pk for o in response.context["cl"].result_list} == set()
    response = client.get(f"{ADMIN}orders/menuitem/", {"q": b.menu_item.name})
    assert {o.pk for o in response.context["cl"].result_list} == set()


def _objects_of(f):
    return {
        "order": f.the_order,
        "orderitem": f.the_order.items.first(),
        "table": f.table,
        "tablesession": f.session,
        "menuitem": f.menu_item,
        "user": f.waiter,
        "restaurant": f.restaurant,
    }


@pytest.mark.parametrize(
    "model_name", ["order", "orderitem", "table", "tablesession", "menuitem", "user", "restaurant"]
)
@pytest.mark.parametrize("page", ["change", "delete", "history"])
def test_manager_cannot_open_other_restaurants_objects(both, model_name, page):
    a, b = both
    obj = _objects_of(b)[model_name]
    client = admin_client(a.manager)
    response = client.get(f"{ADMIN}orders/{model_name}/{obj.pk}/{page}/")
    assert response.status_code in (302, 403, 404), response.status_code
    if response.status_code == 302:
        assert response["Location"] == ADMIN
    else:
        assert str(obj.pk).encode() not in response.content
    if response.status_code == 403:
        # Only where a manager may not do this to any object (deleting items or restaurants):
        # A's own object answers the same, so the answer says nothing about B's.
        own = _objects_of(a)[model_name]
        assert client.get(f"{ADMIN}orders/{model_name}/{own.pk}/{page}/").status_code == 403


def test_manager_cannot_change_or_delete_other_restaurants_objects(both):
    a, b = both
    client = admin_client(a.manager)
    item = b.menu_item
    client.post(
        f"{ADMIN}orders/menuitem/{item.pk}/change/",
        {"name": "Hijacked", "price": "0.01", "station": "x", "active": ""},
    )
    item.refresh_from_db()
    assert item.name != "Hijacked" and item.active

    client.post(f"{ADMIN}orders/table/{b.table.pk}/delete/", {"post": "yes"})
    assert Table.objects.filter(pk=b.table.pk).exists()

    # A bulk delete naming B's ids through A's changelist touches nothing of B.
    client.post(
        f"{ADMIN}orders/menuitem/",
        {"action": "delete_selected", "_selected_action": [str(b.menu_item.pk)], "index": "0",
         "post": "yes"},
    )
    assert MenuItem.objects.filter(pk=b.menu_item.pk).exists()


# The dish page's inline of modifier groups: an empty formset.
MODIFIER_GROUPS_NONE = {
    "modifier_groups-TOTAL_FORMS": "0", "modifier_groups-INITIAL_FORMS": "0",
    "modifier_groups-MIN_NUM_FORMS": "0", "modifier_groups-MAX_NUM_FORMS": "1000",
}


@pytest.mark.parametrize(
    "model_name, data",
    [
        ("menuitem", {"name": "Sneaky dish", "price": "9.99", "station": "grill", "active": "on",
                      "course": "1", "available": "on", **MODIFIER_GROUPS_NONE}),
        ("table", {"name": "Sneaky table", "seats": "4", "active": "on"}),
    ],
)
def test_manager_cannot_create_in_another_restaurant(both, model_name, data):
    a, b = both
    model = MenuItem if model_name == "menuitem" else Table
    response = admin_client(a.manager).post(
        f"{ADMIN}orders/{model_name}/add/", {**data, "restaurant": str(b.restaurant.pk)}
    )
    assert response.status_code in (200, 302)
    assert not model.objects.filter(name=data["name"], restaurant=b.restaurant).exists()
    created = model.objects.filter(name=data["name"])
    # Either refused, or created in the manager's own restaurant.
    assert all(obj.restaurant_id == a.restaurant.pk for obj in created)
    assert created.exists(), "a valid add form should create the object in restaurant A"


def test_manager_cannot_move_own_object_to_another_restaurant(both):
    a, b = both
    client = admin_client(a.manager)
    client.post(
        f"{ADMIN}orders/table/{a.table.pk}/change/",
        {"name": a.table.name, "seats": "6", "active": "on", "restaurant": str(b.restaurant.pk)},
    )
    a.table.refresh_from_db()
    assert a.table.restaurant_id == a.restaurant.pk
    assert a.table.seats == 6  # the rest of the form did apply


def test_manager_cannot_move_a_session_to_another_restaurants_table(both):
    a, b = both
    admin_client(a.manager).post(
        f"{ADMIN}orders/tablesession/{a.session.pk}/change/",
        {"table": str(b.table.pk), "guests": "3"},
    )
    a.session.refresh_from_db()
    assert a.session.table_id == a.table.pk


def test_manager_cannot_change_other_restaurants_staff_password(both):
    a, b = both
    client = admin_client(a.manager)
    url = f"{ADMIN}orders/user/{b.waiter.pk}/password/"
    response = client.get(url)
    assert response.status_code in (302, 403, 404)
    assert b.waiter.email.encode() not in response.content
    old_hash = b.waiter.password
    client.post(url, {"password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD})
    b.waiter.refresh_from_db()
    assert b.waiter.password == old_hash

    # Its own staff's password it may set.
    own = f"{ADMIN}orders/user/{a.waiter.pk}/password/"
    assert client.get(own).status_code == 200
    response = client.post(own, {"password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD})
    assert response.status_code == 302, response.content
    a.waiter.refresh_from_db()
    assert a.waiter.check_password(STRONG_PASSWORD)


def test_manager_creates_staff_only_in_own_restaurant(both):
    a, b = both
    response = admin_client(a.manager).post(
        f"{ADMIN}orders/user/add/",
        {
            "email": "new.waiter@example.com", "name": "New Waiter", "role": Role.WAITER,
            "restaurant": str(b.restaurant.pk), "is_superuser": "on",
            "password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD,
        },
    )
    assert response.status_code in (200, 302)
    user = User.objects.get(email="new.waiter@example.com")
    assert user.restaurant_id == a.restaurant.pk
    assert not user.is_superuser


def test_manager_cannot_promote_staff_to_superuser_or_move_them(both):
    a, b = both
    waiter = a.waiter
    admin_client(a.manager).post(
        f"{ADMIN}orders/user/{waiter.pk}/change/",
        {
            "email": waiter.email, "name": waiter.name, "role": Role.MANAGER,
            "restaurant": str(b.restaurant.pk), "is_active": "on", "is_staff": "on",
            "is_superuser": "on",
        },
    )
    waiter.refresh_from_db()
    assert waiter.restaurant_id == a.restaurant.pk
    assert not waiter.is_superuser


def test_manager_adding_duplicate_menu_item_name_gets_a_form_error(floor):
    """The (restaurant, name) constraint must surface as a form error, not a crash."""
    client = admin_client(floor.manager)
    response = client.post(
        f"{ADMIN}orders/menuitem/add/",
        {"name": floor.menu_item.name, "price": "1.00", "station": "grill", "active": "on",
         "course": "1", "available": "on", **MODIFIER_GROUPS_NONE},
    )
    assert response.status_code == 200  # the form again
    assert MenuItem.objects.filter(restaurant=floor.restaurant, name=floor.menu_item.name).count() == 1
    assert response.context["adminform"].form.errors or response.context["errors"]


def test_manager_adding_duplicate_table_name_gets_a_form_error(floor):
    client = admin_client(floor.manager)
    response = client.post(
        f"{ADMIN}orders/table/add/", {"name": floor.table.name, "seats": "2", "active": "on"}
    )
    assert response.status_code == 200  # the form again
    assert Table.objects.filter(restaurant=floor.restaurant, name=floor.table.name).count() == 1


# --- Superuser --------------------------------------------------------------------------------


def test_superuser_sees_every_restaurant(both):
    a, b = both
    root = User.objects.create_superuser(email="root@example.com", password=STRONG_PASSWORD)
    client = admin_client(root)
    assert changelist_pks(client, Order) == {a.the_order.pk, b.the_order.pk}
    assert changelist_pks(client, Table) == {a.table.pk, b.table.pk}
    assert changelist_pks(client, TableSession) == {a.session.pk, b.session.pk}
    assert changelist_pks(client, MenuItem) == {a.menu_item.pk, b.menu_item.pk}
    assert {a.waiter.pk, b.waiter.pk, root.pk} <= changelist_pks(client, User)
    assert len(changelist_pks(client, OrderItem)) == 4
    response = client.get(f"{ADMIN}orders/menuitem/{b.menu_item.pk}/change/")
    assert response.status_code == 200
    assert b.menu_item.name in response.content.decode()


def test_superuser_sees_every_restaurant_in_restaurant_changelist(both):
    a, b = both
    root = User.objects.create_superuser(email="root@example.com", password=STRONG_PASSWORD)
    assert changelist_pks(admin_client(root), Restaurant) == {a.restaurant.pk, b.restaurant.pk}


def test_manager_edits_own_restaurant(floor):
    client = admin_client(floor.manager)
    url = f"{ADMIN}orders/restaurant/{floor.restaurant.pk}/change/"
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {"name": floor.restaurant.name, "slug": floor.restaurant.slug,
         "ticket_amber_after_minutes": "7", "ticket_red_after_minutes": "15",
         "timezone": "Europe/Madrid", "auto_fire_next_course": "on"},
    )
    assert response.status_code == 302, response.content
    floor.restaurant.refresh_from_db()
    assert (floor.restaurant.ticket_amber_after_minutes, floor.restaurant.ticket_red_after_minutes) == (7, 15)
    assert (floor.restaurant.timezone, floor.restaurant.auto_fire_next_course) == ("Europe/Madrid", True)


def test_superuser_creates_menu_item_in_chosen_restaurant(both):
    a, b = both
    root = User.objects.create_superuser(email="root@example.com", password=STRONG_PASSWORD)
    response = admin_client(root).post(
        f"{ADMIN}orders/menuitem/add/",
        {"name": "Chosen", "price": "3.00", "station": "bar", "active": "on",
         "restaurant": str(b.restaurant.pk), "course": "1", "available": "on",
         **MODIFIER_GROUPS_NONE},
    )
    assert response.status_code == 302, response.content
    assert MenuItem.objects.get(name="Chosen").restaurant_id == b.restaurant.pk


# --- Actions go through the services ----------------------------------------------------------


def test_move_to_in_progress_action_legal(floor):
    order = floor.order(status=OrderStatus.CONFIRMED, items=2)
    first, second = order.items.order_by("created_at", "id")
    response = run_action(admin_client(floor.manager), OrderItem, "move_to_in_progress", [first])
    assert response.status_code == 200
    levels = [level for level, _ in messages_of(response)]
    assert message_levels.SUCCESS in levels and message_levels.ERROR not in levels
    first.refresh_from_db()
    second.refresh_from_db()
    order.refresh_from_db()
    assert first.status == ItemStatus.IN_PROGRESS
    assert second.status == ItemStatus.PENDING
    assert order.status == OrderStatus.IN_PROGRESS  # re-derived from the items


def test_move_actions_rederive_order_status_to_ready(floor):
    order = floor.order(status=OrderStatus.IN_PROGRESS, items=1, item_status=ItemStatus.IN_PROGRESS)
    client = admin_client(floor.manager)
    run_action(client, OrderItem, "move_to_ready", list(order.items.all()))
    order.refresh_from_db()
    assert order.items.get().status == ItemStatus.READY
    assert order.status == OrderStatus.READY


@pytest.mark.parametrize(
    "order_status, item_status",
    [
        (OrderStatus.SERVED, ItemStatus.SERVED),  # SERVED -> IN_PROGRESS is not a move
        (OrderStatus.DRAFT, ItemStatus.PENDING),  # legal move, but the order is not confirmed
        (OrderStatus.CANCELLED, ItemStatus.CANCELLED),
    ],
)
def test_move_to_in_progress_action_illegal(floor, order_status, item_status):
    order = floor.order(status=order_status, items=1, item_status=item_status)
    item = order.items.get()
    before_item = (item.status, item.updated_at)
    before_order = (order.status, order.updated_at)

    response = run_action(admin_client(floor.manager), OrderItem, "move_to_in_progress", [item])
    assert response.status_code == 200
    messages = messages_of(response)
    errors = [text for level, text in messages if level == message_levels.ERROR]
    assert errors, messages
    assert item_status in errors[0] and "IN_PROGRESS" in errors[0]
    assert message_levels.SUCCESS not in [level for level, _ in messages]
    item.refresh_from_db()
    order.refresh_from_db()
    assert (item.status, item.updated_at) == before_item
    assert (order.status, order.updated_at) == before_order


def test_move_action_mixed_selection(floor):
    legal = floor.order(status=OrderStatus.CONFIRMED, items=1).items.get()
    illegal = floor.order(
        status=OrderStatus.SERVED, items=1, item_status=ItemStatus.SERVED
    ).items.get()
    response = run_action(
        admin_client(floor.manager), OrderItem, "move_to_in_progress", [legal, illegal]
    )
    levels = [level for level, _ in messages_of(response)]
    assert message_levels.SUCCESS in levels and message_levels.ERROR in levels
    legal.refresh_from_db()
    illegal.refresh_from_db()
    assert legal.status == ItemStatus.IN_PROGRESS
    assert illegal.status == ItemStatus.SERVED


def test_move_action_cannot_reach_another_restaurants_items(both):
    a, b = both
    b_items = list(b.the_order.items.all())
    run_action(admin_client(a.manager), OrderItem, "move_to_in_progress", b_items)
    assert set(OrderItem.objects.filter(order=b.the_order).values_list("status", flat=True)) == {
        ItemStatus.PENDING
    }
    b.the_order.refresh_from_db()
    assert b.the_order.status == OrderStatus.CONFIRMED


def test_confirm_orders_action(floor):
    order = floor.order(status=OrderStatus.DRAFT, items=2)
    empty = floor.order(status=OrderStatus.DRAFT, items=0)
    response = run_action(admin_client(floor.manager), Order, "confirm_orders", [order, empty])
    assert response.status_code == 200
    messages = messages_of(response)
    assert any(level == message_levels.SUCCESS for level, _ in messages), messages
    assert any(level == message_levels.ERROR for level, _ in messages), messages
    order.refresh_from_db()
    empty.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert order.confirmed_at is not None
    assert empty.status == OrderStatus.DRAFT
    assert empty.confirmed_at is None


def test_cancel_orders_action(floor):
    order = floor.order(status=OrderStatus.CONFIRMED, items=2)
    run_action(admin_client(floor.manager), Order, "cancel_orders", [order])
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert set(order.items.values_list("status", flat=True)) == {ItemStatus.CANCELLED}


def test_close_sessions_action(floor):
    open_order = floor.order(status=OrderStatus.CONFIRMED, items=1)
    client = admin_client(floor.manager)
    response = run_action(client, TableSession, "close_sessions", [floor.session])
    assert any(level == message_levels.ERROR for level, _ in messages_of(response))
    floor.session.refresh_from_db()
    assert floor.session.status == TableSessionStatus.OPEN

    open_order.status = OrderStatus.SERVED
    open_order.save()
    run_action(client, TableSession, "close_sessions", [floor.session])
    floor.session.refresh_from_db()
    assert floor.session.status == TableSessionStatus.CLOSED
    assert floor.session.closed_at is not None


def test_order_item_change_page_is_read_only(floor):
    order = floor.order(status=OrderStatus.CONFIRMED, items=1)
    item = order.items.get()
    client = admin_client(floor.manager)
    response = client.get(f"{ADMIN}orders/orderitem/{item.pk}/change/")
    assert response.status_code == 200
    client.post(f"{ADMIN}orders/orderitem/{item.pk}/change/", {"status": ItemStatus.SERVED, "qty": "9"})
    item.refresh_from_db()
    assert item.status == ItemStatus.PENDING and item.qty == 1


def test_list_editable_formset_covers_only_own_menu_items(both):
    a, b = both
    extra = MenuItemFactory(restaurant=a.restaurant)
    client = admin_client(a.manager)
    # The changelist's list_editable formset only covers A's rows.
    response = client.get(f"{ADMIN}orders/menuitem/")
    formset = response.context["cl"].formset
    assert {f.instance.pk for f in formset.forms} == {a.menu_item.pk, extra.pk}
