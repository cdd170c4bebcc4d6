"""Bad input answers 4xx problem details, never a 500, and changes nothing.

docs/contract.md: errors are RFC 9457 problem details (`application/problem+json`) with
`type/title/status/detail`, plus `errors: {field: [messages]}` (camelCase fields) for
validation; "400/422 for bad input. Never a 500 for bad input."

Each case runs against a restaurant whose rows are all in a state where the *valid* version
of the request would succeed (a DRAFT order, a CONFIRMED order with a PENDING item, a free
table, an idle open session), so "nothing changed" means the bad part was refused, not that
the request was doomed anyway.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field

import pytest
from rest_framework.test import APIClient

from orders.models import OrderStatus, Role, TableSessionStatus

from ..factories import PASSWORD, OrderItemFactory, TableFactory, TableSessionFactory
from ._isolation_support import assert_db_unchanged, assert_problem, client_as, db_state, send


class Ctx:
    def __init__(self, floor):
        self.floor = floor
        draft = floor.order()  # DRAFT, one free-form PENDING item
        self.ids = {
            "session": floor.session.pk,
            "menu_item": floor.menu_item.pk,
            "draft": draft.pk,
            "item": draft.items.get().pk,
            "menu_line": OrderItemFactory(
                order=draft, menu_item=floor.menu_item, name=floor.menu_item.name,
                unit_price=floor.menu_item.price, station=floor.menu_item.station,
            ).pk,
            "free_table": TableFactory(restaurant=floor.restaurant).pk,
            "idle_session": TableSessionFactory(table=TableFactory(restaurant=floor.restaurant)).pk,
            "ghost": uuid.uuid4(),
        }
        active = floor.order(status=OrderStatus.CONFIRMED)  # one PENDING item
        self.ids["active"] = active.pk
        self.ids["active_item"] = active.items.get().pk
        self.ids["manager_email"] = floor.manager.email

    def fill(self, value):
        """Replace "{name}" placeholders (whole strings, or inside paths) with ids."""
        if isinstance(value, str):
            return re.sub(r"\{(\w+)\}", lambda m: str(self.ids[m.group(1)]), value)
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        return value


@pytest.fixture
def ctx(floor):
    return Ctx(floor)


@dataclass(frozen=True)
class Bad:
    method: str
    path: str
    body: object = None  # sent as JSON, placeholders filled
    raw: str | bytes | None = None  # sent as is
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)
    errors: frozenset | None = None  # exact camelCase keys of `errors`, when given
    status: int | None = None  # exact status; any 4xx when None
    anonymous: bool = False
    tag: str | None = None  # groups cases into one test; default: the fields in `errors`


def _bad(method, path, body=None, errors=None, **kwargs):
    if errors is not None:
        errors = frozenset([errors] if isinstance(errors, str) else errors)
        kwargs.setdefault("status", 400)
    return Bad(method, path, body=body, errors=errors, **kwargs)


ORDERS = "/api/v1/orders"
ITEMS = "/api/v1/orders/{draft}/items"
ITEM = "/api/v1/orders/{draft}/items/{item}"
MENU_LINE = "/api/v1/orders/{draft}/items/{menu_line}"
STATUS = "/api/v1/orders/{active}/items/{active_item}/status"
CANCEL = "/api/v1/orders/{draft}/cancel"
CONFIRM = "/api/v1/orders/{draft}/confirm"
SEAT = "/api/v1/tables/{free_table}/sessions"
CLOSE = "/api/v1/table-sessions/{idle_session}/close"
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"

NUL = "a\x00b"
HUGE_NAME = "n" * 10_000
HUGE_NOTES = "x" * 100_000


def order(**changes):
    return {"tableSessionId": "{session}", **changes}


_DROP = object()  # a field to leave out


def line(**changes):
    body = {"name": "Soup", "qty": 1, "unitPrice": "4.50", **changes}
    return {k: v for k, v in body.items() if v is not _DROP}


def login(**changes):
    body = {"email": "{manager_email}", "password": PASSWORD, **changes}
    return {k: v for k, v in body.items() if v is not _DROP}


def P(case: Bad, id: str):
    return id, case


FIELD_CASES = [
    # POST /orders
    # An id is a UUID *string*: DRF's UUIDField would read 123 as UUID(int=123).
    P(_bad("POST", ORDERS, order(tableSessionId=123), "tableSessionId", tag="id-as-number"), "order-session-int"),
    P(_bad("POST", ORDERS, order(tableSessionId=True), "tableSessionId", tag="id-as-number"), "order-session-bool"),
    P(_bad("POST", ORDERS, order(tableSessionId="xyz"), "tableSessionId"), "order-session-not-uuid"),
    P(_bad("POST", ORDERS, order(tableSessionId="{session}\x00"), "tableSessionId"), "order-session-nul"),
    P(_bad("POST", ORDERS, order(tableSessionId=None), "tableSessionId"), "order-session-null"),
    P(_bad("POST", ORDERS, order(tableSessionId=["{session}"]), "tableSessionId"), "order-session-list"),
    P(_bad("POST", ORDERS, {}, "tableSessionId"), "order-session-missing"),
    P(_bad("POST", ORDERS, {"notes": "x"}, "tableSessionId"), "order-only-notes"),
    P(_bad("POST", ORDERS, order(tableSessionId="{ghost}"), status=404), "order-session-unknown"),
    P(_bad("POST", ORDERS, order(notes=HUGE_NOTES), "notes"), "order-notes-100k"),
    P(_bad("POST", ORDERS, order(notes=NUL), "notes"), "order-notes-nul"),
    P(_bad("POST", ORDERS, order(notes={"a": 1}), "notes"), "order-notes-object"),
    P(_bad("POST", ORDERS, raw='{"tableSessionId": "{session}", "notes": "\\ud800"}', errors=frozenset({"notes"}), status=400), "order-notes-lone-surrogate"),
    # POST /orders/{id}/items: qty
    P(_bad("POST", ITEMS, line(qty="abc"), "qty"), "item-qty-string"),
    P(_bad("POST", ITEMS, line(qty=1.5), "qty"), "item-qty-fraction"),
    P(_bad("POST", ITEMS, line(qty=True), "qty"), "item-qty-bool"),
    P(_bad("POST", ITEMS, line(qty=0), "qty"), "item-qty-zero"),
    P(_bad("POST", ITEMS, line(qty=-1), "qty"), "item-qty-negative"),
    P(_bad("POST", ITEMS, line(qty=1000), "qty"), "item-qty-1000"),
    P(_bad("POST", ITEMS, line(qty=100_000), "qty"), "item-qty-100000"),
    P(_bad("POST", ITEMS, line(qty=10**30), "qty"), "item-qty-10e30"),
    P(_bad("POST", ITEMS, line(qty="9" * 5000), "qty"), "item-qty-5000-digits"),
    P(_bad("POST", ITEMS, line(qty=None), "qty"), "item-qty-null"),
    P(_bad("POST", ITEMS, line(qty=[1]), "qty"), "item-qty-list"),
    P(_bad("POST", ITEMS, line(qty=_DROP), "qty"), "item-qty-missing"),
    # unitPrice
    P(_bad("POST", ITEMS, line(unitPrice="x"), "unitPrice"), "item-price-string"),
    P(_bad("POST", ITEMS, line(unitPrice=True), "unitPrice"), "item-price-bool"),
    P(_bad("POST", ITEMS, line(unitPrice=-1), "unitPrice"), "item-price-negative"),
    P(_bad("POST", ITEMS, line(unitPrice="-0.01"), "unitPrice"), "item-price-negative-cent"),
    P(_bad("POST", ITEMS, line(unitPrice="1.234"), "unitPrice"), "item-price-3-decimals"),
    P(_bad("POST", ITEMS, line(unitPrice=1.234), "unitPrice"), "item-price-3-decimals-number"),
    P(_bad("POST", ITEMS, line(unitPrice=1e20), "unitPrice"), "item-price-1e20"),
    P(_bad("POST", ITEMS, line(unitPrice="1e20"), "unitPrice"), "item-price-1e20-string"),
    P(_bad("POST", ITEMS, line(unitPrice="1000000.00"), "unitPrice"), "item-price-too-many-digits"),
    P(_bad("POST", ITEMS, line(unitPrice="9" * 2000), "unitPrice"), "item-price-2000-digits"),
    P(_bad("POST", ITEMS, line(unitPrice="NaN"), "unitPrice"), "item-price-nan-string"),
    P(_bad("POST", ITEMS, line(unitPrice="Infinity"), "unitPrice"), "item-price-infinity-string"),
    P(_bad("POST", ITEMS, raw='{"name": "Soup", "qty": 1, "unitPrice": NaN}', status=400), "item-price-nan-literal"),
    P(_bad("POST", ITEMS, raw='{"name": "Soup", "qty": 1, "unitPrice": -Infinity}', status=400), "item-price-infinity-literal"),
    P(_bad("POST", ITEMS, line(unitPrice=None), "unitPrice"), "item-price-null"),
    P(_bad("POST", ITEMS, line(unitPrice={"amount": 1}), "unitPrice"), "item-price-object"),
    # name / notes
    P(_bad("POST", ITEMS, line(name=HUGE_NAME), "name"), "item-name-10k"),
    P(_bad("POST", ITEMS, line(name=NUL), "name"), "item-name-nul"),
    P(_bad("POST", ITEMS, line(name=""), "name"), "item-name-blank"),
    P(_bad("POST", ITEMS, line(name=["Soup"]), "name"), "item-name-list"),
    P(_bad("POST", ITEMS, raw='{"name": "So\\udfffup", "qty": 1, "unitPrice": "1.00"}', errors=frozenset({"name"}), status=400), "item-name-lone-surrogate"),
    P(_bad("POST", ITEMS, line(notes=HUGE_NOTES), "notes"), "item-notes-100k"),
    P(_bad("POST", ITEMS, line(notes=NUL), "notes"), "item-notes-nul"),
    # menuItemId
    P(_bad("POST", ITEMS, {"menuItemId": "xyz", "qty": 1}, "menuItemId"), "item-menu-not-uuid"),
    P(_bad("POST", ITEMS, {"menuItemId": 123, "qty": 1}, "menuItemId", tag="id-as-number"), "item-menu-int"),
    P(_bad("POST", ITEMS, {"menuItemId": "{ghost}", "qty": 1}, status=404), "item-menu-unknown"),
    P(_bad("POST", ITEMS, {"menuItemId": "{menu_item}", "qty": "abc"}, "qty"), "item-menu-qty-string"),
    P(_bad("POST", ITEMS, {"menuItemId": "{menu_item}", "qty": 1, "name": "Soup"}, "name"), "item-menu-and-name"),
    P(_bad("POST", ITEMS, {"menuItemId": "{menu_item}", "qty": 1, "unitPrice": "1.00"}, "unitPrice"), "item-menu-and-price"),
    P(_bad("POST", ITEMS, line(menuItemId="{menu_item}"), ("name", "unitPrice")), "item-menu-and-both"),
    P(_bad("POST", ITEMS, {"qty": 1}, ("name", "unitPrice")), "item-neither"),
    P(_bad("POST", ITEMS, {"qty": 1, "name": "Soup"}, "unitPrice"), "item-name-without-price"),
    P(_bad("POST", ITEMS, {"qty": 1, "unitPrice": "1.00"}, "name"), "item-price-without-name"),
    P(_bad("POST", ITEMS, {"qty": 1, "menuItemId": None}, ("name", "unitPrice")), "item-menu-null-alone"),
    # PATCH /orders/{id}/items/{itemId}
    P(_bad("PATCH", ITEM, {"qty": "abc"}, "qty"), "patch-qty-string"),
    P(_bad("PATCH", ITEM, {"qty": 1.5}, "qty"), "patch-qty-fraction"),
    P(_bad("PATCH", ITEM, {"qty": True}, "qty"), "patch-qty-bool"),
    P(_bad("PATCH", ITEM, {"qty": 0}, "qty"), "patch-qty-zero"),
    P(_bad("PATCH", ITEM, {"qty": -3}, "qty"), "patch-qty-negative"),
    P(_bad("PATCH", ITEM, {"qty": 100_000}, "qty"), "patch-qty-100000"),
    P(_bad("PATCH", ITEM, {"qty": None}, "qty"), "patch-qty-null"),
    P(_bad("PATCH", ITEM, {"unitPrice": "x"}, "unitPrice"), "patch-price-string"),
    P(_bad("PATCH", ITEM, {"unitPrice": True}, "unitPrice"), "patch-price-bool"),
    P(_bad("PATCH", ITEM, {"unitPrice": -1}, "unitPrice"), "patch-price-negative"),
    P(_bad("PATCH", ITEM, {"unitPrice": "1.234"}, "unitPrice"), "patch-price-3-decimals"),
    P(_bad("PATCH", ITEM, {"unitPrice": 1e20}, "unitPrice"), "patch-price-1e20"),
    P(_bad("PATCH", ITEM, {"name": ""}, "name"), "patch-name-blank"),
    P(_bad("PATCH", ITEM, {"name": HUGE_NAME}, "name"), "patch-name-10k"),
    P(_bad("PATCH", ITEM, {"name": NUL}, "name"), "patch-name-nul"),
    P(_bad("PATCH", ITEM, {"notes": HUGE_NOTES}, "notes"), "patch-notes-100k"),
    P(_bad("PATCH", ITEM, {"notes": NUL}, "notes"), "patch-notes-nul"),
    P(_bad("PATCH", ITEM, {"qty": 2, "unitPrice": "x"}, "unitPrice"), "patch-one-good-one-bad"),
    P(_bad("PATCH", MENU_LINE, {"unitPrice": "1.00"}, "unitPrice"), "patch-menu-line-price"),
    P(_bad("PATCH", MENU_LINE, {"name": "Other"}, "name"), "patch-menu-line-name"),
    # POST .../items/{itemId}/status
    P(_bad("POST", STATUS, {"status": 5}, "status"), "status-int"),
    P(_bad("POST", STATUS, {"status": True}, "status"), "status-bool"),
    P(_bad("POST", STATUS, {"status": "DONE"}, "status"), "status-unknown"),
    P(_bad("POST", STATUS, {"status": "in_progress"}, "status"), "status-lowercase"),
    P(_bad("POST", STATUS, {"status": "In_Progress"}, "status"), "status-mixed-case"),
    P(_bad("POST", STATUS, {"status": " IN_PROGRESS"}, "status"), "status-leading-space"),
    P(_bad("POST", STATUS, {"status": "IN_PROGRESS\x00"}, "status"), "status-nul"),
    P(_bad("POST", STATUS, {"status": ""}, "status"), "status-blank"),
    P(_bad("POST", STATUS, {"status": None}, "status"), "status-null"),
    P(_bad("POST", STATUS, {"status": ["IN_PROGRESS"]}, "status"), "status-list"),
    P(_bad("POST", STATUS, {"status": "x" * 10_000}, "status"), "status-10k"),
    P(_bad("POST", STATUS, {}, "status"), "status-missing"),
    # POST /orders/{id}/cancel
    P(_bad("POST", CANCEL, {"reason": HUGE_NOTES}, "reason"), "cancel-reason-100k"),
    P(_bad("POST", CANCEL, {"reason": NUL}, "reason"), "cancel-reason-nul"),
    P(_bad("POST", CANCEL, {"reason": {"why": "x"}}, "reason"), "cancel-reason-object"),
    # POST /tables/{id}/sessions
    P(_bad("POST", SEAT, {"guests": "abc"}, "guests"), "seat-guests-string"),
    P(_bad("POST", SEAT, {"guests": 1.5}, "guests"), "seat-guests-fraction"),
    P(_bad("POST", SEAT, {"guests": True}, "guests"), "seat-guests-bool"),
    P(_bad("POST", SEAT, {"guests": 0}, "guests"), "seat-guests-zero"),
    P(_bad("POST", SEAT, {"guests": -1}, "guests"), "seat-guests-negative"),
    P(_bad("POST", SEAT, {"guests": 101}, "guests"), "seat-guests-101"),
    P(_bad("POST", SEAT, {"guests": 1e20}, "guests"), "seat-guests-1e20"),
    P(_bad("POST", SEAT, {"guests": 10**30}, "guests"), "seat-guests-10e30"),
    # Auth (anonymous)
    P(_bad("POST", LOGIN, login(email=NUL), "email", anonymous=True), "login-email-nul"),
    P(_bad("POST", LOGIN, login(email="e" * 10_000), "email", anonymous=True), "login-email-10k"),
    P(_bad("POST", LOGIN, login(email=["a@b.c"]), "email", anonymous=True), "login-email-list"),
    P(_bad("POST", LOGIN, login(email=_DROP), "email", anonymous=True), "login-email-missing"),
    P(_bad("POST", LOGIN, raw='{"email": "a\\ud800@example.com", "password": "x"}', errors=frozenset({"email"}), status=400, anonymous=True), "login-email-lone-surrogate"),
    P(_bad("POST", LOGIN, login(password=NUL), "password", anonymous=True), "login-password-nul"),
    P(_bad("POST", LOGIN, login(password="p" * 2000), "password", anonymous=True), "login-password-2000"),
    P(_bad("POST", LOGIN, login(password={"a": 1}), "password", anonymous=True), "login-password-object"),
    P(_bad("POST", LOGIN, login(password=_DROP), "password", anonymous=True), "login-password-missing"),
    P(_bad("POST", REFRESH, {"refreshToken": NUL}, "refreshToken", anonymous=True), "refresh-token-nul"),
    P(_bad("POST", REFRESH, {"refreshToken": "t" * 5000}, "refreshToken", anonymous=True), "refresh-token-5000"),
    P(_bad("POST", REFRESH, {"refreshToken": None}, "refreshToken", anonymous=True), "refresh-token-null"),
    P(_bad("POST", REFRESH, {"refreshToken": ["t"]}, "refreshToken", anonymous=True), "refresh-token-list"),
    P(_bad("POST", REFRESH, {}, "refreshToken", anonymous=True), "refresh-token-missing"),
    P(_bad("POST", REFRESH, {"refreshToken": 123}, status=401, anonymous=True), "refresh-token-int"),
    P(_bad("POST", LOGOUT, {"refreshToken": NUL}, "refreshToken", anonymous=True), "logout-token-nul"),
    P(_bad("POST", LOGOUT, {"refreshToken": "t" * 5000}, "refreshToken", anonymous=True), "logout-token-5000"),
    P(_bad("POST", LOGOUT, {}, "refreshToken", anonymous=True), "logout-token-missing"),
]

# (method, path, anonymous, an empty body is valid for it)
WRITE_ENDPOINTS = [
    ("POST", ORDERS, False, False),
    ("POST", ITEMS, False, False),
    ("PATCH", ITEM, False, True),
    ("POST", STATUS, False, False),
    ("POST", CANCEL, False, True),
    ("POST", SEAT, False, True),
    ("POST", LOGIN, True, False),
    ("POST", REFRESH, True, False),
    ("POST", LOGOUT, True, False),
]

# The brief's malformed bodies, against every write endpoint.
MALFORMED = {
    "truncated": "{bad",
    "empty": "",
    "array": "[]",
    "null": "null",
    "string": '"str"',
    "number": "123",
}
# More oddities, against POST /orders only.
MORE_MALFORMED = {
    "true": "true",
    "trailing-comma": '{"tableSessionId": "{session}",}',
    "single-quotes": "{'tableSessionId': '{session}'}",
    "two-documents": '{"tableSessionId": "{session}"}{}',
    "invalid-utf8": b'{"tableSessionId": "\xff\xfe"}',
    "utf16": '{"tableSessionId": "{session}"}'.encode("utf-16"),
}


def _malformed_cases():
    for method, path, anonymous, empty_ok in WRITE_ENDPOINTS:
        short = path.removeprefix("/api/v1/")
        for name, raw in MALFORMED.items():
            if name == "empty" and empty_ok:
                continue
            yield P(Bad(method, path, raw=raw, status=400, anonymous=anonymous, tag="malformed"), f"{method}-{short}-{name}")
        yield P(
            Bad(method, path, raw='{"a": 1}', content_type="text/plain", status=415, anonymous=anonymous, tag="malformed"),
            f"{method}-{short}-text-plain",
        )
    for name, raw in MORE_MALFORMED.items():
        yield P(Bad("POST", ORDERS, raw=raw, status=400, tag="malformed"), f"POST-orders-{name}")
    for content_type, raw in [
        ("application/x-www-form-urlencoded", "tableSessionId={session}"),
        ("multipart/form-data; boundary=xyz", "--xyz\r\nContent-Disposition: form-data; name=\"tableSessionId\"\r\n\r\n{session}\r\n--xyz--\r\n"),
        ("application/xml", "<order/>"),
    ]:
        yield P(Bad("POST", ORDERS, raw=raw, content_type=content_type, status=415, tag="malformed"), f"POST-orders-{content_type.split(';')[0]}")


# Nesting deep enough to exhaust Python's recursion limit while parsing or camel-casing.
DEEP = {
    "nested-arrays-1000": "[" * 1000 + "]" * 1000,
    "nested-arrays-100000": "[" * 100_000,
    "nested-objects-1000": '{"a":' * 1000 + "1" + "}" * 1000,
}


def _deep_cases():
    for method, path, anonymous, _ in (WRITE_ENDPOINTS[0], WRITE_ENDPOINTS[1], WRITE_ENDPOINTS[6]):
        for name, raw in DEEP.items():
            yield P(Bad(method, path, raw=raw, status=400, anonymous=anonymous, tag="deep-nesting"), f"{path.removeprefix('/api/v1/')}-{name}")


BAD_KEYS = {
    "300-chars": "k" * 300,
    "256-chars": "k" * 256,
    "space": "has space",
    "non-ascii": "clé",
    "empty": "",
    "tab": "tab\tkey",
    "nul": "nul\x00key",
}

# Valid requests, refused only for their Idempotency-Key.
KEYED_REQUESTS = {
    "orders": ("POST", ORDERS, order()),
    "items": ("POST", ITEMS, line()),
    "status": ("POST", STATUS, {"status": "IN_PROGRESS"}),
    "confirm": ("POST", CONFIRM, None),
    "cancel": ("POST", CANCEL, {"reason": "x"}),
    "seat": ("POST", SEAT, {"guests": 2}),
    "close": ("POST", CLOSE, None),
}


def _key_cases():
    for key_name, key in BAD_KEYS.items():
        for req_name, (method, path, body) in KEYED_REQUESTS.items():
            if key_name != "300-chars" and req_name != "orders":
                continue
            yield P(
                Bad(method, path, body=body, headers={"HTTP_IDEMPOTENCY_KEY": key},
                    errors=frozenset({"idempotencyKey"}), status=400, tag="idempotency-key"),
                f"{req_name}-key-{key_name}",
            )


FILTER_CASES = [
    P(_bad("GET", ORDERS + "?status=NOPE", None, "status"), "orders-status-unknown"),
    P(_bad("GET", ORDERS + "?status=draft", None, "status"), "orders-status-lowercase"),
    P(_bad("GET", ORDERS + "?status=DRAFT,NOPE", None, "status"), "orders-status-one-bad"),
    P(_bad("GET", ORDERS + "?status=%00", None, "status"), "orders-status-nul"),
    P(_bad("GET", ORDERS + "?itemStatus=NOPE", None, "itemStatus"), "orders-item-status-unknown"),
    P(_bad("GET", ORDERS + "?updatedSince=yesterday", None, "updatedSince"), "orders-updated-since-word"),
    P(_bad("GET", ORDERS + "?updatedSince=2024-13-45T00:00:00Z", None, "updatedSince"), "orders-updated-since-bad-date"),
    P(_bad("GET", ORDERS + "?tableSessionId=xyz", None, "tableSessionId"), "orders-session-not-uuid"),
    P(_bad("GET", ORDERS + "?tableSessionId=%00", None, "tableSessionId"), "orders-session-nul"),
    P(_bad("GET", ORDERS + "?page=abc", tag="pagination"), "orders-page-word"),
    P(_bad("GET", ORDERS + "?page=0", tag="pagination"), "orders-page-zero"),
    P(_bad("GET", ORDERS + "?page=-1", tag="pagination"), "orders-page-negative"),
    P(_bad("GET", ORDERS + "?page=99999999999999999999", tag="pagination"), "orders-page-huge"),
    P(_bad("GET", ORDERS + "?pageSize=-1", tag="pagination"), "orders-page-size-negative"),
    P(_bad("GET", "/api/v1/table-sessions?status=NOPE", None, "status"), "sessions-status-unknown"),
    P(_bad("GET", "/api/v1/table-sessions?tableId=xyz", None, "tableId"), "sessions-table-not-uuid"),
    P(_bad("GET", "/api/v1/menu-items?station=%00", None, "station"), "menu-station-nul"),
    P(_bad("GET", "/api/v1/menu-items?station=" + "s" * 51, None, "station"), "menu-station-too-long"),
]

CASES = [*FIELD_CASES, *_malformed_cases(), *_deep_cases(), *_key_cases(), *FILTER_CASES]


def _group(case: Bad) -> str:
    """One test per endpoint and field (or kind of badness), looping over its cases: one
    test per case would make this file too slow for the suite's budget."""
    tag = case.tag or ("filters" if case.method == "GET" else None)
    tag = tag or (",".join(sorted(case.errors)) if case.errors else "other")
    return f"{case.method} {case.path.split('?')[0]} [{tag}]"


