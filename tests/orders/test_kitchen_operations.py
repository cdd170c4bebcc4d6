"""The kitchen page runs a dinner service (issue 14), in real Chromium against a live server:
modifiers, allergies acknowledged, courses held and fired, add-ons on the same ticket, voids
with their reason, rush, 86 across screens, unrouted items, and a distinct sound for each.

Screenshots at 1920×1080 and 1280×800 land in docs/ (the README shows one).
"""

import re

import pytest
from playwright.sync_api import expect

from orders.models import ModifierGroup, ModifierOption

from ..factories import MenuItemFactory
from ..live import ARTIFACTS
from ._kitchen_support import (  # noqa: F401 (fixtures)
    DOCS, MIN_BADGE_PX, MIN_CONTRAST, MIN_DETAIL_PX, MIN_ITEM_PX, TABLET, WALL, Pos, browser,
    kitchen, measure, open_board, ticket,
)

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def service(kitchen):
    """The floor of `kitchen` with a menu a kitchen would have: a burger with a required
    doneness and extras, a soup with milk, a steak as a main, fries with no station."""
    floor, other, server = kitchen
    restaurant = floor.restaurant
    burger = restaurant.menu.get(name="Burger")
    burger.allergens = ["gluten"]
    burger.course = 2
    burger.save()
    doneness = ModifierGroup.objects.create(menu_item=burger, name="Doneness", min_select=1, max_select=1)
    medium = ModifierOption.objects.create(group=doneness, name="Medium")
    extras = ModifierGroup.objects.create(menu_item=burger, name="Extras", min_select=0, max_select=3)
    bacon = ModifierOption.objects.create(group=extras, name="Add bacon", price_delta="1.50")
    menu = {
        "burger": burger,
        "soup": MenuItemFactory(restaurant=restaurant, name="Tomato soup", station="grill", course=1,
                                allergens=["milk", "celery"]),
        "salad": MenuItemFactory(restaurant=restaurant, name="Walnut salad", station="grill", course=1,
                                 allergens=["nuts"]),
        "steak": MenuItemFactory(restaurant=restaurant, name="Steak", station="grill", course=2),
        "lemonade": restaurant.menu.get(name="Lemonade"),
        "medium": medium,
        "bacon": bacon,
    }
    return floor, server, menu


IN_PROGRESS = re.compile(r"\bIN_PROGRESS\b")


def add(menu_item, qty=1, **extra):
    return {"menuItemId": str(menu_item.pk), "qty": qty, **extra}


def item_row(page, item_id):
    return page.locator(f'.item[data-item="{item_id}"]')


def items_by_name(pos, order_id):
    return {i["name"]: i for i in pos.call("GET", f"/orders/{order_id}")["items"]}


def enable_sound(page):
    page.click("#sound")
    expect(page.locator("#sound")).to_have_text("Sound on")


def wait_for_sound(page, cue):
    page.wait_for_function(f"kitchenBoard.soundsPlayed.at(-1) === '{cue}'", timeout=5000)


