"""The kitchen display, end to end: real headless Chromium against a live web server (the
Procfile's). Screenshots land in tests/artifacts/.
"""

import time

import pytest

from orders.models import Role

from ..factories import UserFactory
from ..live import ARTIFACTS
from ._kitchen_support import Pos, browser, kitchen, open_board, ticket  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_pos_order_appears_within_a_second_and_taps_reach_other_screens(kitchen, browser):
    floor, _, server = kitchen
    waiter = Pos(server, floor.waiter.email)
    screen_one = open_board(browser, server, floor.kitchen.email)
    screen_two = open_board(browser, server, floor.kitchen.email, viewport=(1920, 1080))

    order_id = waiter.order(str(floor.session.pk), [("Burger", 2), ("Fries", 1)])
    confirmed_at = time.monotonic()
    waiter.confirm(order_id)
    ticket(screen_one, order_id).wait_for(timeout=5000)
    appeared_after = time.monotonic() - confirmed_at
    assert appeared_after < 1.0, f"ticket took {appeared_after:.2f}s to appear"
    assert "Table " + floor.table.name in ticket(screen_one, order_id).inner_text()
    assert ticket(screen_one, order_id).locator(".item").count() == 2

    first_item = ticket(screen_one, order_id).locator(".item").first
    first_item.click()
    first_item.wait_for(state="attached")
    screen_one.wait_for_selector(f'.ticket[data-order="{order_id}"] .item.IN_PROGRESS', timeout=3000)
    screen_two.wait_for_selector(f'.ticket[data-order="{order_id}"] .item.IN_PROGRESS', timeout=3000)
    all_day = screen_two.locator("#all-day").inner_text()
    assert "Burger" in all_day and "Fries" in all_day

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screen_one.screenshot(path=str(ARTIFACTS / "kitchen-board-1280x800.png"))
    screen_two.screenshot(path=str(ARTIFACTS / "kitchen-board-1920x1080.png"))

    # Bump the ticket with the keyboard (bump bars send keys); the other screen follows.
    from playwright.sync_api import expect

    screen_one.keyboard.press("b")
    expect(ticket(screen_two, order_id).locator(".item.READY")).to_have_count(2, timeout=3000)
    # Recall it: back to IN_PROGRESS everywhere. (Recall is offered once this screen has
    # the bump's answer, which may come after the other screen has its events.)
    expect(screen_one.locator("#recall")).to_be_enabled(timeout=3000)
    screen_one.keyboard.press("r")
    expect(ticket(screen_two, order_id).locator(".item.IN_PROGRESS")).to_have_count(2, timeout=3000)


def test_concurrent_bump_on_another_screen_shows_the_error(kitchen, browser):
    floor, _, server = kitchen
    waiter, cook = Pos(server, floor.waiter.email), Pos(server, floor.kitchen.email)
    page = open_board(browser, server, floor.kitchen.email)
    order_id = waiter.order(str(floor.session.pk), [("Soup", 1)])
    waiter.confirm(order_id)
    item = ticket(page, order_id).locator(".item").first
    item.wait_for(timeout=5000)
    # Another screen bumps it first, and this screen has not heard yet (its socket is down).
    page.evaluate("kitchenBoard.dropConnection(2500)")
    cook.call("POST", f"/orders/{order_id}/bump")
    item.click()
    page.wait_for_selector("#toast:not([hidden])", timeout=3000)
    assert "another screen moved it first" in page.locator("#toast").inner_text()
    # Nothing was changed by the stale tap: the item is still READY.
    assert cook.call("GET", f"/orders/{order_id}")["items"][0]["status"] == "READY"


