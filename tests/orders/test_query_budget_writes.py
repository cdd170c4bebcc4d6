"""Round trips of every other REST write (issue 17): one statement budget per endpoint.

The hot four (create, add item, confirm, item move) are in test_query_budget.py; these are
the rest of the POS, the kitchen screens and the auth endpoints, each measured in its
typical successful case on PostgreSQL and held to that number. Counted as there: every
statement but BEGIN/COMMIT/SAVEPOINT/RELEASE, events and outbox included. An endpoint that
takes an Idempotency-Key is measured with one too: the key's claim and its stored answer,
two statements more, nothing else.
"""

import uuid
from dataclasses import dataclass
from typing import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, get_resolver, resolve
from rest_framework.test import APIClient

from orders.auth_services import _issue
from orders.models import ItemStatus, OrderStatus, Priority, Role
from tests.factories import PASSWORD, OrderItemFactory, TableFactory

from .test_query_budget import _statements, floor  # noqa: F401 (the steady-state floor fixture)

# As in test_query_budget.py: PostgreSQL's statements, skipped on SQLite, required in CI.
BUDGET_MARKS = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@dataclass
class Write:
    """One endpoint's call: `arrange` builds the state it needs and returns its path and body."""

    method: str
    route: str  # its URL's name, in orders.api.urls
    role: str | None  # None: anonymous (the auth endpoints)
    arrange: Callable
    status: int
    budget: int
    idempotent: bool = True


def _draft_item(floor):
    order = floor.order(items=2)
    return order, order.items.order_by("created_at").first()


def _confirmed(floor):
    return floor.order(status=OrderStatus.CONFIRMED, items=2)


def _login(floor):
    return "/api/v1/auth/login", {"email": floor.waiter.email, "password": PASSWORD}


def _refresh(floor):
    return "/api/v1/auth/refresh", {"refreshToken": _issue(floor.waiter).refresh_token}


def _logout(floor):
    return "/api/v1/auth/logout", {"refreshToken": _issue(floor.waiter).refresh_token}


def _open_session(floor):
    return f"/api/v1/tables/{TableFactory(restaurant=floor.restaurant).pk}/sessions", {"guests": 2}


def _close_session(floor):
    return f"/api/v1/table-sessions/{floor.session.pk}/close", {}


def _availability(floor):
    return f"/api/v1/menu-items/{floor.menu_item.pk}/availability", {"available": False}


def _cancel(floor):
    return f"/api/v1/orders/{_confirmed(floor).pk}/cancel", {"reason": "left"}


def _bump(floor):
    order = floor.order(status=OrderStatus.IN_PROGRESS, items=2, item_status=ItemStatus.IN_PROGRESS)
    return f"/api/v1/orders/{order.pk}/bump", {}


def _ready(floor):
    return floor.order(status=OrderStatus.READY, items=2, item_status=ItemStatus.READY)


def _recall(floor):
    return f"/api/v1/orders/{_ready(floor).pk}/recall", {}


def _fire(floor):
    order = floor.order(status=OrderStatus.CONFIRMED, items=1)
    OrderItemFactory(order=order, course=2, fired_at=None)
    return f"/api/v1/orders/{order.pk}/fire", {"course": 2}


def _priority(floor):
    return f"/api/v1/orders/{_confirmed(floor).pk}/priority", {"priority": Priority.RUSH}


def _call(floor):
    return f"/api/v1/orders/{_ready(floor).pk}/call", {}


def _edit_item(floor):
    order, item = _draft_item(floor)
    return f"/api/v1/orders/{order.pk}/items/{item.pk}", {"qty": 3}


def _remove_item(floor):
    order, item = _draft_item(floor)
    return f"/api/v1/orders/{order.pk}/items/{item.pk}", None


def _acknowledge_allergy(floor):
    order = _confirmed(floor)
    item = OrderItemFactory(order=order, allergies=["milk"])
    return f"/api/v1/orders/{order.pk}/items/{item.pk}/acknowledge-allergy", {}