def test_modifiers_allergy_acknowledged_and_course_held_then_fired(service, browser):
    floor, server, menu = service
    waiter, cook = Pos(server, floor.waiter.email), Pos(server, floor.kitchen.email)
    screen = open_board(browser, server, floor.kitchen.email, viewport=WALL)
    other_screen = open_board(browser, server, floor.kitchen.email, viewport=TABLET)

    order_id = waiter.order(str(floor.session.pk), [
        add(menu["soup"], allergies=["milk"]),
        add(menu["salad"], allergies=["sesame"]),
        add(menu["burger"], 2, seat=2, modifiers=[{"optionId": str(menu["medium"].pk)},
                                                    {"optionId": str(menu["bacon"].pk)}, {"name": "no onion"}]),
    ])
    number = waiter.confirm(order_id)["number"]
    card = ticket(screen, order_id)
    card.wait_for(timeout=5000)
    items = items_by_name(cook, order_id)
    soup, salad, burger = items["Tomato soup"], items["Walnut salad"], items["Burger"]

    # The head: number, table, waiter.
    assert f"#{number}" in card.locator(".ticket-head").inner_text()
    assert floor.waiter.name in card.locator(".waiter").inner_text()
    # Modifiers under the item, seat marked.
    assert item_row(screen, burger["id"]).locator(".modifiers li").all_inner_texts() == ["Medium", "Add bacon", "no onion"]
    assert "S2" in item_row(screen, burger["id"]).inner_text()

    # Allergies flagged; the one the dish contains in red.
    soup_row, salad_row = item_row(screen, soup["id"]), item_row(screen, salad["id"])
    expect(soup_row).to_have_class(re.compile(r"\ballergy-pending\b.*\ballergy-conflict\b"))
    assert soup_row.locator(".allergen.conflict").inner_text() == "milk"
    expect(soup_row.locator(".allergen.conflict")).to_have_css("background-color", "rgb(255, 90, 95)")
    assert salad_row.locator(".allergen.conflict").count() == 0

    # Not acknowledged: the tap to start it is refused, nothing moves.
    soup_row.locator(".name").click()
    expect(screen.locator("#toast")).to_contain_text("acknowledge", timeout=5000)
    assert cook.call("GET", f"/orders/{order_id}")["items"][0]["status"] == "PENDING"
    # The acknowledge tap; every screen sees it, then the item starts.
    soup_row.locator("button.acknowledge").click()
    expect(soup_row.locator(".acknowledged")).to_be_visible(timeout=5000)
    expect(item_row(other_screen, soup["id"]).locator(".acknowledged")).to_be_visible(timeout=5000)
    assert items_by_name(cook, order_id)["Tomato soup"]["allergyAcknowledgedBy"] == str(floor.kitchen.pk)
    soup_row.locator(".name").click()
    expect(item_row(other_screen, soup["id"])).to_have_class(IN_PROGRESS, timeout=5000)
    expect(soup_row).to_have_class(IN_PROGRESS, timeout=5000)
    # The bump bar's A acknowledges the ticket's next allergy.
    screen.keyboard.press("a")
    expect(item_row(other_screen, salad["id"]).locator(".acknowledged")).to_be_visible(timeout=5000)

    # The mains (course 2) are held: greyed, under a heading with a fire tap.
    burger_row = item_row(screen, burger["id"])
    expect(burger_row).to_have_class(re.compile(r"\bheld\b"))
    expect(burger_row).to_have_css("opacity", "0.5")
    heading = card.locator('.course-heading[data-course="2"]')
    assert "held" in heading.inner_text().lower() and heading.locator("button.fire").is_visible()
    burger_row.locator(".name").click()
    expect(screen.locator("#toast")).to_contain_text("held", timeout=5000)
    assert items_by_name(cook, order_id)["Burger"]["status"] == "PENDING"
    # F (bump bar) fires it on this screen; the other screen sees it fired.
    screen.keyboard.press("f")
    expect(item_row(other_screen, burger["id"])).not_to_have_class(re.compile(r"\bheld\b"), timeout=5000)
    expect(other_screen.locator(f'.ticket[data-order="{order_id}"] .course-heading .fire')).to_have_count(0)
    assert items_by_name(cook, order_id)["Burger"]["firedAt"] is not None
    burger_row.locator(".name").click()
    expect(item_row(other_screen, burger["id"])).to_have_class(IN_PROGRESS, timeout=5000)


