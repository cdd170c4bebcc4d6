"""Checks of docs/contract.md's wire shapes, shared by test_auth / test_idempotency / test_curl_flow.

Not a test module (pytest collects test_*.py only).
"""

from __future__ import annotations

import re
import uuid

from rest_framework.test import APIClient

ORDER_KEYS = {
    "id", "restaurantId", "tableSessionId", "status", "notes", "total", "items",
    "createdAt", "updatedAt",
    "priority", "number",  # kitchen operations
    "seenBy",  # screens, proof of delivery (issue 15)
}
# The reference's nine keys: exactly the items of `order.new`.
REFERENCE_ITEM_KEYS = {
    "id", "orderId", "name", "qty", "unitPrice", "status", "notes", "createdAt", "updatedAt",
}
# REST's item JSON adds the kitchen-operation keys (docs/contract.md, "Order items").
ITEM_KEYS = REFERENCE_ITEM_KEYS | {
    "menuItemId", "station", "modifiers", "course", "seat", "firedAt", "allergens",
    "allergies", "allergenConflicts", "allergyAcknowledgedAt", "allergyAcknowledgedBy",
    "voidReason",
}
USER_KEYS = {"id", "email", "name", "role", "restaurantId"}
PROBLEM_KEYS = {"type", "title", "status", "detail"}

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
MONEY = re.compile(r"^-?\d+\.\d{2}$")

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/auth/me"


def assert_uuid(value) -> None:
    assert isinstance(value, str), value
    assert str(uuid.UUID(value)) == value, f"{value!r} is not a canonical UUID string"


def assert_timestamp(value) -> None:
    assert isinstance(value, str) and TIMESTAMP.match(value), f"bad timestamp {value!r}"


def assert_money(value, expected: str | None = None) -> None:
    assert isinstance(value, str) and MONEY.match(value), f"bad money {value!r}"
    if expected is not None:
        assert value == expected


def assert_item_json(item: dict) -> None:
    assert set(item) == ITEM_KEYS, sorted(set(item) ^ ITEM_KEYS)
    assert_uuid(item["id"])
    assert_uuid(item["orderId"])
    assert isinstance(item["qty"], int) and not isinstance(item["qty"], bool)
    assert_money(item["unitPrice"])
    assert_timestamp(item["createdAt"])
    assert_timestamp(item["updatedAt"])
    assert item["notes"] is None or isinstance(item["notes"], str)


def assert_order_json(order: dict) -> None:
    assert set(order) == ORDER_KEYS, sorted(set(order) ^ ORDER_KEYS)
    assert_uuid(order["id"])
    assert_uuid(order["restaurantId"])
    assert_uuid(order["tableSessionId"])
    assert_money(order["total"])
    assert_timestamp(order["createdAt"])
    assert_timestamp(order["updatedAt"])
    assert isinstance(order["items"], list)
    for item in order["items"]:
        assert_item_json(item)
        assert item["orderId"] == order["id"]


def assert_problem(response, status: int, type_slug: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.content)
    assert response["Content-Type"].startswith("application/problem+json"), response["Content-Type"]
    body = response.json()
    assert PROBLEM_KEYS <= set(body), body
    assert body["status"] == status
    if type_slug is not None:
        assert body["type"].endswith(f"/problems/{type_slug}"), body["type"]
    return body


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def login(email: str, password: str, client: APIClient | None = None):
    return (client or APIClient()).post(
        LOGIN, {"email": email, "password": password}, format="json"
    )