# Budget: the statements of the unkeyed call, as measured. The orders have two items (three
# for the allergy); where the count grows with the items, the comment says by how much.
WRITES = {
    # the user; the refresh token stored with every claim (auth_services._issue)
    "login": Write("post", "auth-login", None, _login, 200, 2, idempotent=False),
    # lock the presented token, is it blacklisted, the user (password fingerprint), blacklist
    # it, and the new token's insert as for login
    "refresh": Write("post", "auth-refresh", None, _refresh, 200, 5, idempotent=False),
    # lock the token, is it blacklisted, blacklist it, the login's other live tokens
    # (end_login)
    "logout": Write("post", "auth-logout", None, _logout, 204, 4, idempotent=False),
    # the table locked (in the caller's restaurant) with whether it has an open session,
    # insert
    "session open": Write("post", "table-session-open", Role.WAITER, _open_session, 201, 2),
    # the session locked (in the caller's restaurant, with its table), its open orders, update
    "session close": Write("post", "table-session-close", Role.WAITER, _close_session, 200, 3),
    # the dish locked (in the caller's restaurant), update, its event, its modifier groups for
    # the answer (one more with options)
    "availability": Write("post", "menu-item-availability", Role.KITCHEN, _availability, 200, 4),
    # lock the order, its live items; per item update, its event, its history entry (3 each);
    # update order, its event, its history entry; the items for the answer
    "cancel": Write("post", "order-cancel", Role.WAITER, _cancel, 200, 12),
    # lock the order, all its items (once: the moves reuse the locks); per item update, its
    # event, its history entry (3 each, IN_PROGRESS -> READY; a PENDING item moves twice);
    # the order's update once READY and its event; the answer holds the items, read already
    "bump": Write("post", "order-bump", Role.KITCHEN, _bump, 200, 10),
    # as bump: READY -> IN_PROGRESS, 3 per item; the order is updated (with its event) by the
    # first move, which takes it back to IN_PROGRESS, and again for the last move's time
    "recall": Write("post", "order-recall", Role.KITCHEN, _recall, 200, 11),
    # lock the order, the course's held items, fire them, the CourseFiring and its event, its
    # history entry, touch order (firing moves no item: no status to re-derive), the items
    # for the answer
    "fire": Write("post", "order-fire", Role.WAITER, _fire, 200, 8),
    # lock the order, update, its event, its history entry, the items for the answer
    "priority": Write("post", "order-priority", Role.KITCHEN, _priority, 200, 5),
    # lock the order (with its session and table, for the event's payload:
    # realtime.kitchen_payloads.pickup_called), the history entry that is the call, the
    # event, the items for the answer
    "call": Write("post", "order-call", Role.KITCHEN, _call, 200, 4),
    # lock the order, the item, the order's lines (its bounds), update, history, touch order
    # (a dish's line also locks the dish when the qty changes)
    "item edit": Write("patch", "order-item-detail", Role.WAITER, _edit_item, 200, 6, idempotent=False),
    # lock the order, the item, history, delete, touch order
    "item remove": Write("delete", "order-item-detail", Role.WAITER, _remove_item, 204, 5, idempotent=False),
    # lock the order, the item, update, its event, its history entry, touch order (no item
    # moves: no status to re-derive); the answer is the item, read already
    "acknowledge allergy": Write(
        "post", "order-item-acknowledge-allergy", Role.KITCHEN, _acknowledge_allergy, 200, 6
    ),
}

_KEY_STATEMENTS = ('INSERT INTO "orders_idempotencyrecord"', 'UPDATE "orders_idempotencyrecord"')
CASES = [
    pytest.param(name, keyed, id=f"{name}{' keyed' if keyed else ''}", marks=BUDGET_MARKS)
    for name, write in WRITES.items()
    for keyed in ([False, True] if write.idempotent else [False])
]


@pytest.mark.parametrize(("name", "keyed"), CASES)
def test_write_stays_within_its_round_trips(floor, name, keyed):
    write = WRITES[name]
    path, body = write.arrange(floor)
    client = floor.client(write.role) if write.role else APIClient()
    headers = {"HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex} if keyed else {}
    with CaptureQueriesContext(connection) as captured:
        response = getattr(client, write.method)(path, body, format="json", **headers)
    assert resolve(path).url_name == write.route
    assert response.status_code == write.status, response.content
    sql = _statements(captured)
    if keyed:  # the key costs its claim and its stored answer, nothing else
        key_sql = [q for q in sql if q.startswith(_KEY_STATEMENTS)]
        assert len(key_sql) == 2, sql
        sql = [q for q in sql if q not in key_sql]
    assert len(sql) <= write.budget, sql


def _kitchen_call(floor, action, *, items, item_status, order_status):
    order = floor.order(status=order_status, items=items, item_status=item_status)
    client = floor.client(Role.KITCHEN)
    with CaptureQueriesContext(connection) as captured:
        response = client.post(f"/api/v1/orders/{order.pk}/{action}", {}, format="json")
    assert response.status_code == 200, response.content
    return _statements(captured)


# (action, the items' status, the order's, the statements of each move: update, its event,
# its history entry)
PER_ITEM = [
    pytest.param(action, item, order, per_item, id=name, marks=BUDGET_MARKS)
    for name, action, item, order, per_item in [
        ("bump", "bump", ItemStatus.IN_PROGRESS, OrderStatus.IN_PROGRESS, 3),
        ("bump pending", "bump", ItemStatus.PENDING, OrderStatus.CONFIRMED, 6),  # two moves each
        ("recall", "recall", ItemStatus.READY, OrderStatus.READY, 3),
    ]
]


@pytest.mark.parametrize(("action", "item_status", "order_status", "per_item"), PER_ITEM)
def test_bump_and_recall_grow_by_the_moves_only(floor, action, item_status, order_status, per_item):
    # The order and its items are locked once, whatever their number: an extra item costs
    # its own writes (a PENDING item moves twice), never a re-lock of the order or its items.
    two, five = (
        _kitchen_call(floor, action, items=n, item_status=item_status, order_status=order_status)
        for n in (2, 5)
    )
    assert len(five) - len(two) <= 3 * per_item, five
    for sql in (two, five):
        locked = [q.split(" FROM ")[1].split()[0] for q in sql if "FOR UPDATE" in q]
        assert locked == ['"orders_order"', '"orders_orderitem"'], sql


# Their budgets are in test_query_budget.py.
HOT = {
    ("post", "order-list"), ("post", "order-item-create"), ("post", "order-confirm"),
    ("post", "order-item-status"),
}


def _write_routes(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            view = getattr(pattern.callback, "view_class", None)
            for method in ("post", "put", "patch", "delete"):
                if view is not None and hasattr(view, method):
                    yield method, pattern.name
        else:
            yield from _write_routes(pattern.url_patterns)


def test_every_rest_write_has_a_budget():
    # A new write endpoint (or method) fails here until it has its budget above.
    api = [p for p in get_resolver().url_patterns if str(p.pattern) == "api/v1/"]
    budgeted = {(w.method, w.route) for w in WRITES.values()}
    assert set(_write_routes(api)) == budgeted | HOT
