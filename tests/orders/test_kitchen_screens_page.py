"""The kitchen page as a kitchen screen, in real Chromium against a live server: it names
itself, acknowledges an event only once it has drawn it, runs expo (per-station progress,
Call on READY orders) and shows a station nobody sees."""

import time

import pytest

from orders.screens import Screen

from ..live import screenshot_path
from ._kitchen_support import Pos, browser, kitchen, open_board, ticket  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]


def _until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def _db(function):
    """Django's ORM from a thread of its own: Playwright's loop runs in this one."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(function).result()


def _dish(pos, name):
    return next(d["id"] for d in pos.call("GET", "/menu-items?pageSize=200")["results"] if d["name"] == name)


def _screen(manager, name):
    return next((row for row in manager.call("GET", "/screens") if row["name"] == name), None)


def test_the_page_acknowledges_an_order_only_after_drawing_it(kitchen, browser):
    floor, _, server = kitchen
    waiter, manager = Pos(server, floor.waiter.email), Pos(server, floor.manager.email)
    page = open_board(browser, server, floor.kitchen.email)
    page.fill("#screen-name", "Grill 1")
    page.dispatch_event("#screen-name", "change")
    page.select_option("#station", "grill")
    _until(lambda: (_screen(manager, "Grill 1") or {}).get("station") == "grill")
    # Everything so far drawn and acknowledged (its own coming online included).
    _until(lambda: (page.wait_for_timeout(50), _screen(manager, "Grill 1")["lagEvents"] == 0)[1])
    head = int(_screen(manager, "Grill 1")["lastAckedEventId"])

    # The ticket's read is held: the event has arrived but the ticket cannot be drawn.
    held = []
    page.route("**/api/v1/kitchen/tickets/**", lambda route: held.append(route))
    order_id = waiter.order(str(floor.session.pk), [{"menuItemId": str(floor.menu_item.pk), "qty": 1}])
    waiter.confirm(order_id)
    _until(lambda: (page.wait_for_timeout(100), held)[1])
    page.wait_for_timeout(1000)
    assert ticket(page, order_id).count() == 0
    assert int(_screen(manager, "Grill 1")["lastAckedEventId"]) == head  # received, not drawn
    assert manager.call("GET", f"/orders/{order_id}")["seenBy"] == []

    for route in held:
        route.continue_()
    page.unroute("**/api/v1/kitchen/tickets/**")
    ticket(page, order_id).wait_for(timeout=5000)
    _until(lambda: (page.wait_for_timeout(50), int(_screen(manager, "Grill 1")["lastAckedEventId"]) >= head + 2)[1])
    seen = manager.call("GET", f"/orders/{order_id}")["seenBy"]
    assert [(s["name"], s["station"]) for s in seen] == [("Grill 1", "grill")]
    assert _screen(manager, "Grill 1")["online"] and _screen(manager, "Grill 1")["lagEvents"] == 0


def test_expo_shows_each_stations_progress_and_calls_ready_orders(kitchen, browser):
    floor, _, server = kitchen
    waiter, cook = Pos(server, floor.waiter.email), Pos(server, floor.kitchen.email)
    burger, lemonade = _dish(waiter, "Burger"), _dish(waiter, "Lemonade")
    page = open_board(browser, server, floor.kitchen.email, viewport=(1920, 1080))
    page.select_option("#station", "__expo__")
    order_id = waiter.order(str(floor.session.pk), [{"menuItemId": burger, "qty": 1}, {"menuItemId": lemonade, "qty": 2}])
    waiter.confirm(order_id)
    card = ticket(page, order_id)
    card.wait_for(timeout=5000)
    assert card.locator(".station-progress").inner_text().split("\n") == ["bar 0/1", "grill 0/1"]
    items = cook.call("GET", f"/orders/{order_id}")["items"]
    bar_item = next(i for i in items if i["station"] == "bar")
    for status in ("IN_PROGRESS", "READY"):
        cook.call("POST", f"/orders/{order_id}/items/{bar_item['id']}/status", {"status": status})
    page.wait_for_selector(f'.ticket[data-order="{order_id}"] .progress.done[data-station="bar"]', timeout=5000)
    assert card.locator(".call").count() == 0  # not READY yet
    cook.call("POST", f"/orders/{order_id}/bump")
    card.locator(".call").wait_for(timeout=5000)
    page.screenshot(path=str(screenshot_path("kitchen-expo.png")), animations="disabled")
    card.locator(".call").click()
    page.wait_for_selector("#toast:not([hidden])", timeout=3000)
    history = cook.call("GET", f"/orders/{order_id}/history")
    assert history[-1]["action"] == "pickup.called"
    assert history[-1]["screenId"] is not None  # made from this screen


def test_a_station_whose_every_screen_is_offline_is_an_alert_on_the_others(kitchen, browser):
    floor, _, server = kitchen
    waiter = Pos(server, floor.waiter.email)
    _db(lambda: Screen.objects.create(restaurant=floor.restaurant, name="Bar 1", station="bar"))  # never online
    page = open_board(browser, server, floor.kitchen.email)
    lemonade = _dish(waiter, "Lemonade")
    order_id = waiter.order(str(floor.session.pk), [{"menuItemId": lemonade, "qty": 1}])
    waiter.confirm(order_id)
    ticket(page, order_id).wait_for(timeout=5000)
    page.reload()
    page.wait_for_selector("#stations-down:not([hidden])", timeout=5000)
    assert "bar" in page.locator("#stations-down").inner_text()
