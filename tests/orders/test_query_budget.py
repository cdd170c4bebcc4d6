"""Round trips of the hot REST paths: what the POS and kitchen screens call all night.

Each ORM query costs ~0.5-1 ms of server CPU on a small machine (BENCHMARKS.md), so these
budgets are the REST flow's throughput. They count every statement, BEGIN/COMMIT excluded
(SQLite does not log them), events and outbox included.
"""

import time
import uuid

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from orders.auth_services import _issue
from orders.models import ItemStatus, OrderStatus, Role
from realtime.models import EventSequence
from restaurant import revocation

# The budgets are PostgreSQL's statements (SQLite numbers events and tickets in two statements
# each, realtime.events and orders.services.ordering): skipped there, required in CI.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def _statements(captured) -> list[str]:
    return [
        q["sql"] for q in captured.captured_queries
        if q["sql"].split()[0].upper() not in {"BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"}
    ]


def _post(client, path, body=None):
    with CaptureQueriesContext(connection) as captured:
        response = client.post(path, body or {}, format="json")
    return response, _statements(captured)


@pytest.fixture
def floor(floor):
    # Steady state: the restaurant's event sequence exists (its first event creates it), the
    # cache has held the users' change marks since before the tokens were issued
    # (restaurant.revocation), and the process has read the restaurant (restaurant.tenants).
    EventSequence.objects.create(restaurant=floor.restaurant, last_id=0)
    cache.set(revocation.SINCE_KEY, time.time() - 3600, timeout=None)
    floor.client = lambda role=Role.WAITER: _logged_in(floor.user(role))
    assert floor.client().get("/api/v1/tables").status_code == 200
    return floor


def _logged_in(user) -> APIClient:
    """A client with the access token login issues: it carries what REST needs of its user."""
    return APIClient(HTTP_AUTHORIZATION=f"Bearer {_issue(user).access_token}")


def test_create_add_confirm_flow_stays_within_its_round_trips(floor):
    waiter = floor.client(Role.WAITER)
    created, create_sql = _post(waiter, "/api/v1/orders", {"tableSessionId": str(floor.session.pk)})
    assert created.status_code == 201, created.content
    order_id = created.json()["id"]
    added, add_sql = _post(
        waiter, f"/api/v1/orders/{order_id}/items", {"name": "Soup", "qty": 2, "unitPrice": "4.50"}
    )
    assert added.status_code == 201, added.content
    confirmed, confirm_sql = _post(waiter, f"/api/v1/orders/{order_id}/confirm")
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["status"] == OrderStatus.CONFIRMED
    assert confirmed.json()["total"] == "9.00"
    # lock the session (in the caller's restaurant), insert, its history
    # entry; a new order has no items to read for the answer (the user and
    # the restaurant come with the token: restaurant.tenancy)
    assert len(create_sql) <= 3, create_sql
    assert not any("orders_orderitem" in q for q in create_sql), create_sql
    # lock the order (in the caller's restaurant), the order's lines (bounds
    # of the order total and line count, and which courses are fired), insert item, its
    # history entry, touch order
    assert len(add_sql) <= 5, add_sql
    # lock the order, its items (read once: for order.new and the answer
    # too), fire the lowest course and take the day's next ticket number (one statement on
    # PostgreSQL), update, both events (the sequence bumped and the outbox rows inserted in
    # one statement), its history entry,
    # nothing else for the answer (no screen can have seen a ticket sent on commit: seenBy
    # reads nothing)
    assert len(confirm_sql) <= 6, confirm_sql
    assert not any("orders_screendelivery" in q for q in confirm_sql), confirm_sql
    assert sum("orders_orderitem" in q.split(" FROM ")[1].split()[0] for q in confirm_sql if q.startswith("SELECT")) == 1, confirm_sql


def test_item_transition_stays_within_its_round_trips(floor):
    order = floor.order(status=OrderStatus.CONFIRMED, items=2)
    item = order.items.order_by("created_at").first()
    kitchen = floor.client(Role.KITCHEN)
    moved, sql = _post(
        kitchen, f"/api/v1/orders/{order.pk}/items/{item.pk}/status", {"status": ItemStatus.IN_PROGRESS}
    )
    assert moved.status_code == 200, moved.content
    assert moved.json()["status"] == ItemStatus.IN_PROGRESS
    # lock order, lock its items (the moved one and its siblings' statuses),
    # update item, its event (sequence and outbox in one statement), its history entry, update
    # order, and the order's own event: CONFIRMED -> IN_PROGRESS
    assert len(sql) <= 7, sql
    assert not any("orders_restaurant" in q.split("FROM")[1].split()[0] for q in sql if " FROM " in q), sql


def test_idempotency_key_costs_two_statements_per_request(floor):
    # POS clients send a key on every POST: the record's insert and its answer, nothing else
    # (expired keys are pruned by a command, not on every keyed request), and no savepoint
    # around the insert (ON CONFLICT DO NOTHING). bench/instructions.py counts the same flow.
    waiter, kitchen = floor.client(Role.WAITER), floor.client(Role.KITCHEN)

    def keyed(client, path, body=None):
        with CaptureQueriesContext(connection) as captured:
            response = client.post(path, body or {}, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
        assert response.status_code in (200, 201), response.content
        claim = [q["sql"] for q in captured.captured_queries if not q["sql"].startswith("SELECT")][:3]
        assert claim[0] == "BEGIN" and claim[1].startswith("INSERT INTO \"orders_idempotencyrecord\""), claim
        return response.json(), _statements(captured)

    order, create_sql = keyed(waiter, "/api/v1/orders", {"tableSessionId": str(floor.session.pk)})
    _, add_sql = keyed(waiter, f"/api/v1/orders/{order['id']}/items", {"name": "Soup", "qty": 2, "unitPrice": "4.50"})
    _, confirm_sql = keyed(waiter, f"/api/v1/orders/{order['id']}/confirm")
    item = floor.order(status=OrderStatus.CONFIRMED, items=2).items.order_by("created_at").first()
    _, move_sql = keyed(kitchen, f"/api/v1/orders/{item.order_id}/items/{item.pk}/status", {"status": ItemStatus.IN_PROGRESS})
    assert len(create_sql) <= 3 + 2, create_sql
    assert len(add_sql) <= 5 + 2, add_sql
    assert len(confirm_sql) <= 6 + 2, confirm_sql
    assert len(move_sql) <= 7 + 2, move_sql
    assert not any(q.startswith("DELETE") for q in create_sql + add_sql + confirm_sql + move_sql)
