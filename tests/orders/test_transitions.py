"""State machine of orders and items, exercised through the REST API, table by table.

The expected tables are written out here on purpose (not computed from
`orders.services.ITEM_TRANSITIONS`): a wrong table in the application must fail these tests.
"""

import pytest

from orders.models import ItemStatus, Order, OrderItem, OrderStatus, Role
from tests.factories import OrderFactory, OrderItemFactory

PENDING, IN_PROGRESS, READY, SERVED, CANCELLED = (
    "PENDING", "IN_PROGRESS", "READY", "SERVED", "CANCELLED",
)
ITEM_STATUSES = [PENDING, IN_PROGRESS, READY, SERVED, CANCELLED]
MANAGER, WAITER, KITCHEN = "MANAGER", "WAITER", "KITCHEN"
ROLES = [MANAGER, WAITER, KITCHEN]

KITCHEN_ROLES = frozenset({KITCHEN, MANAGER})
FLOOR_ROLES = frozenset({WAITER, MANAGER})

# (from, to) -> roles allowed. Every pair not listed here is illegal (409) for every role.
LEGAL_ITEM_MOVES = {
    (PENDING, IN_PROGRESS): KITCHEN_ROLES,
    (IN_PROGRESS, READY): KITCHEN_ROLES,
    (IN_PROGRESS, PENDING): KITCHEN_ROLES,  # recall
    (READY, IN_PROGRESS): KITCHEN_ROLES,  # recall
    (READY, SERVED): FLOOR_ROLES,
    (PENDING, CANCELLED): FLOOR_ROLES,
    (IN_PROGRESS, CANCELLED): FLOOR_ROLES,
}

# The moved item shares its order with a second item that stays PENDING, so that the order is
# active (CONFIRMED / IN_PROGRESS) whatever state the moved item starts in. Order status that
# docs/contract.md derives for (moved item's status, PENDING):
ORDER_STATUS_WITH_PENDING_SIBLING = {
    PENDING: "CONFIRMED",
    IN_PROGRESS: "IN_PROGRESS",
    READY: "IN_PROGRESS",  # mix of started and not
    SERVED: "IN_PROGRESS",  # mix of started and not
    CANCELLED: "CONFIRMED",  # cancelled items are ignored
}


def _expected(from_status, to_status, role):
    roles = LEGAL_ITEM_MOVES.get((from_status, to_status))
    if roles is None:
        return 409
    return 200 if role in roles else 403


ITEM_MOVE_CASES = [
    pytest.param(f, t, r, _expected(f, t, r), id=f"{f}->{t}-{r}-{_expected(f, t, r)}")
    for f in ITEM_STATUSES
    for t in ITEM_STATUSES
    for r in ROLES
]


# --- helpers ----------------------------------------------------------------------------------


def item_status_url(order, item):
    return f"/api/v1/orders/{order.pk}/items/{item.pk}/status"


def snapshot(order):
    """Everything a refused request must leave untouched."""
    order_row = Order.objects.filter(pk=order.pk).values_list(
        "status", "updated_at", "confirmed_at", "cancel_reason"
    ).get()
    items = list(
        OrderItem.objects.filter(order_id=order.pk)
        .order_by("pk")
        .values_list("pk", "status", "updated_at", "qty", "notes")
    )
    return order_row, items


def assert_problem(response, status, slug):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["type"].endswith("/" + slug), body
    return body


def assert_names_both_states(detail, current, target):
    if current == target:
        assert detail.count(current) >= 2, detail
    else:
        assert current in detail and target in detail, detail


def order_with_item(floor, *, order_status, item_status, sibling_status=PENDING):
    order = OrderFactory(table_session=floor.session, status=order_status)
    item = OrderItemFactory(order=order, status=item_status)
    sibling = OrderItemFactory(order=order, status=sibling_status) if sibling_status else None
    return order, item, sibling


# --- every item move, every role ---------------------------------------------------------------


def test_the_case_table_covers_every_pair_and_role():
    assert len(ITEM_MOVE_CASES) == 5 * 5 * 3
    assert {s.value for s in ItemStatus} == set(ITEM_STATUSES)
    assert {r.value for r in Role} == set(ROLES)
    legal = sum(1 for c in ITEM_MOVE_CASES if c.values[3] == 200)
    forbidden = sum(1 for c in ITEM_MOVE_CASES if c.values[3] == 403)
    assert (legal, forbidden) == (7 * 2, 7)


