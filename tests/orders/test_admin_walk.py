"""The manager's walk through the admin in real Chromium, against a live server (the
Procfile's): log in as the demo manager (seed_demo), find the shift's orders (dates not
clipped), open one and see its items, move them with an action, and follow the link to the
kitchen display, where the ticket shows the move.

The order page's screenshot is docs/admin-order.png (shown in the README).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import global_settings
from django.db import connection
from django.core.management import call_command

from orders import services
from orders.models import MenuItem, Order, OrderStatus, TableSession, User

from ..live import ARTIFACTS, WebServer, screenshot_path
from .test_kitchen_page import browser  # noqa: F401  (the Chromium fixture)

pytestmark = [pytest.mark.django_db(transaction=True)]

MANAGER, WAITER, PASSWORD = "manager@restaurante.com", "waiter@restaurante.com", "password123"
SCREENSHOT = screenshot_path("admin-order.png")


def take_order(waiter, session, lines, confirm=True):
    order = services.order_create(actor=waiter, table_session=session)
    for name, qty in lines:
        menu_item = MenuItem.objects.get(restaurant=session.table.restaurant, name=name)
        # A required choice (the burger's doneness) takes its first option, as a waiter would.
        required = [
            {"option_id": group.options.order_by("position", "name").first().pk}
            for group in menu_item.modifier_groups.filter(min_select__gte=1)
        ]
        # One course: the walk moves every item of the order at once.
        services.order_item_add(
            actor=waiter, order=order, menu_item=menu_item, qty=qty, modifiers=required, course=1
        )
    if confirm:
        services.order_confirm(actor=waiter, order=order)
    return order


def order_status(order_id) -> str:
    """Read from a thread of its own: Playwright's sync API runs an event loop in this one,
    where Django refuses database calls."""

    def read():
        try:
            return Order.objects.get(pk=order_id).status
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(read).result()


@pytest.fixture
def demo(settings):
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    call_command("seed_demo", force=True, stdout=open("/dev/null", "w"))
    waiter = User.objects.get(email=WAITER)
    session = TableSession.objects.get(table__restaurant=waiter.restaurant, table__name="1")
    take_order(waiter, session, [("Tacos al pastor", 1)])
    take_order(waiter, session, [("Limonada", 2)], confirm=False)
    order = take_order(waiter, session, [("Hamburguesa", 2), ("Papas fritas", 1), ("Limonada", 2)])
    server = WebServer("admin-walk")
    yield order, server
    server.stop()


def test_manager_runs_a_shift_from_the_admin(demo, browser):  # noqa: F811
    order, server = demo
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(server.base + "/admin/")
    page.fill("#id_username", MANAGER)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_selector("#site-name")
    assert "Demo" in page.inner_text("#site-name")

    # The shift: every order with items, status and total; no column clipped.
    page.click("a[href='/admin/orders/order/']")
    page.wait_for_selector("#result_list")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 3
    listing = page.inner_text("#result_list")
    assert "2 × Hamburguesa" in listing and "Confirmed" in listing and "Draft" in listing
    assert "41.50" in listing  # 2 × 15.50 + 4.50 + 2 × 3.00
    overflow = page.evaluate("""() => {
        const box = document.querySelector('#changelist .results');
        const right = box.getBoundingClientRect().right;
        const cells = [...document.querySelectorAll('#result_list td.field-created')];
        return {scroll: box.scrollWidth - box.clientWidth,
                clipped: cells.filter(td => td.getBoundingClientRect().right > right + 1).length,
                wrapped: cells.filter(td => {  // lines of the date's text
                    const text = document.createRange();
                    text.selectNodeContents(td);
                    return text.getClientRects().length !== 1;
                }).length};
    }""")
    assert overflow == {"scroll": 0, "clipped": 0, "wrapped": 0}, overflow
    page.screenshot(path=str(ARTIFACTS / "admin-orders.png"))

    # One order: its items, read-only, with their statuses.
    page.click(f"#result_list a[href*='{order.pk}']")
    page.wait_for_selector(".inline-group")
    items = page.inner_text(".inline-group")
    for name in ("Hamburguesa", "Papas fritas", "Limonada"):
        assert name in items
    assert items.count("Pending") == 3

    # An action: move its items to IN_PROGRESS (through the service).
    page.click("a.items-link")
    page.wait_for_selector("#result_list")
    page.check("#action-toggle")
    page.select_option("select[name=action]", "move_to_in_progress")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist .success")
    assert "3 item(s) moved to IN_PROGRESS" in page.inner_text(".messagelist")
    assert order_status(order.pk) == OrderStatus.IN_PROGRESS

    page.goto(f"{server.base}/admin/orders/order/{order.pk}/change/")
    assert page.inner_text(".inline-group").count("In progress") == 3
    assert "In progress" in page.inner_text(".field-status")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # The kitchen display, one click away, shows the ticket as the admin left it.
    page.click("a.kitchen-link")
    page.wait_for_url(f"{server.base}/kitchen/")
    ticket = page.locator(f'.ticket[data-order="{order.pk}"]')
    ticket.wait_for(timeout=10000)
    assert ticket.locator(".item.IN_PROGRESS").count() == 3