GROUPS: dict[str, list[tuple[str, Bad]]] = {}
for _id, _case in CASES:
    GROUPS.setdefault(_group(_case), []).append((_id, _case))
assert len({i for i, _ in CASES}) == len(CASES), "case ids must be unique"


def _run(ctx, case: Bad):
    client = client_as(None if case.anonymous else ctx.floor.manager)
    raw = case.raw
    if isinstance(raw, str) and "{session}" in raw:
        raw = ctx.fill(raw)
    return send(
        client, case.method, ctx.fill(case.path), ctx.fill(case.body), raw=raw,
        content_type=case.content_type, **case.headers,
    )


def _check(case: Bad, response, before) -> None:
    assert response.status_code < 500, (response.status_code, response.content[:300])
    body = assert_problem(response, case.status)
    if body["type"].endswith("/validation-error"):
        assert "errors" in body, f"a validation error names its fields: {body}"
    if case.errors is not None:
        assert body["type"].endswith("/validation-error"), body
        assert set(body["errors"]) == set(case.errors), body
    assert_db_unchanged(before)


@pytest.mark.parametrize("group", list(GROUPS))
def test_bad_input_is_a_4xx_problem_and_changes_nothing(ctx, group):
    """4xx problem details (never 5xx), camelCase `errors` for validation, nothing changed."""
    failures = []
    for case_id, case in GROUPS[group]:
        before = db_state()
        try:
            _check(case, _run(ctx, case), before)
        except AssertionError as exc:
            failures.append(f"[{case_id}] {str(exc)[:600]}")
    assert not failures, f"{len(failures)} of {len(GROUPS[group])} cases failed:\n" + "\n".join(failures)


