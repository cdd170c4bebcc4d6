"""The kitchen board read from 2–3 m on a wall screen (issue 12): measured in real Chromium.

Screenshots land in docs/ (the README shows them).
"""

import pytest

from ._kitchen_support import DOCS, TABLET, WALL, Pos, browser, kitchen, open_board, ticket  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True)]

MIN_ITEM_PX = 28
MIN_BADGE_PX = 19
MIN_CONTRAST = 7.0  # WCAG AAA for body text

DISHES = [("Burger", 2), ("Fries", 1), ("Caesar salad", 1), ("Soup of the day", 1), ("Lemonade", 3)]

# Geometry and computed styles, as the browser laid them out.
MEASURE = """() => {
  const luminance = (css) => {
    const [r, g, b] = css.match(/[\\d.]+/g).slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const contrast = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const inView = (r) => r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth;
  const cards = [...document.querySelectorAll('.ticket')];
  const names = [...document.querySelectorAll('.ticket .item .name')];
  const badges = [...document.querySelectorAll('.ticket .item .state')];
  const size = (n) => parseFloat(getComputedStyle(n).fontSize);
  return {
    tickets: cards.length,
    fullyVisible: cards.filter((c) => inView(c.getBoundingClientRect())).length,
    pageScrolls: document.documentElement.scrollHeight > innerHeight,
    itemPx: Math.min(...names.map(size)),
    badgePx: Math.min(...badges.map(size)),
    contrast: Math.min(...names.map((n) =>
      contrast(getComputedStyle(n).color, getComputedStyle(n.closest('.ticket')).backgroundColor))),
    more: document.getElementById('more').hidden ? null : document.getElementById('more').textContent,
  };
}"""


def confirmed_orders(floor, server, count):
    waiter = Pos(server, floor.waiter.email)
    orders = []
    for n in range(count):
        order_id = waiter.order(str(floor.session.pk), [DISHES[n % 5], DISHES[(n + 1) % 5], DISHES[(n + 3) % 5]][: 2 + n % 2])
        waiter.confirm(order_id)
        orders.append(order_id)
    return orders


def wait_for_tickets(page, count):
    page.wait_for_function(f"document.querySelectorAll('.ticket').length >= {count}", timeout=10000)


def test_wall_screen_shows_eight_tickets_in_large_high_contrast_text(kitchen, browser):
    floor, _, server = kitchen
    orders = confirmed_orders(floor, server, 10)
    page = open_board(browser, server, floor.kitchen.email, viewport=WALL)
    wait_for_tickets(page, 10)

    seen = page.evaluate(MEASURE)
    assert seen["fullyVisible"] >= 8, seen
    assert not seen["pageScrolls"], seen
    assert seen["itemPx"] >= MIN_ITEM_PX, seen
    assert seen["badgePx"] >= MIN_BADGE_PX, seen
    assert seen["contrast"] >= MIN_CONTRAST, seen
    # Tickets beyond the screen are announced, not silently lost.
    hidden = seen["tickets"] - seen["fullyVisible"]
    assert seen["more"] == (f"+{hidden} more →" if hidden else None), seen

    # Each ticket names itself: number (the order's short id until orders are numbered),
    # table, and how long it has waited.
    head = ticket(page, orders[0]).locator(".ticket-head").inner_text()
    assert orders[0][:8] in head and "Table " + floor.table.name in head
    assert ":" in ticket(page, orders[0]).locator(".age").inner_text()
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "kitchen-board.png"))


def test_tablet_screen_is_legible_too(kitchen, browser):
    floor, _, server = kitchen
    confirmed_orders(floor, server, 6)
    page = open_board(browser, server, floor.kitchen.email, viewport=TABLET)
    wait_for_tickets(page, 6)
    seen = page.evaluate(MEASURE)
    assert seen["itemPx"] >= MIN_ITEM_PX and seen["fullyVisible"] >= 4 and not seen["pageScrolls"], seen


def test_text_size_is_adjustable_and_remembered_by_the_screen(kitchen, browser):
    floor, _, server = kitchen
    confirmed_orders(floor, server, 1)
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
