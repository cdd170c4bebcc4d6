"""Issue 11, item 7: quantities, prices, line counts and totals are bounded at the write.

The attack as reproduced: a waiter adds 11 lines of 999 × 999999.99 to one order; the total
overflowed the 12 digits every renderer of it uses, so `GET /orders/{id}`, the restaurant's
`GET /orders` and confirm answered 500 (confirm after committing). Now the write that would
cross a bound is a 4xx problem and changes nothing, and an order at the bounds renders
everywhere: API detail and list, the kitchen board, the events, the admin change page.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from orders.models import (
    MAX_LINES_PER_ORDER,
    MAX_ORDER_TOTAL,
    MAX_PRICE_DELTA,
    MAX_QTY,
    ModifierGroup,
    ModifierOption,
    Order,
    OrderItem,
    Role,
)
from realtime.models import OutboxEvent

from ._isolation_support import assert_db_unchanged, assert_problem, db_state

BIGGEST_PRICE = "999999.99"  # what unitPrice accepts (8 digits)


def _add(client, order_id, body):
    return client.post(f"/api/v1/orders/{order_id}/items", body, format="json")


def _new_order(floor) -> str:
    response = floor.client().post(
        "/api/v1/orders", {"tableSessionId": str(floor.session.pk)}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _everything_renders(floor, order_id) -> dict:
    waiter = floor.client(Role.WAITER)
    detail = waiter.get(f"/api/v1/orders/{order_id}")
    assert detail.status_code == 200, detail.content
    listed = waiter.get("/api/v1/orders", {"pageSize": 200})
    assert listed.status_code == 200, listed.content
    assert order_id in {o["id"] for o in listed.json()["results"]}
    return detail.json()


def test_eleven_lines_of_the_biggest_price_never_break_a_read(floor):
    """The reproduced attack: every add past the bound is refused, nothing else changes,
    and the order (then confirmed) still renders."""
    waiter = floor.client(Role.WAITER)
    order_id = _new_order(floor)
    line = {"name": "Caviar", "qty": MAX_QTY, "unitPrice": BIGGEST_PRICE}
    answers = []
    for _ in range(11):
        before = db_state()
        response = _add(waiter, order_id, line)
        answers.append(response.status_code)
        if response.status_code != 201:
            body = assert_problem(response, 422)
            assert body["type"].endswith("/order-limit-exceeded"), body
            assert_db_unchanged(before)
    assert 201 not in answers  # 999 × 999999.99 alone is past the order total's bound
    assert _everything_renders(floor, order_id)["total"] == "0.00"

    # A line that fits, then the confirm: answers 200 and the reads still work.
    assert _add(waiter, order_id, {"name": "Water", "qty": 1, "unitPrice": "1.00"}).status_code == 201
    confirmed = waiter.post(f"/api/v1/orders/{order_id}/confirm", {}, format="json")
    assert confirmed.status_code == 200, confirmed.content
    _everything_renders(floor, order_id)


def test_an_order_at_its_bounds_renders_everywhere(floor):
    """MAX_ORDER_TOTAL exactly, with a line at the biggest qty, modifiers at their biggest
    delta: the API, the kitchen board, the events and the admin all show it."""
    waiter = floor.client(Role.WAITER)
    group = ModifierGroup.objects.create(
        menu_item=floor.menu_item, name="Extras", min_select=0, max_select=1
    )
    option = ModifierOption.objects.create(group=group, name="Gold leaf", price_delta=MAX_PRICE_DELTA)
    order_id = _new_order(floor)
    # 999 × (12.50 + 9999.99 + 9999.99), with one menu option and a free-form one.
    first = _add(waiter, order_id, {
        "menuItemId": str(floor.menu_item.pk), "qty": MAX_QTY,
        "modifiers": [{"optionId": str(option.pk)}, {"name": "Truffle", "priceDelta": str(MAX_PRICE_DELTA)}],
    })
    assert first.status_code == 201, first.content
    remaining = MAX_ORDER_TOTAL - MAX_QTY * (floor.menu_item.price + 2 * MAX_PRICE_DELTA)
    # Fill up to the bound exactly: 80 × 999999.99, then the cents left.
    assert _add(waiter, order_id, {"name": "Caviar", "qty": 80, "unitPrice": BIGGEST_PRICE}).status_code == 201
    remaining -= 80 * Decimal(BIGGEST_PRICE)
    assert _add(waiter, order_id, {"name": "Tip", "qty": 1, "unitPrice": str(remaining)}).status_code == 201
    assert _everything_renders(floor, order_id)["total"] == f"{MAX_ORDER_TOTAL}"

    # One cent more is refused, and changes nothing.
    before = db_state()
    refused = _add(waiter, order_id, {"name": "Mint", "qty": 1, "unitPrice": "0.01"})
    assert assert_problem(refused, 422)["type"].endswith("/order-limit-exceeded")
    assert_db_unchanged(before)
    # So is a qty change that would cross it.
    tip = OrderItem.objects.get(order_id=order_id, name="Tip")
    refused = waiter.patch(f"/api/v1/orders/{order_id}/items/{tip.pk}", {"qty": 2}, format="json")
    assert_problem(refused, 422)
    assert_db_unchanged(before)

    confirmed = waiter.post(f"/api/v1/orders/{order_id}/confirm", {}, format="json")
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["total"] == f"{MAX_ORDER_TOTAL}"
    detail = _everything_renders(floor, order_id)
    assert detail["items"][0]["modifiers"][1] == {
        "name": "Truffle", "priceDelta": f"{MAX_PRICE_DELTA}", "optionId": None,
    }
    board = floor.client(Role.KITCHEN).get("/api/v1/kitchen/board")
    assert board.status_code == 200, board.content
    assert order_id in {t["orderId"] for t in board.json()["tickets"]}
    ticket = floor.client(Role.KITCHEN).get(f"/api/v1/kitchen/tickets/{order_id}")
    assert ticket.status_code == 200, ticket.content

    new = OutboxEvent.objects.get(restaurant=floor.restaurant, name="order.new")
    assert {i["unitPrice"] for i in new.payload["items"]} >= {BIGGEST_PRICE}

    admin = Client()
    admin.force_login(floor.manager)
    page = admin.get(f"/admin/orders/order/{order_id}/change/")
    assert page.status_code == 200
    assert "99999999.99" in page.content.decode().replace(",", "")
    assert admin.get("/admin/orders/order/").status_code == 200


def test_an_order_holds_a_bounded_number_of_lines(floor):
    order = Order.objects.get(pk=_new_order(floor))
    OrderItem.objects.bulk_create(
        OrderItem(order=order, name=f"Line {n}", qty=1, unit_price=Decimal("1.00"))
        for n in range(MAX_LINES_PER_ORDER)
    )
    before = db_state()
    refused = _add(floor.client(), order.pk, {"name": "One more", "qty": 1, "unitPrice": "1.00"})
    assert assert_problem(refused, 422)["type"].endswith("/order-limit-exceeded")
    assert_db_unchanged(before)
    assert _everything_renders(floor, str(order.pk))["total"] == f"{MAX_LINES_PER_ORDER}.00"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Huge", "qty": MAX_QTY + 1, "unitPrice": "1.00"},
        {"name": "Huge", "qty": 1, "unitPrice": "1000000.00"},
        {"name": "Huge", "qty": 1, "unitPrice": "1.00",
         "modifiers": [{"name": "x", "priceDelta": "10000.00"}]},
        {"name": "Huge", "qty": 1, "unitPrice": "1.00",
         "modifiers": [{"name": f"m{n}"} for n in range(21)]},
        {"name": "Negative", "qty": 1, "unitPrice": "1.00",
         "modifiers": [{"name": "discount", "priceDelta": "-1.01"}]},
    ],
    ids=["qty", "price", "price-delta", "modifier-count", "below-zero"],
)
def test_each_bound_of_a_line_is_a_400_that_changes_nothing(floor, body):
    order_id = _new_order(floor)
    before = db_state()
    assert_problem(_add(floor.client(), order_id, body), 400)
    assert_db_unchanged(before)