# --- Ids in the path that are not UUIDs ------------------------------------------------------------

PATH_ROUTES = [
    ("POST", "/api/v1/tables/{bad}/sessions"),
    ("GET", "/api/v1/table-sessions/{bad}"),
    ("POST", "/api/v1/table-sessions/{bad}/close"),
    ("GET", "/api/v1/orders/{bad}"),
    ("POST", "/api/v1/orders/{bad}/confirm"),
    ("POST", "/api/v1/orders/{bad}/cancel"),
    ("POST", "/api/v1/orders/{bad}/items"),
    ("GET", "/api/v1/orders/{draft}/items/{bad}"),
    ("PATCH", "/api/v1/orders/{draft}/items/{bad}"),
    ("DELETE", "/api/v1/orders/{draft}/items/{bad}"),
    ("GET", "/api/v1/orders/{bad}/items/{item}"),
    ("POST", "/api/v1/orders/{active}/items/{bad}/status"),
]
BAD_IDS = {
    "word": "not-a-uuid",
    "int": "123",
    "uuid-plus-one": "{draft}0",
    "uuid-braces": "%7B{draft}%7D",
    "nul": "%00",
    "sql": "1%27%20OR%20%271%27=%271",
}


@pytest.mark.parametrize("method,path", PATH_ROUTES, ids=[f"{m}-{p}" for m, p in PATH_ROUTES])
def test_non_uuid_ids_in_the_path_are_404_problems(ctx, method, path):
    before = db_state()
    client = client_as(ctx.floor.manager)
    body = {"qty": 2} if method == "PATCH" else {"status": "IN_PROGRESS"} if "status" in path else None
    for name, bad_id in BAD_IDS.items():
        response = send(client, method, ctx.fill(path.replace("{bad}", bad_id)), body)
        problem = assert_problem(response, 404)
        assert problem["type"].endswith("/not-found"), (name, problem)
    assert_db_unchanged(before)


