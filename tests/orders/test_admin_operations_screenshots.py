"""Screenshots of the admin's kitchen-operation pages, in real Chromium against a live server:
docs/admin-screens.png and docs/admin-kitchen-times.png (the README shows them)."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import ItemStatus, OrderStatus
from orders.screens import Screen
from realtime import screens
from realtime.selectors import event_head

from ..factories import OrderFactory, OrderItemFactory
from ..live import WebServer, screenshot_path
from ._kitchen_support import PASSWORD, browser  # noqa: F401 (fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]

DISHES = [("Burger", "grill", 540), ("Ribeye", "grill", 780), ("Fries", "fry", 240),
          ("Caesar salad", "cold", 300), ("Tiramisu", "pastry", 180)]


def _service(floor):
    rng = random.Random(15)
    start = timezone.now() - timedelta(days=1)
    for n in range(120):
        name, station, typical = DISHES[n % len(DISHES)]
        fired = start + timedelta(minutes=5 * n)
        ready = fired + timedelta(seconds=typical * rng.uniform(0.6, 1.8))
        served = ready + timedelta(seconds=rng.uniform(20, 240))
        order = OrderFactory(table_session=floor.session, status=OrderStatus.SERVED)
        OrderItemFactory(order=order, name=name, station=station, status=ItemStatus.SERVED,
                         fired_at=fired, ready_at=ready, served_at=served)
    now = timezone.now()
    head = event_head(floor.restaurant.pk)
    online = [Screen.objects.create(restaurant=floor.restaurant, name=name, station=station,
                                    connected_at=now, last_seen_at=now, announced_online=True,
                                    last_acked_event_id=head, last_acked_at=now)
              for name, station in (("Grill 1", "grill"), ("Grill 2", "grill"), ("Expo", ""))]
    Screen.objects.create(restaurant=floor.restaurant, name="Bar 1", station="bar",
                          connected_at=now - timedelta(hours=2), last_seen_at=now - timedelta(minutes=7),
                          last_acked_event_id=head - 9, last_acked_at=now - timedelta(minutes=7))
    screens.mark_present([s.pk for s in online])
    open_bar = OrderFactory(table_session=floor.session, status=OrderStatus.CONFIRMED)
    OrderItemFactory(order=open_bar, name="Lemonade", station="bar")


@pytest.fixture
def service(floor, settings):
    """The data and the server, before the browser starts (its loop forbids the ORM here)."""
    from django.conf import global_settings

    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    floor.manager.set_password(PASSWORD)
    floor.manager.save()
    _service(floor)
    return floor


def test_admin_screens_and_kitchen_times_screenshots(service, browser):
    floor = service
    server = WebServer("admin-operations")
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(server.base + "/admin/login/")
        page.fill("#id_username", floor.manager.email)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.goto(server.base + "/admin/screens/")
        assert page.locator(".stations-down-alert").count() == 1
        assert page.locator("tr.online").count() == 3 and page.locator("tr.offline").count() == 1
        page.screenshot(path=str(screenshot_path("admin-screens.png")), full_page=True)
        page.goto(server.base + "/admin/kitchen-times/?groupBy=item")
        chart = page.locator("svg.kitchen-times-chart")
        assert chart.count() == 1 and chart.locator("rect").count() >= 5 * 4
        page.screenshot(path=str(screenshot_path("admin-kitchen-times.png")), full_page=True)
    finally:
        server.stop()
