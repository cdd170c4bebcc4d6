"""The kitchen board read from 2–3 m on a wall screen (issue 12): measured in real Chromium.

Screenshots land in docs/ (the README shows them).
"""

import pytest

from ..factories import MenuItemFactory
from ._kitchen_support import (  # noqa: F401 (fixtures)
    DOCS, MIN_BADGE_PX, MIN_CONTRAST, MIN_ITEM_PX, TABLET, WALL, Pos, browser, kitchen, measure,
    open_board, ticket,
)

pytestmark = [pytest.mark.django_db(transaction=True)]

DISHES = [("Burger", 2), ("Fries", 1), ("Caesar salad", 1), ("Soup of the day", 1), ("Lemonade", 3)]


@pytest.fixture
def lines(kitchen):
    """An order line for each of DISHES, from the menu (before the browser starts: the ORM
    refuses to run beside Playwright's event loop)."""
    floor = kitchen[0]
    menu = {dish.name: dish for dish in floor.restaurant.menu.all()}
    for name, _ in DISHES:
        if name not in menu:
            menu[name] = MenuItemFactory(restaurant=floor.restaurant, name=name, station="grill")
    return [{"menuItemId": str(menu[name].pk), "qty": qty} for name, qty in DISHES]


def confirmed_orders(floor, server, lines, count):
    """`count` orders of two or three dishes, confirmed."""
    waiter = Pos(server, floor.waiter.email)
    orders = []
    for n in range(count):
        order_id = waiter.order(str(floor.session.pk), [lines[n % 5], lines[(n + 1) % 5], lines[(n + 3) % 5]][: 2 + n % 2])
        orders.append(waiter.confirm(order_id))
    return orders


def wait_for_tickets(page, count):
    page.wait_for_function(f"document.querySelectorAll('.ticket').length >= {count}", timeout=10000)


def test_wall_screen_shows_eight_tickets_in_large_high_contrast_text(kitchen, lines, browser):
    floor, _, server = kitchen
    orders = confirmed_orders(floor, server, lines, 10)
    page = open_board(browser, server, floor.kitchen.email, viewport=WALL)
    wait_for_tickets(page, 10)

    seen = measure(page)
    assert seen["fullyVisible"] >= 8, seen
    assert not seen["pageScrolls"], seen
    assert seen["itemPx"] >= MIN_ITEM_PX, seen
    assert seen["badgePx"] >= MIN_BADGE_PX, seen
    assert seen["contrast"] >= MIN_CONTRAST, seen
    # Tickets beyond the screen are announced, not silently lost.
    hidden = seen["tickets"] - seen["fullyVisible"]
    assert seen["more"] == (f"+{hidden} more →" if hidden else None), seen

    # Each ticket names itself: number, table, waiter, and how long it has waited.
    first = ticket(page, orders[0]["id"])
    head = first.locator(".ticket-head").inner_text()
    assert f"#{orders[0]['number']}" in head and "Table " + floor.table.name in head
    assert first.locator(".waiter").inner_text() == floor.waiter.name
    assert ":" in first.locator(".age").inner_text()
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "kitchen-board.png"))


def test_tablet_screen_is_legible_too(kitchen, lines, browser):
    floor, _, server = kitchen
    confirmed_orders(floor, server, lines, 6)
    page = open_board(browser, server, floor.kitchen.email, viewport=TABLET)
    wait_for_tickets(page, 6)
    seen = measure(page)
    assert seen["itemPx"] >= MIN_ITEM_PX and seen["fullyVisible"] >= 4 and not seen["pageScrolls"], seen


def test_text_size_is_adjustable_and_remembered_by_the_screen(kitchen, lines, browser):
    floor, _, server = kitchen
    confirmed_orders(floor, server, lines, 1)
    page = open_board(browser, server, floor.kitchen.email, viewport=WALL)
    wait_for_tickets(page, 1)
    item_px = "() => parseFloat(getComputedStyle(document.querySelector('.item .name')).fontSize)"
    before = page.evaluate(item_px)

    page.click("#text-larger")
    page.click("#text-larger")
    assert page.evaluate(item_px) == before + 4
    assert page.locator("#text-size").inner_text() == f"{before + 4:g} px"

    page.reload()
    page.wait_for_selector("#connection.live", timeout=10000)
    wait_for_tickets(page, 1)
    assert page.evaluate(item_px) == before + 4, "the size is kept on this screen"

    page.click("#text-smaller")
    assert page.evaluate(item_px) == before + 2
    # Another screen (its own browser profile) keeps its own size.
    other = open_board(browser, server, floor.kitchen.email, viewport=WALL)
    wait_for_tickets(other, 1)
    assert other.evaluate(item_px) == before