# --- Extremes that are well formed ------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "updatedSince=9999-12-31T23:59:59-14:00",
        "updatedSince=0001-01-01T00:00:00%2B14:00",
        "updatedSince=9999-12-31T23:59:59.999999Z",
        "pageSize=99999999999999999999",
        "tableSessionId=00000000-0000-0000-0000-000000000000",
    ],
)
def test_well_formed_extremes_in_filters_never_500(ctx, query):
    response = client_as(ctx.floor.manager).get(f"{ORDERS}?{query}")
    assert response.status_code < 500, (response.status_code, response.content[:300])
    if response.status_code >= 400:
        assert_problem(response)


# --- Unknown URLs and wrong methods ---------------------------------------------------------------

UNKNOWN_URLS = [
    ("GET", "/api/v1/nope"),
    ("GET", "/api/v1/orders/"),  # trailing slash
    ("GET", "/api/v2/orders"),
    ("GET", "/api/"),
    ("GET", "/api/v1/"),
    ("GET", "/api/v1/orders/{draft}/nope"),
    ("GET", "/api/v1/orders/{draft}/items/{item}/status/extra"),
    ("POST", "/api/v1/nope"),
    ("DELETE", "/api/v1/orders/{draft}/"),
    ("PUT", "/api/v1/tables/nope"),
]