@pytest.mark.parametrize("from_status,to_status,role,expected", ITEM_MOVE_CASES)
def test_item_move(floor, from_status, to_status, role, expected):
    order, item, sibling = order_with_item(
        floor,
        order_status=ORDER_STATUS_WITH_PENDING_SIBLING[from_status],
        item_status=from_status,
    )
    before = snapshot(order)
    before_order_updated = before[0][1]
    before_item_updated = OrderItem.objects.get(pk=item.pk).updated_at

    response = floor.client(role).post(
        item_status_url(order, item), {"status": to_status}, format="json"
    )

    if expected == 200:
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["id"] == str(item.pk)
        assert body["orderId"] == str(order.pk)
        assert body["status"] == to_status
        item.refresh_from_db()
        assert item.status == to_status
        assert item.updated_at > before_item_updated
        order.refresh_from_db()
        # The order follows its items: (to_status, PENDING) derives like (from, PENDING) did.
        assert order.status == ORDER_STATUS_WITH_PENDING_SIBLING[to_status]
        assert order.updated_at > before_order_updated
        sibling.refresh_from_db()
        assert sibling.status == PENDING
    elif expected == 403:
        body = assert_problem(response, 403, "forbidden")
        assert snapshot(order) == before
    else:
        body = assert_problem(response, 409, "illegal-transition")
        assert_names_both_states(body["detail"], from_status, to_status)
        assert snapshot(order) == before


@pytest.mark.parametrize(
    "from_status,to_status,role",
    [
        pytest.param(f, t, sorted(roles)[0], id=f"{f}->{t}")
        for (f, t), roles in LEGAL_ITEM_MOVES.items()
    ],
)
def test_item_of_a_draft_order_cannot_move(floor, from_status, to_status, role):
    order, item, _ = order_with_item(
        floor, order_status=OrderStatus.DRAFT, item_status=from_status
    )
    before = snapshot(order)
    response = floor.client(role).post(
        item_status_url(order, item), {"status": to_status}, format="json"
    )
    body = assert_problem(response, 409, "illegal-transition")
    assert_names_both_states(body["detail"], from_status, to_status)
    assert snapshot(order) == before


@pytest.mark.parametrize("role", ROLES)
def test_item_of_another_restaurant_is_not_found(floor, other_floor, role):
    order, item, _ = order_with_item(
        other_floor, order_status=OrderStatus.CONFIRMED, item_status=PENDING
    )
    before = snapshot(order)
    response = floor.client(role).post(
        item_status_url(order, item), {"status": IN_PROGRESS}, format="json"
    )
    assert_problem(response, 404, "not-found")
    assert snapshot(order) == before


def test_unknown_item_status_is_a_validation_error(floor):
    order, item, _ = order_with_item(floor, order_status="CONFIRMED", item_status=PENDING)
    before = snapshot(order)
    response = floor.client(KITCHEN).post(
        item_status_url(order, item), {"status": "COOKED"}, format="json"
    )
    assert response.status_code in (400, 422), response.content
    assert "status" in response.json().get("errors", {})
    assert snapshot(order) == before


# --- order-level actions, per role -------------------------------------------------------------

ORDER_ACTIONS = ["create", "add_item", "add_menu_item", "edit_item", "remove_item", "confirm",
                 "cancel"]
ORDER_ACTION_CASES = [
    pytest.param(action, role, 403 if role == KITCHEN else "ok", id=f"{action}-{role}")
    for action in ORDER_ACTIONS
    for role in ROLES
]


def _all_rows():
    return (
        sorted(Order.objects.values_list("pk", "status", "updated_at", "cancel_reason")),
        sorted(OrderItem.objects.values_list("pk", "status", "qty", "updated_at")),
    )


@pytest.mark.parametrize("action,role,expected", ORDER_ACTION_CASES)
def test_order_action_per_role(floor, action, role, expected):
    client = floor.client(role)
    if action == "create":
        setup = None
    elif action in ("add_item", "add_menu_item"):
        setup = OrderFactory(table_session=floor.session, status=OrderStatus.DRAFT)
    elif action in ("edit_item", "remove_item", "confirm"):
        setup = floor.order(status=OrderStatus.DRAFT, items=1)
    else:  # cancel
        setup = floor.order(status=OrderStatus.CONFIRMED, items=1)
    before = _all_rows()

    if action == "create":
        response = client.post(
            "/api/v1/orders", {"tableSessionId": str(floor.session.pk)}, format="json"
        )
    elif action == "add_item":
        response = client.post(
            f"/api/v1/orders/{setup.pk}/items",
            {"name": "Burger", "qty": 2, "unitPrice": "15.50"}, format="json",
        )
    elif action == "add_menu_item":
        response = client.post(
            f"/api/v1/orders/{setup.pk}/items",
            {"menuItemId": str(floor.menu_item.pk), "qty": 1}, format="json",
        )
    elif action == "edit_item":
        item = setup.items.get()
        response = client.patch(
            f"/api/v1/orders/{setup.pk}/items/{item.pk}", {"qty": 3}, format="json"
        )
    elif action == "remove_item":
        item = setup.items.get()
        response = client.delete(f"/api/v1/orders/{setup.pk}/items/{item.pk}")
    elif action == "confirm":
        response = client.post(f"/api/v1/orders/{setup.pk}/confirm")
    else:
        response = client.post(f"/api/v1/orders/{setup.pk}/cancel", {"reason": "x"}, format="json")

    if expected == 403:
        assert_problem(response, 403, "forbidden")
        assert _all_rows() == before
        return

    if action == "create":
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["status"] == "DRAFT"
        assert body["tableSessionId"] == str(floor.session.pk)
        assert Order.objects.filter(pk=body["id"], status="DRAFT").exists()
    elif action == "add_item":
        assert response.status_code == 201, response.content
        assert response.json()["unitPrice"] == "15.50"
        assert list(setup.items.values_list("name", "qty")) == [("Burger", 2)]
    elif action == "add_menu_item":
        assert response.status_code == 201, response.content
        assert list(setup.items.values_list("name", "unit_price")) == [
            (floor.menu_item.name, floor.menu_item.price)
        ]
    elif action == "edit_item":
        assert response.status_code == 200, response.content
        item.refresh_from_db()
        assert item.qty == 3
    elif action == "remove_item":
        assert response.status_code == 204, response.content
        assert not setup.items.exists()
    elif action == "confirm":
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "CONFIRMED"
        setup.refresh_from_db()
        assert setup.status == OrderStatus.CONFIRMED
        assert setup.confirmed_at is not None
    else:
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "CANCELLED"
        setup.refresh_from_db()
        assert setup.status == OrderStatus.CANCELLED
        assert set(setup.items.values_list("status", flat=True)) == {CANCELLED}