def test_board_is_right_after_the_socket_drops_and_events_commit_meanwhile(kitchen, browser):
    floor, _, server = kitchen
    waiter, cook = Pos(server, floor.waiter.email), Pos(server, floor.kitchen.email)
    page = open_board(browser, server, floor.kitchen.email)
    first = waiter.order(str(floor.session.pk), [("Pasta", 1), ("Salad", 1)])
    waiter.confirm(first)
    ticket(page, first).wait_for(timeout=5000)

    page.evaluate("kitchenBoard.dropConnection(3000)")
    page.wait_for_selector("#connection.offline", timeout=2000)
    assert "stale" in page.evaluate("document.body.className")

    # While the screen is away: a move, a new order, a voided item, an order served away.
    items = cook.call("GET", f"/orders/{first}")["items"]
    cook.call("POST", f"/orders/{first}/items/{items[0]['id']}/status", {"status": "IN_PROGRESS"})
    waiter.call("POST", f"/orders/{first}/items/{items[1]['id']}/status", {"status": "CANCELLED"})
    second = waiter.order(str(floor.session.pk), [("Steak", 1)])
    waiter.confirm(second)
    third = waiter.order(str(floor.session.pk), [("Tea", 1)])
    waiter.confirm(third)
    tea = cook.call("GET", f"/orders/{third}")["items"][0]["id"]
    cook.call("POST", f"/orders/{third}/bump")
    waiter.call("POST", f"/orders/{third}/items/{tea}/status", {"status": "SERVED"})

    page.wait_for_selector("#connection.live", timeout=10000)
    page.wait_for_selector(f'.ticket[data-order="{second}"]', timeout=5000)
    page.wait_for_selector(f'.ticket[data-order="{first}"] .item.IN_PROGRESS', timeout=5000)
    page.wait_for_selector(f'.ticket[data-order="{first}"] .item.CANCELLED', timeout=5000)
    assert ticket(page, third).count() == 0
    assert "stale" not in page.evaluate("document.body.className")
    page.screenshot(path=str(ARTIFACTS / "kitchen-board-after-reconnect.png"))


def test_cancelled_item_struck_through_and_other_restaurant_sees_nothing(kitchen, browser):
    floor, other, server = kitchen
    waiter = Pos(server, floor.waiter.email)
    page = open_board(browser, server, floor.kitchen.email)
    other_page = open_board(browser, server, other.kitchen.email)

    order_id = waiter.order(str(floor.session.pk), [("Wings", 1), ("Nachos", 1)])
    waiter.confirm(order_id)
    ticket(page, order_id).wait_for(timeout=5000)
    nachos = next(i for i in waiter.call("GET", f"/orders/{order_id}")["items"] if i["name"] == "Nachos")
    waiter.call("POST", f"/orders/{order_id}/items/{nachos['id']}/status", {"status": "CANCELLED"})

    voided = page.locator(f'.item[data-item="{nachos["id"]}"]')
    page.wait_for_selector(f'.item.CANCELLED[data-item="{nachos["id"]}"]', timeout=3000)
    decoration = voided.locator(".name").evaluate("n => getComputedStyle(n).textDecorationLine")
    assert "line-through" in decoration
    page.screenshot(path=str(ARTIFACTS / "kitchen-board-cancelled-item.png"))

    time.sleep(0.5)
    assert other_page.locator(".ticket").count() == 0
    assert "No open tickets" in other_page.locator("#tickets").inner_text()


def test_waiters_cannot_use_the_kitchen_display(client, db):
    waiter = UserFactory(role=Role.WAITER)
    response = client.post("/kitchen/login/", {"username": waiter.email, "password": "correct-horse-battery"})
    assert response.status_code == 200
    assert "for kitchen staff and managers" in response.content.decode()
    client.force_login(waiter)
    assert client.get("/kitchen/").status_code == 403


def test_kitchen_page_is_served_with_a_strict_content_security_policy(client, db):
    cook = UserFactory(role=Role.KITCHEN)
    client.force_login(cook)
    response = client.get("/kitchen/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    html = response.content.decode()
    assert "http://" not in html.replace("http://testserver", "") and "https://" not in html