@pytest.mark.parametrize("method,path", UNKNOWN_URLS, ids=[f"{m}-{p}" for m, p in UNKNOWN_URLS])
def test_unknown_api_urls_are_404_problems(ctx, method, path):
    before = db_state()
    for who in (ctx.floor.manager, None):
        client = client_as(who)
        response = send(client, method, ctx.fill(path), None, HTTP_ACCEPT="text/html,application/json")
        problem = assert_problem(response, 404)
        assert problem["type"].endswith("/not-found"), (who, problem)
    assert_db_unchanged(before)


@pytest.mark.parametrize(
    "method,path",
    [("POST", "/api/v1/nope"), ("POST", "/api/v1/orders/not-a-uuid/confirm"), ("PATCH", "/api/v1/orders/{draft}/items/x")],
)
def test_unknown_api_urls_are_404_problems_for_real_clients(ctx, method, path):
    """A real client is not Django's test client: CSRF is enforced for non-API views.

    A POS sending `Authorization: Bearer` (no CSRF cookie) to a mistyped path must get the
    same 404 problem details, not Django's HTML CSRF failure page.
    """
    client = APIClient(enforce_csrf_checks=True, raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=client_as(ctx.floor.manager)._credentials["HTTP_AUTHORIZATION"])
    response = send(client, method, ctx.fill(path), {})
    assert_problem(response, 404)


