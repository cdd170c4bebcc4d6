"""The REST API fuzzed from its own OpenAPI schema (schemathesis), as every role.

In process: schemathesis calls the Django WSGI application directly, against the test
database (PostgreSQL in CI). Each operation gets a fixed, derandomized number of examples per
role. Path ids and body ids are sometimes swapped for real objects of the caller's restaurant
(so that requests reach the services, not only the 404 of a random UUID) and sometimes for
objects of another restaurant (which must stay invisible).

Checks: schemathesis' defaults (no 5xx, documented status codes, content types, headers and
bodies, schema-valid input accepted, schema-invalid input refused, authentication enforced)
and our own: another restaurant's object is never acted upon, and every error is problem
details.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from orders.models import ItemStatus, OrderStatus, Role
from restaurant.problems import PROBLEM_CONTENT_TYPE

from ..conftest import Floor, auth_header
from ..factories import OrderFactory, OrderItemFactory

ANONYMOUS_OPERATIONS = {
    "POST /api/v1/auth/login",
    "POST /api/v1/auth/refresh",
    "POST /api/v1/auth/logout",
}
EXAMPLES_PER_OPERATION_AND_ROLE = 15

CONFIG = schemathesis.Config.from_dict(
    {
        # Generated cases only: the schema's few examples cannot be combined with the ids drawn
        # below (`schema.given`).
        "phases": {"examples": {"enabled": False}},
        "checks": {
            # Schema-valid input may still be refused for reasons a schema cannot express: the
            # state (409), the role (403), an id that does not exist here (404), an
            # Idempotency-Key already used with another body (422), a login throttle (429).
            # What is left, a 400 for schema-valid input, means schema and validation disagree.
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]
            },
        },
    }
)

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), config=CONFIG)


class FuzzFloor(Floor):
    """A restaurant with an order in every status, and another restaurant beside it."""

    def __init__(self, name):
        super().__init__(name)
        self.orders = []
        for status, item_statuses in [
            (OrderStatus.DRAFT, [ItemStatus.PENDING, ItemStatus.PENDING]),
            (OrderStatus.CONFIRMED, [ItemStatus.PENDING, ItemStatus.PENDING]),
            (OrderStatus.IN_PROGRESS, [ItemStatus.IN_PROGRESS, ItemStatus.PENDING]),
            (OrderStatus.READY, [ItemStatus.READY, ItemStatus.CANCELLED]),
            (OrderStatus.SERVED, [ItemStatus.SERVED]),
            (OrderStatus.CANCELLED, [ItemStatus.CANCELLED]),
        ]:
            order = OrderFactory(table_session=self.session, status=status)
            for item_status in item_statuses:
                OrderItemFactory(order=order, status=item_status)
            self.orders.append(order)
        self.items = {order.pk: list(order.items.values_list("pk", flat=True)) for order in self.orders}


@pytest.fixture
def floors(db):
    # The WSGI handler closes "old" database connections around each request; in a test the
    # connection is the test's own transaction. Django's test client disconnects the same.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield FuzzFloor("Fuzz"), FuzzFloor("Elsewhere")
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _point_at(case, floor, data) -> None:
    """Swap the drawn ids for ids of `floor`'s objects."""
    path = case.path_parameters or {}
    order = data.draw(st.sampled_from(floor.orders), label="order")
    if "order_id" in path:
        path["order_id"] = str(order.pk)
    if "item_id" in path:
        path["item_id"] = str(data.draw(st.sampled_from(floor.items[order.pk]), label="item"))
    if "session_id" in path:
        path["session_id"] = str(floor.session.pk)
    if "table_id" in path:
        path["table_id"] = str(floor.table.pk)
    if "menu_item_id" in path:
        path["menu_item_id"] = str(floor.menu_item.pk)
    if isinstance(case.body, dict):
        if "tableSessionId" in case.body:
            case.body["tableSessionId"] = str(floor.session.pk)
        if isinstance(case.body.get("menuItemId"), str):
            case.body["menuItemId"] = str(floor.menu_item.pk)


def _has_ids(case) -> bool:
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return False  # a negative case stays as drawn: swapping ids could make it valid
    body = case.body if isinstance(case.body, dict) else {}
    return bool(case.path_parameters) or "tableSessionId" in body or "menuItemId" in body


