"""Each kitchen-operation rule by role, over REST: allowed, 403, or 409 naming both states.

CONTRACT.md, "Kitchen operations": WAITER and MANAGER add (also after sending) and void;
KITCHEN and MANAGER acknowledge allergies and 86 dishes; everyone fires and prioritises.
Every refusal changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pytest

from orders.models import ItemStatus, OrderStatus, Role

from ..factories import OrderItemFactory
from ._isolation_support import assert_db_unchanged, assert_problem, db_state

M, W, K = Role.MANAGER, Role.WAITER, Role.KITCHEN


@dataclass(frozen=True)
class Action:
    roles: frozenset  # who may
    setup: Callable  # floor -> (method, url, body) in a state where the action is legal
    ok: int = 200


def _held(floor):
    order = floor.order(status=OrderStatus.CONFIRMED)
    OrderItemFactory(order=order, course=2, fired_at=None)
    return "post", f"/api/v1/orders/{order.pk}/fire", {"course": 2}


def _priority(floor):
    order = floor.order(status=OrderStatus.CONFIRMED)
    return "post", f"/api/v1/orders/{order.pk}/priority", {"priority": "RUSH"}


def _allergy(floor):
    order = floor.order(status=OrderStatus.CONFIRMED, items=0)
    item = OrderItemFactory(order=order, allergies=["milk"])
    return "post", f"/api/v1/orders/{order.pk}/items/{item.pk}/acknowledge-allergy", None


def _availability(floor):
    return "post", f"/api/v1/menu-items/{floor.menu_item.pk}/availability", {"available": False}


def _add_on(floor):
    order = floor.order(status=OrderStatus.IN_PROGRESS, item_status=ItemStatus.IN_PROGRESS)
    return "post", f"/api/v1/orders/{order.pk}/items", {"name": "Extra fries", "qty": 1, "unitPrice": "3.00"}


def _void(floor):
    order = floor.order(status=OrderStatus.IN_PROGRESS, item_status=ItemStatus.IN_PROGRESS)
    item = order.items.get()
    return "post", f"/api/v1/orders/{order.pk}/items/{item.pk}/status", {
        "status": "CANCELLED", "reason": "guest changed their mind",
    }


ACTIONS = {
    "fire": Action(frozenset({M, W, K}), _held),
    "priority": Action(frozenset({M, W, K}), _priority),
    "acknowledge-allergy": Action(frozenset({M, K}), _allergy),
    "availability": Action(frozenset({M, K}), _availability),
    "add-on": Action(frozenset({M, W}), _add_on, ok=201),
    "void": Action(frozenset({M, W}), _void),
}


def _send(client, method, url, body):
    return getattr(client, method)(url, body or {}, format="json")


@pytest.mark.parametrize("role", [M, W, K])
@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_each_action_by_each_role(floor, name, role):
    action = ACTIONS[name]
    method, url, body = action.setup(floor)
    before = db_state()
    response = _send(floor.client(role), method, url, body)
    if role in action.roles:
        assert response.status_code == action.ok, response.content
    else:
        assert assert_problem(response, 403)["type"].endswith("/forbidden")
        assert_db_unchanged(before)


# --- 409: the state does not allow it; the detail names both states ---------------------------


def _fire_draft(floor):
    order = floor.order()
    return ("post", f"/api/v1/orders/{order.pk}/fire", {"course": 1}), ("DRAFT", "CONFIRMED")


def _fire_nothing_held(floor):
    order = floor.order(status=OrderStatus.CONFIRMED)
    return ("post", f"/api/v1/orders/{order.pk}/fire", {"course": 2}), ("Course 2", "held")


def _priority_served(floor):
    order = floor.order(status=OrderStatus.SERVED, item_status=ItemStatus.SERVED)
    return ("post", f"/api/v1/orders/{order.pk}/priority", {"priority": "RUSH"}), ("SERVED", "RUSH")


def _acknowledge_twice(floor):
    call = _allergy(floor)
    assert _send(floor.client(K), *call).status_code == 200
    return call, ("already acknowledged",)


def _add_to_served(floor):
    order = floor.order(status=OrderStatus.SERVED, item_status=ItemStatus.SERVED)
    body = {"name": "Late", "qty": 1, "unitPrice": "1.00"}
    return ("post", f"/api/v1/orders/{order.pk}/items", body), ("SERVED", "CONFIRMED")


def _void_ready(floor):
    order = floor.order(status=OrderStatus.READY, item_status=ItemStatus.READY)
    item = order.items.get()
    url = f"/api/v1/orders/{order.pk}/items/{item.pk}/status"
    return ("post", url, {"status": "CANCELLED", "reason": "x"}), ("READY", "CANCELLED")


def _start_held(floor):
    order = floor.order(status=OrderStatus.CONFIRMED)
    item = OrderItemFactory(order=order, course=2, fired_at=None)
    url = f"/api/v1/orders/{order.pk}/items/{item.pk}/status"
    return ("post", url, {"status": "IN_PROGRESS"}), ("PENDING", "IN_PROGRESS", "course 2")


def _start_unacknowledged(floor):
    order = floor.order(status=OrderStatus.CONFIRMED, items=0)
    item = OrderItemFactory(order=order, allergies=["peanuts"])
    url = f"/api/v1/orders/{order.pk}/items/{item.pk}/status"
    return ("post", url, {"status": "IN_PROGRESS"}), ("PENDING", "IN_PROGRESS", "peanuts")


def _add_86d(floor):
    floor.menu_item.available = False
    floor.menu_item.save()
    order = floor.order()
    body = {"menuItemId": str(floor.menu_item.pk), "qty": 1}
    return ("post", f"/api/v1/orders/{order.pk}/items", body), ("86",)


def _add_more_than_left(floor):
    floor.menu_item.remaining = 2
    floor.menu_item.save()
    order = floor.order()
    body = {"menuItemId": str(floor.menu_item.pk), "qty": 3}
    return ("post", f"/api/v1/orders/{order.pk}/items", body), ("Only 2", "3 asked")


CONFLICTS = {
    "fire-draft": (_fire_draft, M, "conflict"),
    "fire-nothing-held": (_fire_nothing_held, K, "conflict"),
    "priority-served": (_priority_served, W, "conflict"),
    "acknowledge-twice": (_acknowledge_twice, K, "conflict"),
    "add-to-served": (_add_to_served, W, "conflict"),
    "void-ready": (_void_ready, W, "illegal-transition"),
    "start-held": (_start_held, K, "course-held"),
    "start-unacknowledged": (_start_unacknowledged, K, "allergy-unacknowledged"),
    "add-86d": (_add_86d, W, "item-unavailable"),
    "add-more-than-left": (_add_more_than_left, W, "item-unavailable"),
}


@pytest.mark.parametrize("name", sorted(CONFLICTS))
def test_each_conflict_is_409_naming_the_states_and_changes_nothing(floor, name):
    setup, role, slug = CONFLICTS[name]
    call, named = setup(floor)
    before = db_state()
    body = assert_problem(_send(floor.client(role), *call), 409)
    assert body["type"].endswith(f"/{slug}"), body
    for word in named:
        assert word in body["detail"], (word, body["detail"])
    assert_db_unchanged(before)