WRONG_METHODS = [
    ("PUT", "/api/v1/orders/{draft}"),
    ("DELETE", "/api/v1/orders/{draft}"),
    ("PATCH", "/api/v1/orders/{draft}"),
    ("DELETE", "/api/v1/orders"),
    ("PUT", "/api/v1/orders"),
    ("GET", "/api/v1/orders/{draft}/confirm"),
    ("DELETE", "/api/v1/orders/{draft}/cancel"),
    ("GET", "/api/v1/orders/{draft}/items"),
    ("PUT", "/api/v1/orders/{draft}/items/{item}"),
    ("POST", "/api/v1/orders/{draft}/items/{item}"),
    ("GET", "/api/v1/orders/{active}/items/{active_item}/status"),
    ("POST", "/api/v1/tables"),
    ("GET", "/api/v1/tables/{free_table}/sessions"),
    ("DELETE", "/api/v1/table-sessions/{idle_session}"),
    ("GET", "/api/v1/table-sessions/{idle_session}/close"),
    ("POST", "/api/v1/menu-items"),
    ("GET", "/api/v1/auth/login"),
    ("DELETE", "/api/v1/auth/me"),
]


@pytest.mark.parametrize("method,path", WRONG_METHODS, ids=[f"{m}-{p}" for m, p in WRONG_METHODS])
def test_wrong_method_is_a_405_problem(ctx, method, path):
    before = db_state()
    client = client_as(None if "/auth/login" in path else ctx.floor.manager)
    response = send(client, method, ctx.fill(path), {"status": "SERVED"})
    problem = assert_problem(response, 405)
    assert problem["type"].endswith("/method-not-allowed"), problem
    assert response.get("Allow"), "405 must say what is allowed"
    assert method not in response["Allow"]
    assert_db_unchanged(before)