def test_add_on_void_and_rush_on_the_same_ticket_each_with_its_sound(service, browser):
    floor, server, menu = service
    waiter = Pos(server, floor.waiter.email)
    screen = open_board(browser, server, floor.kitchen.email, viewport=WALL)
    enable_sound(screen)

    order_id = waiter.order(str(floor.session.pk), [add(menu["steak"]), ("Fries", 1)])
    waiter.confirm(order_id)
    card = ticket(screen, order_id)
    card.wait_for(timeout=5000)
    wait_for_sound(screen, "newTicket")

    # An add-on arrives on the same ticket, marked as such.
    added = waiter.call("POST", f"/orders/{order_id}/items", add(menu["lemonade"], 2), expect=201)
    expect(item_row(screen, added["id"])).to_have_count(1, timeout=5000)
    assert screen.locator(".ticket").count() == 1
    expect(card).to_have_class(re.compile(r"\bnew\b"))  # it flashes: it grew
    expect(item_row(screen, added["id"])).to_have_class(re.compile(r"\badd-on\b"))
    assert "ADD-ON" in item_row(screen, added["id"]).inner_text()
    steak = next(i for i in waiter.call("GET", f"/orders/{order_id}")["items"] if i["name"] == "Steak")
    assert "ADD-ON" not in item_row(screen, steak["id"]).inner_text()
    wait_for_sound(screen, "addOn")

    # A void after sending: struck through, with its reason.
    waiter.call("POST", f"/orders/{order_id}/items/{steak['id']}/status",
                {"status": "CANCELLED", "reason": "guest changed their mind"})
    voided = item_row(screen, steak["id"])
    expect(voided.locator(".void-reason")).to_have_text("Void: guest changed their mind", timeout=5000)
    expect(voided.locator(".name")).to_have_css("text-decoration-line", "line-through")
    wait_for_sound(screen, "void")

    # Rush: a second, older-looking order is overtaken; the rush ticket goes first, marked.
    later = waiter.order(str(floor.session.pk), [("Tea", 1)])
    waiter.confirm(later)
    ticket(screen, later).wait_for(timeout=5000)
    waiter.call("POST", f"/orders/{later}/priority", {"priority": "RUSH"})
    expect(ticket(screen, later).locator(".priority")).to_have_text("RUSH", timeout=5000)
    expect(screen.locator(".ticket").first).to_have_attribute("data-order", later)
    wait_for_sound(screen, "rush")
    # One cue per change (the first is the tap that enabled sound), four different sounds.
    assert screen.evaluate("[...kitchenBoard.soundsPlayed]") == [
        "newTicket", "newTicket", "addOn", "void", "newTicket", "rush"]
    cues = screen.evaluate("""async () => {
      const { CUES } = await import('/static/kitchen/sound.js');
      return ['newTicket', 'addOn', 'void', 'rush'].map((name) => JSON.stringify(CUES[name]));
    }""")
    assert len(set(cues)) == 4
    # The kitchen takes the rush back with the bump bar's P.
    screen.keyboard.press("1")
    screen.keyboard.press("p")
    expect(ticket(screen, later).locator(".priority")).to_have_count(0, timeout=5000)


def test_86_on_one_screen_is_seen_on_another_and_stops_the_pos(service, browser):
    floor, server, menu = service
    waiter = Pos(server, floor.waiter.email)
    order_id = waiter.order(str(floor.session.pk), [add(menu["steak"], 2)])
    waiter.confirm(order_id)
    line = open_board(browser, server, floor.kitchen.email, viewport=WALL)
    expo = open_board(browser, server, floor.manager.email, viewport=TABLET)
    ticket(expo, order_id).wait_for(timeout=5000)
    steak_id = str(menu["steak"].pk)

    line.click("#eighty-six-button")
    row = line.locator(f'.dish-row[data-menu-item="{steak_id}"]')
    row.locator("input.until").fill("23:59")
    row.locator("button.toggle-86").click()
    expect(expo.locator(f'#eighty-six li[data-menu-item="{steak_id}"] .badge')).to_have_text(
        re.compile(r"^86 until (23:59|11:59\sPM)$"), timeout=5000)
    expect(ticket(expo, order_id).locator(".badge.eighty-six")).to_contain_text("86 until")
    dish = next(d for d in waiter.call("GET", "/menu-items")["results"] if d["id"] == steak_id)
    assert dish["available"] is False and dish["availableAgainAt"] is not None
    status, problem = server.request("POST", f"/api/v1/orders/{order_id}/items", add(menu["steak"]), waiter.token)
    assert status == 409 and problem["type"].endswith("item-unavailable"), problem

    # Back on with a countdown of 3, set on the other screen; the line sees it count.
    expo.click("#eighty-six-button")
    expo_row = expo.locator(f'.dish-row[data-menu-item="{steak_id}"]')
    expo_row.locator("input.count").fill("3")
    expo_row.locator("button.set-count").click()
    expect(line.locator(f'#eighty-six li[data-menu-item="{steak_id}"] .badge')).to_have_text("3 left", timeout=5000)
    expect(row.locator(".dish-status")).to_have_text("3 left")
    waiter.call("POST", f"/orders/{order_id}/items", add(menu["steak"], 2), expect=201)
    expect(line.locator(f'#eighty-six li[data-menu-item="{steak_id}"] .badge')).to_have_text("1 left", timeout=5000)
    line.screenshot(path=str(ARTIFACTS / "kitchen-86-panel.png"))
    line.click("#menu-panel-close")
    expect(line.locator("#menu-panel")).to_be_hidden()


