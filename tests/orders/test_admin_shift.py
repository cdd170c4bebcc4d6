"""A manager (not a superuser) runs a shift from the admin: every order with its items,
statuses and total, the actions through the services, the kitchen display one click away,
and no way to destroy the history of an order that was sent to the kitchen."""

from __future__ import annotations

import pytest
from django.contrib.messages import constants as message_levels

from orders import services
from orders.errors import Conflict, Forbidden, NotFound
from orders.models import ItemStatus, Order, OrderItem, OrderStatus

from ..factories import OrderItemFactory
from .test_admin import ADMIN, admin_client, messages_of, run_action

ORDERS = f"{ADMIN}orders/order/"


def change_url(order):
    return f"{ORDERS}{order.pk}/change/"


def an_order(floor, status=OrderStatus.CONFIRMED, names=("Burger", "Fries")):
    order = floor.order(status=status, items=0)
    for name in names:
        OrderItemFactory(order=order, name=name, qty=2, unit_price="4.50")
    return order


def test_order_change_page_shows_its_items_to_a_manager(floor):
    order = an_order(floor)
    response = admin_client(floor.manager).get(change_url(order))
    assert response.status_code == 200
    (inline,) = response.context["inline_admin_formsets"]
    assert {form.original.name for form in inline} == {"Burger", "Fries"}
    page = response.content.decode()
    assert "Burger" in page and "Fries" in page and "18.00" in page  # 2 × 4.50, twice
    # Read-only: no input for any item field.
    assert 'name="items-0-qty"' not in page


def test_header_names_the_restaurant_and_view_site_is_the_kitchen_display(floor):
    response = admin_client(floor.manager).get(ADMIN)
    assert floor.restaurant.name in response.context["site_header"]
    assert response.context["site_url"] == "/kitchen/"
    page = response.content.decode()
    assert f"{floor.restaurant.name}" in page
    assert 'href="/kitchen/"' in page and "Kitchen display" in page


def test_order_page_offers_the_actions_that_fit_its_status(floor):
    client = admin_client(floor.manager)
    draft, sent = an_order(floor, OrderStatus.DRAFT), an_order(floor, OrderStatus.CONFIRMED)
    draft_page = client.get(change_url(draft)).content.decode()
    sent_page = client.get(change_url(sent)).content.decode()
    assert 'value="confirm_orders"' in draft_page
    assert 'value="confirm_orders"' not in sent_page
    assert 'value="cancel_orders"' in sent_page
    assert f"{ADMIN}orders/orderitem/?order__id__exact={sent.pk}" in sent_page
    # The item list behind that link is this order's items, with the move actions.
    response = client.get(f"{ADMIN}orders/orderitem/", {"order__id__exact": str(sent.pk)})
    assert {i.pk for i in response.context["cl"].result_list} == set(sent.items.values_list("pk", flat=True))
    assert "move_to_in_progress" in response.content.decode()


def test_the_order_page_action_runs_through_the_service(floor):
    order = an_order(floor, OrderStatus.CONFIRMED)
    response = run_action(admin_client(floor.manager), Order, "cancel_orders", [order])
    assert any(level == message_levels.SUCCESS for level, _ in messages_of(response))
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.cancel_reason == "Cancelled in admin"


@pytest.mark.parametrize("status", [OrderStatus.CONFIRMED, OrderStatus.SERVED, OrderStatus.CANCELLED])
def test_a_sent_order_cannot_be_deleted(floor, status):
    order = an_order(floor, status)
    client = admin_client(floor.manager)
    page = client.get(change_url(order)).content.decode()
    assert f"{ORDERS}{order.pk}/delete/" not in page
    assert client.get(f"{ORDERS}{order.pk}/delete/").status_code == 403
    client.post(f"{ORDERS}{order.pk}/delete/", {"post": "yes"})
    bulk = {"action": "delete_selected", "_selected_action": [str(order.pk)]}
    confirm = client.post(ORDERS, bulk)
    assert "only a draft order can be deleted" in confirm.content.decode().lower()
    assert client.post(ORDERS, {**bulk, "post": "yes"}).status_code == 403
    assert Order.objects.filter(pk=order.pk).exists()
    assert order.items.count() == 2


def test_a_draft_order_is_deleted_with_its_items(floor):
    one, two = an_order(floor, OrderStatus.DRAFT), an_order(floor, OrderStatus.DRAFT)
    client = admin_client(floor.manager)
    assert f"{ORDERS}{one.pk}/delete/" in client.get(change_url(one)).content.decode()
    response = client.post(f"{ORDERS}{one.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    confirm = client.post(ORDERS, {"action": "delete_selected", "_selected_action": [str(two.pk)]})
    assert confirm.status_code == 200 and "Are you sure" in confirm.content.decode()
    client.post(ORDERS, {"action": "delete_selected", "_selected_action": [str(two.pk)], "post": "yes"})
    assert not Order.objects.filter(pk__in=[one.pk, two.pk]).exists()
    assert not OrderItem.objects.filter(order_id__in=[one.pk, two.pk]).exists()


def test_order_delete_service_takes_only_drafts_of_the_actors_restaurant(floor, other_floor):
    sent = an_order(floor, OrderStatus.CONFIRMED)
    with pytest.raises(Conflict, match="cancel it instead"):
        services.order_delete(actor=floor.manager, order=sent)
    draft = an_order(floor, OrderStatus.DRAFT)
    with pytest.raises(Forbidden):
        services.order_delete(actor=floor.kitchen, order=draft)
    with pytest.raises(NotFound):
        services.order_delete(actor=other_floor.manager, order=draft)
    services.order_delete(actor=floor.waiter, order=draft)
    assert not Order.objects.filter(pk=draft.pk).exists()
    assert Order.objects.filter(pk=sent.pk).exists()


def test_order_list_shows_items_status_and_total_without_a_query_per_row(floor, django_assert_max_num_queries):
    orders = [an_order(floor) for _ in range(5)]
    orders[0].items.filter(name="Fries").update(status=ItemStatus.READY)
    client = admin_client(floor.manager)
    client.get(ORDERS)  # warm the session and content types
    with django_assert_max_num_queries(12):
        response = client.get(ORDERS)
    page = response.content.decode()
    assert "2 × Burger" in page and "2 × Fries" in page
    assert "18.00" in page
    assert {o.pk for o in response.context["cl"].result_list} == {o.pk for o in orders}


def test_a_superuser_without_a_restaurant_gets_no_kitchen_link(db):
    from ..factories import UserFactory

    root = UserFactory(restaurant=None, is_superuser=True, is_staff=True)
    response = admin_client(root).get(ADMIN)
    assert "all restaurants" in response.context["site_header"]
    assert response.context["site_url"] != "/kitchen/"
    assert "Kitchen display" not in response.content.decode()
