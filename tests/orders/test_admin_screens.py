"""The admin's live screens page and its alert for a station nobody sees."""

import pytest
from django.test import Client

from orders.models import OrderStatus
from orders.screens import Screen
from realtime import screens

from ..factories import OrderFactory, OrderItemFactory

pytestmark = [pytest.mark.redis]


def _admin(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_screens_page_lists_the_restaurants_screens_live_and_alerts_for_a_dark_station(floor, other_floor):
    grill = Screen.objects.create(restaurant=floor.restaurant, name="Grill 1", station="grill")
    Screen.objects.create(restaurant=floor.restaurant, name="Bar 1", station="bar")
    Screen.objects.create(restaurant=other_floor.restaurant, name="Their pass", station="pass")
    screens.mark_present([grill.pk])
    order = OrderFactory(table_session=floor.session, status=OrderStatus.CONFIRMED)
    OrderItemFactory(order=order, station="bar")

    page = _admin(floor.manager).get("/admin/screens/").content.decode()
    assert '<meta http-equiv="refresh"' in page
    assert "Grill 1" in page and "Bar 1" in page and "Their pass" not in page
    assert page.count("● online") == 1 and page.count("● offline") == 1
    assert "No kitchen screen online for bar" in page
    index = _admin(floor.manager).get("/admin/").content.decode()
    assert "No kitchen screen online for bar" in index  # on every admin page
    assert "No kitchen screen online" not in _admin(other_floor.manager).get("/admin/").content.decode()
    for role_user in (floor.waiter, floor.kitchen):
        assert _admin(role_user).get("/admin/screens/").status_code == 302
