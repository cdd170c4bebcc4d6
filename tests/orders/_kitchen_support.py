"""The kitchen display in real Chromium against a live web server (the Procfile's), shared by
the kitchen page tests. Debian's chromium driven by Playwright's Python package (no browser
download).

Not a test module (pytest collects test_*.py only); tests import the fixtures from here.
"""

from __future__ import annotations

import os
import shutil

import pytest
from django.conf import global_settings

from ..conftest import IN_CI, Floor
from ..factories import MenuItemFactory
from ..live import ROOT, WebServer

PASSWORD = "password123"
DOCS = ROOT / "docs"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
WALL = (1920, 1080)
TABLET = (1280, 800)

# Legible from 2-3 m: item names, the smaller text under them (modifiers, allergies, void
# reasons) and the badges; light on dark at WCAG AAA contrast.
MIN_ITEM_PX = 28
MIN_DETAIL_PX = 20
MIN_BADGE_PX = 19
MIN_CONTRAST = 7.0

# Uncaught errors of the board's script in any page of the current test: a test fails on them.
_page_errors: list[str] = []


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        if IN_CI:
            pytest.fail("chromium is not installed (required in CI)", pytrace=False)
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    _page_errors.clear()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    assert not _page_errors, f"the kitchen page threw: {_page_errors}"


@pytest.fixture
def kitchen(settings):
    """Two restaurants with staff who can log in to the server process, and that server."""
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    floor, other = Floor("A"), Floor("B")
    MenuItemFactory(restaurant=floor.restaurant, name="Burger", station="grill", price="15.50")
    MenuItemFactory(restaurant=floor.restaurant, name="Lemonade", station="bar", price="3.00")
    for user in (floor.waiter, floor.kitchen, floor.manager, other.kitchen):
        user.set_password(PASSWORD)
        user.save()
    server = WebServer("kitchen-page")
    yield floor, other, server
    server.stop()


class Pos:
    """A waiter's tablet (or the kitchen's API calls), over REST against the live server."""

    def __init__(self, server, email):
        self.server = server
        self.token = server.login(email, PASSWORD)

    def call(self, method, path, body=None, expect=200):
        status, data = self.server.request(method, "/api/v1" + path, body, self.token)
        assert status == expect, data
        return data

    def order(self, session_id, items):
        """A DRAFT order of free-form items: (name, qty) pairs, or item bodies (dicts)."""
        order = self.call("POST", "/orders", {"tableSessionId": session_id}, expect=201)
        for item in items:
            body = item if isinstance(item, dict) else {"name": item[0], "qty": item[1], "unitPrice": "9.00"}
            self.call("POST", f"/orders/{order['id']}/items", body, expect=201)
        return order["id"]

    def confirm(self, order_id):
        return self.call("POST", f"/orders/{order_id}/confirm")


def open_board(browser, server, email, viewport=TABLET):
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    page.on("pageerror", lambda error: _page_errors.append(str(error)))
    page.goto(server.base + "/kitchen/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#connection.live", timeout=10000)
    return page


def ticket(page, order_id):
    return page.locator(f'.ticket[data-order="{order_id}"]')


# Geometry and computed styles, as the browser laid them out.
_MEASURE = """() => {
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
  const all = (selector) => [...document.querySelectorAll(selector)];
  const smallest = (selector) => {
    const sizes = all(selector).map((n) => parseFloat(getComputedStyle(n).fontSize));
    return sizes.length ? Math.min(...sizes) : null;
  };
  const cards = all('.ticket');
  const more = document.getElementById('more');
  return {
    tickets: cards.length,
    fullyVisible: cards.filter((c) => inView(c.getBoundingClientRect())).length,
    pageScrolls: document.documentElement.scrollHeight > innerHeight,
    itemPx: smallest('.ticket .item .name'),
    detailPx: smallest('.ticket .modifiers li, .ticket .allergy, .ticket .void-reason, .ticket-meta'),
    badgePx: smallest('.ticket .item .state, .ticket .badge, .ticket-meta .priority'),
    contrast: Math.min(...all('.ticket .item:not(.held):not(.CANCELLED) .name').map((n) =>
      contrast(getComputedStyle(n).color, getComputedStyle(n.closest('.ticket')).backgroundColor))),
    more: more.hidden ? null : more.textContent,
  };
}"""


def measure(page) -> dict:
    """What a cook 2-3 m away gets: tickets fully in view, smallest text sizes, contrast."""
    return page.evaluate(_MEASURE)