# --- Controls -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(KEYED_REQUESTS))
def test_controls_the_valid_requests_succeed(ctx, name):
    """The rows really were changeable: the same requests without the bad part succeed."""
    method, path, body = KEYED_REQUESTS[name]
    response = send(client_as(ctx.floor.manager), method, ctx.fill(path), ctx.fill(body), HTTP_IDEMPOTENCY_KEY="good-key-1")
    assert 200 <= response.status_code < 300, (response.status_code, response.content)


def test_controls_valid_item_edits_succeed(ctx):
    client = client_as(ctx.floor.manager)
    patched = send(client, "PATCH", ctx.fill(ITEM), {"qty": 2, "unitPrice": "1.50", "name": "Tea", "notes": None})
    assert patched.status_code == 200, patched.content
    assert patched.json()["unitPrice"] == "1.50"
    added = send(client, "POST", ctx.fill(ITEMS), ctx.fill({"menuItemId": "{menu_item}", "qty": 3}))
    assert added.status_code == 201, added.content
    session = ctx.floor.session
    session.refresh_from_db()
    assert session.status == TableSessionStatus.OPEN
    assert client.get(ctx.fill(ORDERS) + "?pageSize=5&page=1").status_code == 200
    login_ok = send(client_as(), "POST", LOGIN, ctx.fill(login()))
    assert login_ok.status_code == 200, login_ok.content
    assert json.loads(login_ok.content)["user"]["role"] == Role.MANAGER