# --- order confirm and cancel: illegal moves ---------------------------------------------------

# A non-DRAFT order with items consistent with its status.
ITEMS_FOR_ORDER_STATUS = {
    "CONFIRMED": [PENDING],
    "IN_PROGRESS": [IN_PROGRESS, PENDING],
    "READY": [READY],
    "SERVED": [SERVED],
    "CANCELLED": [CANCELLED],
}


def order_in_status(floor, status):
    order = OrderFactory(table_session=floor.session, status=status)
    for item_status in ITEMS_FOR_ORDER_STATUS.get(status, [PENDING]):
        OrderItemFactory(order=order, status=item_status)
    return order


@pytest.mark.parametrize("role", [WAITER, MANAGER])
@pytest.mark.parametrize("current", ["CONFIRMED", "IN_PROGRESS", "READY", "SERVED", "CANCELLED"])
def test_confirm_from_a_non_draft_status_is_409(floor, current, role):
    order = order_in_status(floor, current)
    before = snapshot(order)
    response = floor.client(role).post(f"/api/v1/orders/{order.pk}/confirm")
    body = assert_problem(response, 409, "illegal-transition")
    assert_names_both_states(body["detail"], current, "CONFIRMED")
    assert snapshot(order) == before


def test_confirm_without_items_is_409(floor):
    order = OrderFactory(table_session=floor.session, status=OrderStatus.DRAFT)
    before = snapshot(order)
    response = floor.client(WAITER).post(f"/api/v1/orders/{order.pk}/confirm")
    body = assert_problem(response, 409, "illegal-transition")
    assert_names_both_states(body["detail"], "DRAFT", "CONFIRMED")
    assert snapshot(order) == before


@pytest.mark.parametrize("current", ["SERVED", "CANCELLED"])
def test_cancel_a_final_order_is_409(floor, current):
    order = order_in_status(floor, current)
    before = snapshot(order)
    response = floor.client(WAITER).post(f"/api/v1/orders/{order.pk}/cancel", {}, format="json")
    body = assert_problem(response, 409, "illegal-transition")
    assert_names_both_states(body["detail"], current, "CANCELLED")
    assert snapshot(order) == before


@pytest.mark.parametrize(
    "order_status,item_statuses",
    [
        ("READY", [READY]),
        ("READY", [READY, SERVED]),
        ("IN_PROGRESS", [READY, PENDING]),
        ("IN_PROGRESS", [IN_PROGRESS, READY, CANCELLED]),
        ("IN_PROGRESS", [SERVED, PENDING]),
    ],
)
def test_cancel_with_a_ready_or_served_item_is_409(floor, order_status, item_statuses):
    order = OrderFactory(table_session=floor.session, status=order_status)
    for s in item_statuses:
        OrderItemFactory(order=order, status=s)
    before = snapshot(order)
    response = floor.client(WAITER).post(f"/api/v1/orders/{order.pk}/cancel", {}, format="json")
    body = assert_problem(response, 409, "illegal-transition")
    assert_names_both_states(body["detail"], order_status, "CANCELLED")
    # All or nothing: the PENDING / IN_PROGRESS items were not cancelled either.
    assert snapshot(order) == before


@pytest.mark.parametrize("current", ["DRAFT", "CONFIRMED", "IN_PROGRESS"])
def test_cancel_an_open_order_cancels_its_open_items(floor, current):
    order = order_in_status(floor, current)
    response = floor.client(WAITER).post(
        f"/api/v1/orders/{order.pk}/cancel", {"reason": "guest left"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "CANCELLED"
    assert {i["status"] for i in body["items"]} == {CANCELLED}
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.cancel_reason == "guest left"
    assert set(order.items.values_list("status", flat=True)) == {CANCELLED}
