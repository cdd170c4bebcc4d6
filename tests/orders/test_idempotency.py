"""`Idempotency-Key` on the POSTs that create or transition (docs/contract.md, REST)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from orders.models import (
    IdempotencyRecord,
    ItemStatus,
    Order,
    OrderItem,
    OrderStatus,
    Role,
    TableSession,
    TableSessionStatus,
)

from ..conftest import api_client
from ..factories import TableFactory, UserFactory
from ._wire_support import (
    assert_item_json,
    assert_order_json,
    assert_problem,
)

REPLAYED = "Idempotent-Replayed"


def post(client: APIClient, url: str, body: dict | None = None, key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(url, body if body is not None else {}, format="json", **headers)


def snapshot(floor) -> dict:
    """Every row the idempotent endpoints could create or change, with its state."""
    restaurant = floor.restaurant
    return {
        "orders": sorted(
            Order.objects.filter(restaurant=restaurant).values_list(
                "id", "status", "notes", "updated_at", "confirmed_at", "cancel_reason"
            )
        ),
        "items": sorted(
            OrderItem.objects.filter(order__restaurant=restaurant).values_list(
                "id", "status", "qty", "updated_at"
            )
        ),
        "sessions": sorted(
            TableSession.objects.filter(table__restaurant=restaurant).values_list(
                "id", "status", "updated_at", "closed_at"
            )
        ),
    }


@dataclass
class Case:
    """One idempotent endpoint: how to set it up and a body it accepts."""

    role: str
    url: Callable  # (floor) -> url, after setup
    body: dict | None
    status: int
    setup: Callable = lambda floor: None
    other_body: dict | None = None  # same key with this body must be 422


def _confirmed_order(floor):
    floor.the_order = floor.order(status=OrderStatus.CONFIRMED, items=1)
    floor.the_item = floor.the_order.items.get()


def _draft_order(floor):
    floor.the_order = floor.order(status=OrderStatus.DRAFT, items=1)
    floor.the_item = floor.the_order.items.get()


def _free_table(floor):
    floor.free_table = TableFactory(restaurant=floor.restaurant)


CASES = {
    "create-order": Case(
        role=Role.WAITER,
        url=lambda f: "/api/v1/orders",
        body=None,  # filled in from the floor: {"tableSessionId", "notes"}
        status=201,
    ),
    "add-item": Case(
        role=Role.WAITER,
        setup=_draft_order,
        url=lambda f: f"/api/v1/orders/{f.the_order.pk}/items",
        body={"name": "Hamburguesa", "qty": 2, "unitPrice": "15.50"},
        other_body={"name": "Hamburguesa", "qty": 3, "unitPrice": "15.50"},
        status=201,
    ),
    "confirm": Case(
        role=Role.WAITER,
        setup=_draft_order,
        url=lambda f: f"/api/v1/orders/{f.the_order.pk}/confirm",
        body=None,
        other_body={"unexpected": True},
        status=200,
    ),
    "item-status": Case(
        role=Role.KITCHEN,
        setup=_confirmed_order,
        url=lambda f: f"/api/v1/orders/{f.the_order.pk}/items/{f.the_item.pk}/status",
        body={"status": "IN_PROGRESS"},
        other_body={"status": "CANCELLED"},
        status=200,
    ),
    "cancel": Case(
        role=Role.WAITER,
        setup=_confirmed_order,
        url=lambda f: f"/api/v1/orders/{f.the_order.pk}/cancel",
        body={"reason": "Guest left"},
        other_body={"reason": "Changed their mind"},
        status=200,
    ),
    "open-session": Case(
        role=Role.WAITER,
        setup=_free_table,
        url=lambda f: f"/api/v1/tables/{f.free_table.pk}/sessions",
        body={"guests": 3},
        other_body={"guests": 4},
        status=201,
    ),
    "close-session": Case(
        role=Role.WAITER,
        url=lambda f: f"/api/v1/table-sessions/{f.session.pk}/close",
        body=None,
        other_body={"force": True},
        status=200,
    ),
}


def _prepare(floor, name):
    case = CASES[name]
    case.setup(floor)
    body = case.body
    other = case.other_body
    if name == "create-order":
        body = {"tableSessionId": str(floor.session.pk), "notes": "window seat"}
        other = {"tableSessionId": str(floor.session.pk), "notes": "terrace"}
    return case, case.url(floor), body, other


@pytest.mark.parametrize("name", list(CASES))
def test_replay_returns_first_answer_and_changes_nothing(floor, name):
    case, url, body, _ = _prepare(floor, name)
    client = floor.client(case.role)

    first = post(client, url, body, key=f"key-{name}")
    assert first.status_code == case.status, first.content
    assert not first.has_header(REPLAYED)
    after_first = snapshot(floor)
    records = IdempotencyRecord.objects.count()

    for _ in range(2):
        replay = post(client, url, body, key=f"key-{name}")
        assert replay.status_code == case.status, replay.content
        assert replay[REPLAYED] == "true"
        assert replay.json() == first.json()
        assert replay["Content-Type"].startswith("application/json")
        assert snapshot(floor) == after_first
        assert IdempotencyRecord.objects.count() == records


def test_replayed_order_and_item_keep_the_wire_shape(floor):
    client = floor.client(Role.WAITER)
    body = {"tableSessionId": str(floor.session.pk)}
    order = post(client, "/api/v1/orders", body, key="shape-order")
    replay = post(client, "/api/v1/orders", body, key="shape-order")
    assert_order_json(replay.json())
    assert replay.json() == order.json()

    url = f"/api/v1/orders/{order.json()['id']}/items"
    item_body = {"name": "Flan", "qty": 1, "unitPrice": 5.5}
    item = post(client, url, item_body, key="shape-item")
    replay = post(client, url, item_body, key="shape-item")
    assert_item_json(replay.json())
    assert replay.json() == item.json()
    assert replay.json()["unitPrice"] == "5.50"


def test_replay_after_the_state_moved_on_still_returns_the_first_answer(floor):
    """A replay is not a re-execution: it answers as the first time even though running the
    request again now would answer differently."""
    _confirmed_order(floor)
    kitchen = floor.client(Role.KITCHEN)
    url = f"/api/v1/orders/{floor.the_order.pk}/items/{floor.the_item.pk}/status"
    first = post(kitchen, url, {"status": "IN_PROGRESS"}, key="move-1")
    assert first.status_code == 200, first.content
    assert first.json()["status"] == "IN_PROGRESS"

    # Another screen moves the item on.
    moved = post(kitchen, url, {"status": "READY"})
    assert moved.status_code == 200, moved.content

    replay = post(kitchen, url, {"status": "IN_PROGRESS"}, key="move-1")
    assert replay.status_code == 200
    assert replay[REPLAYED] == "true"
    assert replay.json() == first.json()
    floor.the_item.refresh_from_db()
    assert floor.the_item.status == ItemStatus.READY

    # Without the key the same request is executed again: READY -> IN_PROGRESS is a recall.
    again = post(kitchen, url, {"status": "IN_PROGRESS"})
    assert again.status_code == 200
    assert not again.has_header(REPLAYED)


@pytest.mark.parametrize("name", [n for n in CASES])
def test_same_key_with_another_body_is_422_and_changes_nothing(floor, name):
    case, url, body, other = _prepare(floor, name)
    client = floor.client(case.role)
    first = post(client, url, body, key=f"reuse-{name}")
    assert first.status_code == case.status, first.content
    before = snapshot(floor)

    response = post(client, url, other, key=f"reuse-{name}")
    problem = assert_problem(response, 422, "idempotency-key-reused")
    assert problem["detail"]
    assert not response.has_header(REPLAYED) or response[REPLAYED] != "true"
    assert snapshot(floor) == before

    # The original request is still replayed afterwards.
    replay = post(client, url, body, key=f"reuse-{name}")
    assert replay.status_code == case.status
    assert replay.json() == first.json()


def test_same_key_on_another_endpoint_is_422(floor):
    client = floor.client(Role.WAITER)
    order = floor.order(status=OrderStatus.DRAFT, items=1)
    created = post(client, "/api/v1/orders", {"tableSessionId": str(floor.session.pk)}, key="k")
    assert created.status_code == 201
    before = snapshot(floor)
    response = post(client, f"/api/v1/orders/{order.pk}/confirm", None, key="k")
    assert_problem(response, 422, "idempotency-key-reused")
    assert snapshot(floor) == before


def test_body_key_order_does_not_matter(floor):
    client = floor.client(Role.WAITER)
    _draft_order(floor)
    url = f"/api/v1/orders/{floor.the_order.pk}/items"
    first = client.post(
        url, '{"name": "Café", "qty": 1, "unitPrice": "2.00"}',
        content_type="application/json", HTTP_IDEMPOTENCY_KEY="order-of-keys",
    )
    assert first.status_code == 201, first.content
    replay = client.post(
        url, '{"unitPrice": "2.00", "qty": 1, "name": "Café"}',
        content_type="application/json", HTTP_IDEMPOTENCY_KEY="order-of-keys",
    )
    assert replay.status_code == 201
    assert replay[REPLAYED] == "true"
    assert OrderItem.objects.filter(order=floor.the_order).count() == 2


def test_key_is_scoped_to_the_user(floor, other_floor):
    body = {"tableSessionId": str(floor.session.pk)}
    second_waiter = UserFactory(restaurant=floor.restaurant, role=Role.WAITER)
    first = post(floor.client(Role.WAITER), "/api/v1/orders", body, key="shared-key")
    second = post(api_client(second_waiter), "/api/v1/orders", body, key="shared-key")
    manager = post(floor.client(Role.MANAGER), "/api/v1/orders", body, key="shared-key")
    for response in (first, second, manager):
        assert response.status_code == 201, response.content
        assert not response.has_header(REPLAYED)
    assert len({first.json()["id"], second.json()["id"], manager.json()["id"]}) == 3
    assert Order.objects.filter(restaurant=floor.restaurant).count() == 3

    # A user of another restaurant with the same key (and a body naming its own session)
    # is not told anything about the first user's request.
    other = post(
        other_floor.client(Role.WAITER), "/api/v1/orders",
        {"tableSessionId": str(other_floor.session.pk)}, key="shared-key",
    )
    assert other.status_code == 201, other.content
    assert not other.has_header(REPLAYED)
    assert other.json()["restaurantId"] == str(other_floor.restaurant.pk)

    # And the same body as the first user: answered for itself (404: another restaurant's
    # session), never with the first user's stored order.
    probe = post(other_floor.client(Role.MANAGER), "/api/v1/orders", body, key="shared-key")
    assert_problem(probe, 404)
    assert not probe.has_header(REPLAYED)


def test_error_answer_is_replayed(floor):
    client = floor.client(Role.WAITER)
    order = floor.order(status=OrderStatus.DRAFT, items=0)
    url = f"/api/v1/orders/{order.pk}/confirm"

    first = post(client, url, None, key="confirm-empty")
    first_problem = assert_problem(first, 409, "illegal-transition")
    assert "DRAFT" in first_problem["detail"] and "CONFIRMED" in first_problem["detail"]

    # The order becomes confirmable...
    added = post(client, f"/api/v1/orders/{order.pk}/items", {"name": "Agua", "qty": 1, "unitPrice": 1})
    assert added.status_code == 201
    before = snapshot(floor)

    # ...but the retry with the same key gets the stored 409 and does not confirm it.
    replay = post(client, url, None, key="confirm-empty")
    assert_problem(replay, 409, "illegal-transition")
    assert replay[REPLAYED] == "true"
    assert replay.json() == first.json()
    assert snapshot(floor) == before
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT

    # A new key is a new request.
    fresh = post(client, url, None, key="confirm-for-real")
    assert fresh.status_code == 200, fresh.content
    assert fresh.json()["status"] == "CONFIRMED"


def test_validation_and_not_found_answers_are_replayed(floor, other_floor):
    client = floor.client(Role.WAITER)
    order = floor.order(status=OrderStatus.DRAFT, items=0)
    url = f"/api/v1/orders/{order.pk}/items"
    bad = {"name": "Agua", "qty": 0, "unitPrice": "1.00"}
    first = post(client, url, bad, key="bad-qty")
    body = assert_problem(first, 400, "validation-error")
    assert "qty" in body["errors"]
    replay = post(client, url, bad, key="bad-qty")
    assert_problem(replay, 400, "validation-error")
    assert replay[REPLAYED] == "true"
    assert replay.json() == first.json()

    foreign = {"tableSessionId": str(other_floor.session.pk)}
    first = post(client, "/api/v1/orders", foreign, key="foreign")
    assert_problem(first, 404, "not-found")
    replay = post(client, "/api/v1/orders", foreign, key="foreign")
    assert_problem(replay, 404, "not-found")
    assert replay[REPLAYED] == "true"
    assert replay.json() == first.json()
    assert not Order.objects.filter(table_session=other_floor.session).exists()


def test_role_refusal_is_replayed(floor):
    _confirmed_order(floor)
    url = f"/api/v1/orders/{floor.the_order.pk}/items/{floor.the_item.pk}/status"
    waiter = floor.client(Role.WAITER)
    first = post(waiter, url, {"status": "IN_PROGRESS"}, key="waiter-cooks")
    assert_problem(first, 403, "forbidden")
    replay = post(waiter, url, {"status": "IN_PROGRESS"}, key="waiter-cooks")
    assert_problem(replay, 403, "forbidden")
    assert replay[REPLAYED] == "true"
    floor.the_item.refresh_from_db()
    assert floor.the_item.status == ItemStatus.PENDING


def test_requests_without_key_are_not_deduplicated(floor):
    client = floor.client(Role.WAITER)
    body = {"tableSessionId": str(floor.session.pk), "notes": "same"}
    first = post(client, "/api/v1/orders", body)
    second = post(client, "/api/v1/orders", body)
    assert first.status_code == second.status_code == 201
    assert not first.has_header(REPLAYED) and not second.has_header(REPLAYED)
    assert first.json()["id"] != second.json()["id"]
    assert Order.objects.filter(table_session=floor.session).count() == 2
    assert not IdempotencyRecord.objects.exists()

    url = f"/api/v1/orders/{first.json()['id']}/items"
    item = {"name": "Limonada", "qty": 1, "unitPrice": "3.00"}
    assert post(client, url, item).status_code == 201
    assert post(client, url, item).status_code == 201
    assert OrderItem.objects.filter(order_id=first.json()["id"]).count() == 2

    # A transition without a key runs again and meets the new state.
    confirm = f"/api/v1/orders/{first.json()['id']}/confirm"
    assert post(client, confirm).status_code == 200
    assert_problem(post(client, confirm), 409, "illegal-transition")


def test_invalid_key_is_refused_and_changes_nothing(floor):
    client = floor.client(Role.WAITER)
    body = {"tableSessionId": str(floor.session.pk)}
    for key in ("x" * 256, "has space", "ünïcode"):
        response = post(client, "/api/v1/orders", body, key=key)
        assert_problem(response, 400, "validation-error")
    assert not Order.objects.exists()
    ok = post(client, "/api/v1/orders", body, key="x" * 255)
    assert ok.status_code == 201


def test_close_session_replay_after_reopen_does_not_close_the_new_session(floor):
    client = floor.client(Role.WAITER)
    url = f"/api/v1/table-sessions/{floor.session.pk}/close"
    first = post(client, url, None, key="close-1")
    assert first.status_code == 200
    assert first.json()["status"] == "CLOSED"

    reopened = post(client, f"/api/v1/tables/{floor.table.pk}/sessions", {"guests": 2}, key="open-2")
    assert reopened.status_code == 201, reopened.content
    new_id = reopened.json()["id"]

    replay = post(client, url, None, key="close-1")
    assert replay.status_code == 200
    assert replay[REPLAYED] == "true"
    assert TableSession.objects.get(pk=new_id).status == TableSessionStatus.OPEN
    replay_open = post(client, f"/api/v1/tables/{floor.table.pk}/sessions", {"guests": 2}, key="open-2")
    assert replay_open.status_code == 201
    assert replay_open.json()["id"] == new_id
    assert TableSession.objects.filter(table=floor.table).count() == 2


def test_a_key_past_its_lifetime_runs_as_new_and_is_stored_again(floor, settings):
    client = floor.client(Role.WAITER)
    body = {"tableSessionId": str(floor.session.pk)}
    first = post(client, "/api/v1/orders", body, key="old-key")
    assert first.status_code == 201
    IdempotencyRecord.objects.filter(key="old-key").update(
        created_at=timezone.now() - settings.IDEMPOTENCY_KEY_TTL - timedelta(minutes=1)
    )

    again = post(client, "/api/v1/orders", {**body, "notes": "another body"}, key="old-key")
    assert again.status_code == 201, again.content
    assert not again.has_header(REPLAYED)
    assert again.json()["id"] != first.json()["id"]
    replay = post(client, "/api/v1/orders", {**body, "notes": "another body"}, key="old-key")
    assert replay[REPLAYED] == "true"
    assert replay.json()["id"] == again.json()["id"]
    assert IdempotencyRecord.objects.filter(key="old-key").count() == 1


def test_keys_of_other_requests_past_their_lifetime_are_left_to_the_prune_command(floor, settings):
    # A keyed request does not delete expired keys (a statement on every POST): the
    # `prune_idempotency_keys` command does.
    client = floor.client(Role.WAITER)
    body = {"tableSessionId": str(floor.session.pk)}
    assert post(client, "/api/v1/orders", body, key="stale").status_code == 201
    IdempotencyRecord.objects.update(
        created_at=timezone.now() - settings.IDEMPOTENCY_KEY_TTL - timedelta(minutes=1)
    )
    assert post(client, "/api/v1/orders", body, key="fresh").status_code == 201
    assert IdempotencyRecord.objects.filter(key="stale").exists()
    call_command("prune_idempotency_keys", stdout=io.StringIO())
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]