def test_station_screens_leave_unrouted_items_to_their_own_heading(service, browser):
    floor, server, menu = service
    waiter = Pos(server, floor.waiter.email)
    order_id = waiter.order(str(floor.session.pk), [add(menu["soup"]), ("Fries", 1), add(menu["lemonade"])])
    waiter.confirm(order_id)
    page = open_board(browser, server, floor.kitchen.email, viewport=WALL)
    card = ticket(page, order_id)
    card.wait_for(timeout=5000)
    lines = """card => [...card.querySelectorAll('.items > li')].map(
      (li) => li.classList.contains('item') ? li.querySelector('.name').textContent : '— ' + li.textContent)"""

    # Every station: the free-form fries (no station) under their own heading, last.
    assert card.evaluate(lines) == ["Tomato soup", "Lemonade", "— Unrouted", "Fries"]
    # A station's screen shows its items only; the unrouted ones have a screen of their own.
    page.select_option("#station", "grill")
    expect(card.locator(".item .name")).to_have_text(["Tomato soup"])
    page.select_option("#station", "__unrouted__")
    expect(card.locator(".item .name")).to_have_text(["Fries"])
    assert card.locator(".unrouted-heading").count() == 0
    page.reload()
    page.wait_for_selector("#connection.live", timeout=10000)
    assert page.locator("#station").input_value() == "__unrouted__", "the screen keeps its station"
    expect(ticket(page, order_id).locator(".item .name")).to_have_text(["Fries"])


def test_a_dinner_service_is_legible_on_a_wall_screen_and_a_tablet(service, browser):
    floor, server, menu = service
    waiter, cook = Pos(server, floor.waiter.email), Pos(server, floor.kitchen.email)
    session = str(floor.session.pk)
    mains = waiter.order(session, [
        add(menu["soup"], allergies=["milk"]),
        add(menu["burger"], 2, seat=2, modifiers=[{"optionId": str(menu["medium"].pk)},
                                                    {"optionId": str(menu["bacon"].pk)}, {"name": "no onion"}]),
    ])
    rush = waiter.order(session, [add(menu["steak"], 1, course=1, modifiers=[{"name": "rare"}]), add(menu["lemonade"], 2)])
    changed = waiter.order(session, [add(menu["salad"]), ("Fries", 2)])
    plain = [waiter.order(session, [add(menu["soup"], 2), add(menu["lemonade"])]) for _ in range(3)]
    for order_id in (mains, rush, changed, *plain):
        waiter.confirm(order_id)
    waiter.call("POST", f"/orders/{rush}/priority", {"priority": "RUSH"})
    waiter.call("POST", f"/orders/{changed}/items", add(menu["steak"], 1, course=1), expect=201)
    fries = items_by_name(waiter, changed)["Fries"]
    waiter.call("POST", f"/orders/{changed}/items/{fries['id']}/status", {"status": "CANCELLED", "reason": "kitchen out of oil"})
    cook.call("POST", f"/menu-items/{menu['lemonade'].pk}/availability", {"available": False})
    cook.call("POST", f"/menu-items/{menu['salad'].pk}/availability", {"available": True, "remaining": 4})

    for size, name in ((WALL, "1920x1080"), (TABLET, "1280x800")):
        page = open_board(browser, server, floor.kitchen.email, viewport=size)
        page.wait_for_function("document.querySelectorAll('.ticket').length === 6", timeout=10000)
        expect(page.locator("#eighty-six li")).to_have_count(2)
        seen = measure(page)
        assert seen["itemPx"] >= MIN_ITEM_PX and seen["detailPx"] >= MIN_DETAIL_PX, seen
        assert seen["badgePx"] >= MIN_BADGE_PX and seen["contrast"] >= MIN_CONTRAST, seen
        assert not seen["pageScrolls"], seen
        # Everything at once on the wall screen; on the tablet, what does not fit is announced.
        assert seen["fullyVisible"] == 6 if size == WALL else seen["fullyVisible"] >= 3, seen
        hidden = 6 - seen["fullyVisible"]
        assert seen["more"] == (f"+{hidden} more →" if hidden else None), seen
        expect(page.locator(".ticket").first).to_have_attribute("data-order", rush)
        page.screenshot(path=str(DOCS / f"kitchen-operations-{name}.png"), animations="disabled")
