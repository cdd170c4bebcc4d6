"""Round trips of the hot REST paths: what the POS and kitchen screens call all night.

Each ORM query costs ~0.5-1 ms of server CPU on a small machine (BENCHMARKS.md), so these
budgets are the REST flow's throughput. They count every statement, BEGIN/COMMIT excluded
(SQLite does not log them), events and outbox included.
"""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import ItemStatus, OrderStatus, Role
from realtime.models import EventSequence

pytestmark = pytest.mark.django_db(transaction=True)


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
    # Steady state: the restaurant's event sequence exists (its first event creates it).
    EventSequence.objects.create(restaurant=floor.restaurant, last_id=0)
    return floor


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
    # user+restaurant, lock the session (in the caller's restaurant), insert, its history
    # entry; a new order has no items to read for the answer
    assert len(create_sql) <= 4, create_sql
    assert not any("orders_orderitem" in q for q in create_sql), create_sql
    # user+restaurant, lock the order (in the caller's restaurant), the order's lines (bounds
    # of the order total and line count, and which courses are fired), insert item, its
    # history entry, touch order
    assert len(add_sql) <= 6, add_sql
    # user+restaurant, lock the order, its items (read once: for order.new and the answer
    # too), fire the lowest course and take the day's next ticket number (one statement on
    # PostgreSQL), update, both events (the sequence bumped and the outbox rows inserted in
    # one statement), its history entry,
    # nothing else for the answer (no screen can have seen a ticket sent on commit: seenBy
    # reads nothing)
    assert len(confirm_sql) <= 7, confirm_sql
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
    # user+restaurant, lock order, lock its items (the moved one and its siblings' statuses),
    # update item, its event (sequence and outbox in one statement), its history entry, update
    # order, and the order's own event: CONFIRMED -> IN_PROGRESS
    assert len(sql) <= 8, sql
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
    assert len(create_sql) <= 4 + 2, create_sql
    assert len(add_sql) <= 6 + 2, add_sql
    assert len(confirm_sql) <= 7 + 2, confirm_sql
    assert len(move_sql) <= 8 + 2, move_sql
    assert not any(q.startswith("DELETE") for q in create_sql + add_sql + confirm_sql + move_sql)