def _problem_details(response) -> None:
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.startswith(PROBLEM_CONTENT_TYPE), (response.status_code, content_type)
        body = json.loads(response.content)
        assert {"type", "title", "status", "detail"} <= body.keys(), body
        assert body["status"] == response.status_code


@pytest.mark.parametrize("role", [Role.MANAGER, Role.WAITER, Role.KITCHEN])
@schema.parametrize()
@schema.given(data=st.data())
@settings(
    max_examples=EXAMPLES_PER_OPERATION_AND_ROLE,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema_for_every_role(case, data, floors, role):
    floor, elsewhere = floors
    target = data.draw(st.sampled_from(["ours", "elsewhere", "drawn"]), label="ids") if _has_ids(case) else "drawn"
    if target != "drawn":
        _point_at(case, floor if target == "ours" else elsewhere, data)
    headers = {"Authorization": auth_header(floor.user(role))["HTTP_AUTHORIZATION"]}
    response = case.call_and_validate(headers=headers)
    _problem_details(response)
    if target == "elsewhere":
        # Another restaurant's object: never acted upon, never revealed (no 409 naming its state).
        assert response.status_code in (400, 404, 422), (response.status_code, response.content)


def _api_patterns(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _api_patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


def test_every_api_route_is_in_the_schema_and_only_auth_is_anonymous():
    documented = {
        f"{method.upper()} {path}": operation
        for path, methods in schema.raw_schema["paths"].items()
        for method, operation in methods.items()
    }
    paths = {label.split(" ", 1)[1] for label in documented}
    routes = [p for p in _api_patterns() if p.startswith("api/v1/")]
    assert routes
    for route in routes:
        as_openapi = "/" + route.replace("<uuid:", "{").replace(">", "}")
        assert as_openapi in paths, f"{as_openapi} is routed but not in the schema"
    for label, operation in documented.items():
        if label in ANONYMOUS_OPERATIONS:
            assert not operation.get("security"), label
        else:
            assert operation.get("security"), f"{label} does not declare authentication"
            assert "401" in operation["responses"], label


def test_no_api_operation_answers_without_credentials(db):
    """Every documented operation but login/refresh/logout refuses an anonymous caller (401,
    problem details) before looking at anything else; a session without a restaurant or a
    bad token is refused the same way."""
    client = Client()
    bad_token = {"HTTP_AUTHORIZATION": "Bearer not-a-token"}
    floor = FuzzFloor("Anon")
    order = floor.orders[1]
    ids = {
        "order_id": order.pk, "item_id": floor.items[order.pk][0],
        "session_id": floor.session.pk, "table_id": floor.table.pk,
        "menu_item_id": floor.menu_item.pk,
    }
    for path, methods in schema.raw_schema["paths"].items():
        for method in methods:
            label = f"{method.upper()} {path}"
            if label in ANONYMOUS_OPERATIONS:
                continue
            url = path.format(**ids)
            for extra in ({}, bad_token):
                body = {} if method == "get" else {"data": "{}", "content_type": "application/json"}
                response = getattr(client, method)(url, **body, **extra)
                assert response.status_code == 401, (label, extra, response.status_code)
                assert response["Content-Type"].startswith(PROBLEM_CONTENT_TYPE), label
    # Nothing changed.
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED


@pytest.mark.parametrize(
    "method, path, body, headers, expected",
    [
        # A body that is not UTF-8 with an Idempotency-Key: was a 500 (RawPostDataException).
        ("post", "/api/v1/orders", b"\x7f\r\xfe\x0f", {"HTTP_IDEMPOTENCY_KEY": "k-1"}, 400),
        # A UTC offset PostgreSQL refuses (beyond ±15:59): was a 400 "out of range" from the
        # database; the instant is now normalised to UTC first.
        ("get", "/api/v1/orders?updatedSince=0061-11-29T22%3A24%3A11-18%3A01", None, {}, 200),
        # A digit int() refuses: "²".isdigit() is true. Was a 500 (found reading the pagination
        # while fixing its schema).
        ("get", "/api/v1/orders?pageSize=%C2%B2", None, {}, 400),
    ],
)
def test_what_the_fuzzer_found_stays_fixed(floor, method, path, body, headers, expected):
    client = Client()
    headers = {**auth_header(floor.waiter), **headers}
    if method == "post":
        response = client.generic("POST", path, body, content_type="application/json", **headers)
    else:
        response = client.get(path, **headers)
    assert response.status_code == expected, response.content
