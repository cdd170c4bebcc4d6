"""Helpers shared by test_tenancy.py and test_bad_input.py.

Not a test module (pytest collects test_*.py only).
"""

from __future__ import annotations

import json
import re

from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from orders.models import (
    CourseFiring,
    IdempotencyRecord,
    MenuItem,
    ModifierGroup,
    ModifierOption,
    Order,
    OrderItem,
    Restaurant,
    Table,
    TableSession,
    User,
)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_KEYS = {"type", "title", "status", "detail"}
CAMEL_CASE = re.compile(r"^[a-z][a-zA-Z0-9]*$")

# Every row a request could change. Compared in full (status, updated_at, every column),
# which also compares the counts.
_WATCHED = (
    Restaurant, User, Table, TableSession, MenuItem, ModifierGroup, ModifierOption, Order,
    OrderItem, CourseFiring, IdempotencyRecord,
)


def db_state() -> dict[str, list[dict]]:
    """Every row of every watched table, as the database stores it (raw SQL: the ORM would
    make this the slowest part of a test)."""
    state = {}
    with connection.cursor() as cursor:
        for model in _WATCHED:
            table = connection.ops.quote_name(model._meta.db_table)
            pk = connection.ops.quote_name(model._meta.pk.column)
            cursor.execute(f"SELECT * FROM {table} ORDER BY {pk}")
            columns = [c[0] for c in cursor.description]
            state[model.__name__] = [dict(zip(columns, row)) for row in cursor.fetchall()]
    return state


def db_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in _WATCHED}


def assert_db_unchanged(before: dict[str, list[dict]]) -> None:
    after = db_state()
    for name, rows in before.items():
        assert len(after[name]) == len(rows), f"{name}: {len(rows)} rows before, {len(after[name])} after"
        changed = [(old, new) for old, new in zip(rows, after[name]) if old != new]
        assert not changed, f"{name} rows changed: {changed[:3]}"


def assert_problem(response, status: int | None = None) -> dict:
    """RFC 9457 problem details with the given status (any 4xx when None)."""
    code = response.status_code
    content = response.content[:500]
    if status is None:
        assert 400 <= code < 500, (code, content)
    else:
        assert code == status, (code, content)
    content_type = response.get("Content-Type", "")
    assert content_type.startswith(PROBLEM_CONTENT_TYPE), (content_type, content)
    body = json.loads(response.content)
    assert isinstance(body, dict), body
    assert PROBLEM_KEYS <= set(body), body
    assert body["status"] == code, body
    for key in ("type", "title", "detail"):
        assert isinstance(body[key], str) and body[key], (key, body)
    if "errors" in body:
        errors = body["errors"]
        assert isinstance(errors, dict) and errors, body
        for field, messages in errors.items():
            assert CAMEL_CASE.match(field), f"error key {field!r} is not camelCase: {body}"
            assert isinstance(messages, list) and messages, body
            assert all(isinstance(m, str) and m for m in messages), body
    return body


def send(client, method: str, url: str, body=None, *, raw=None, content_type="application/json", **extra):
    """One request; `body` is sent as JSON, `raw` (str or bytes) as is."""
    if raw is not None:
        data = raw
    elif body is not None:
        data = json.dumps(body)
    else:
        data = ""
    return client.generic(method, url, data, content_type=content_type, **extra)


_shared_client: APIClient | None = None


def client_as(user=None) -> APIClient:
    """One APIClient for the whole run, acting as `user` (anonymous when None).

    Each new client builds the middleware chain, and WhiteNoise then indexes every static
    file: reusing one client keeps these parametrized files fast. A 500 comes back as a
    response (not an exception) so that the assertion shows it.
    """
    global _shared_client
    if _shared_client is None:
        _shared_client = APIClient(raise_request_exception=False)
    client = _shared_client
    client.cookies.clear()
    if user is None:
        client.credentials()
    else:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client
