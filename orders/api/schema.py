"""What Swagger says about each operation: its tag (the resource), summary, description and
example bodies, kept here rather than in decorators on the views.

`ApiAutoSchema` (REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS) looks each operation up in
`OPERATIONS` by method and path; an `extend_schema(...)` on a view still wins over it.
`describe_api` (a drf-spectacular postprocessing hook) describes the tags and lists the
problem types. The wire contract in words: docs/contract.md.
"""

from __future__ import annotations

from typing import NamedTuple

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample

from restaurant.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPES, TYPE_BASE

PREFIX = "/api/v1"

# First path segment -> tag; a segment not listed is its own tag.
TAG_OF_SEGMENT = {"table-sessions": "tables", "menu-items": "menu"}
# Operations that belong to another resource than their path says.
TAG_OF_OPERATION = {
    ("POST", "/orders/{order_id}/call"): "kitchen",
    ("POST", "/orders/{order_id}/bump"): "kitchen",
    ("POST", "/orders/{order_id}/fire"): "kitchen",
    ("POST", "/orders/{order_id}/items/{item_id}/acknowledge-allergy"): "kitchen",
    ("POST", "/orders/{order_id}/recall"): "kitchen",
}
TAGS = {
    "auth": "Log in, refresh and revoke tokens; who am I.",
    "tables": "Tables and the table sessions (a party seated at a table).",
    "menu": "The restaurant's menu.",
    "orders": "Orders and their items: create, add, confirm, move, cancel.",
    "kitchen": "What kitchen screens show and do: the board, tickets, bump and recall.",
    "screens": "The kitchen screens: who is online, what each has acknowledged.",
    "reports": "Kitchen times: how long the pass takes, per dish, station or hour (MANAGER).",
}

_ORDER_ID = "5d1c8a2e-6f0b-4c39-9a57-2b8e0f4d7c11"
_ITEM_ID = "9b0e7c3a-1d2f-4e8a-b6c5-3f7a9d2e1b04"
_SESSION_ID = "3baf00f4-b564-460b-a035-ec2d5c1c2bc9"
_RESTAURANT_ID = "b67e5984-9ecb-4f49-9c5b-a83ce8cd39ef"
_MENU_ITEM_ID = "c2a4e6f8-0b1d-4f3a-8c5e-7a9b1d3f5e70"
_AT = "2024-01-01T12:00:00.000Z"

ITEM = {
    "id": _ITEM_ID, "orderId": _ORDER_ID, "name": "Hamburguesa", "qty": 2, "unitPrice": "15.50",
    "status": "PENDING", "notes": None, "createdAt": _AT, "updatedAt": _AT,
}
ORDER = {
    "id": _ORDER_ID, "restaurantId": _RESTAURANT_ID, "tableSessionId": _SESSION_ID,
    "status": "CONFIRMED", "notes": None, "total": "31.00", "items": [ITEM],
    "createdAt": _AT, "updatedAt": _AT,
}


def _request(name, value, summary=""):
    return OpenApiExample(name, value=value, summary=summary or name, request_only=True)


def _response(name, value, status="200"):
    return OpenApiExample(name, value=value, response_only=True, status_codes=[status])


def _problem(status, slug, detail):
    title = PROBLEM_TYPES[slug][0]
    return OpenApiExample(
        slug, response_only=True, status_codes=[str(status)], media_type=PROBLEM_CONTENT_TYPE,
        value={"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail},
    )


_ILLEGAL = _problem(409, "illegal-transition", "Cannot move item from READY to PENDING.")
_TOKENS = _response("Tokens", {
    "accessToken": "eyJhbGciOiJIUzI1NiIs…", "refreshToken": "eyJhbGciOiJIUzI1NiIs…",
    "expiresIn": 900,
    "user": {"id": "0f4d…", "email": "waiter@restaurante.com", "name": "Demo Waiter",
             "role": "WAITER", "restaurantId": _RESTAURANT_ID},
})


class Operation(NamedTuple):
    summary: str
    description: str
    examples: tuple = ()


OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/auth/login"): Operation(
        "Log in",
        "Email and password for an access token (15 minutes by default) and a refresh token. "
        "An unknown email and a wrong password get the same 401; attempts are throttled per "
        "address and per email (429 with `Retry-After`).",
        (_request("Login", {"email": "waiter@restaurante.com", "password": "password123"}), _TOKENS,
         _problem(401, "unauthenticated", "Invalid email or password.")),
    ),
    ("POST", "/auth/refresh"): Operation(
        "Refresh the tokens",
        "A refresh token for a new pair. Refresh tokens rotate: a used or revoked one is refused (401).",
        (_request("Refresh", {"refreshToken": "eyJhbGciOiJIUzI1NiIs…"}), _TOKENS),
    ),
    ("POST", "/auth/logout"): Operation(
        "Log out",
        "Revokes the refresh token; the sockets of that login are closed (`Logged out`).",
        (_request("Logout", {"refreshToken": "eyJhbGciOiJIUzI1NiIs…"}),),
    ),
    ("GET", "/auth/me"): Operation("Who am I", "The authenticated user, with its role and restaurant."),
    ("GET", "/tables"): Operation("List tables", "The restaurant's tables; filter `active=true`."),
    ("POST", "/tables/{table_id}/sessions"): Operation(
        "Seat a table",
        "Opens a table session (WAITER, MANAGER). 409 when the table already has an OPEN "
        "session or is out of service.",
        (_request("Seat two guests", {"guests": 2}),),
    ),
    ("GET", "/table-sessions"): Operation("List table sessions", "Newest first; filter `status=OPEN`."),
    ("GET", "/table-sessions/{session_id}"): Operation("Get a table session", "One session of the restaurant."),
    ("POST", "/table-sessions/{session_id}/close"): Operation(
        "Close a table session",
        "Only once every order of the session is SERVED or CANCELLED (else 409).",
    ),
    ("GET", "/menu-items"): Operation(
        "List the menu",
        "Each dish with its allergens, default course, prep minutes, 86 state and modifier "
        "groups. Filters: `active=true`, `station=grill`, `available=false`, `course=2`.",
    ),
    ("POST", "/menu-items/{menu_item_id}/availability"): Operation(
        "86 a dish, or count it down",
        "KITCHEN, MANAGER. `available: false` is \"86\"; `remaining: n` counts down by each "
        "added quantity and turns the dish unavailable at 0; past `availableAgainAt` it is "
        "available again by itself. Every change emits `menu.item.availability.changed`.",
        (_request("86 until the evening", {"available": False, "availableAgainAt": "2024-01-01T18:30:00.000Z"}),
         _request("Six portions left", {"available": True, "remaining": 6})),
    ),
    ("GET", "/orders"): Operation(
        "List orders",
        "Each with its items and total. Filters: `status=CONFIRMED,IN_PROGRESS`, "
        "`tableSessionId`, `updatedSince` (a timestamp).",
    ),
    ("POST", "/orders"): Operation(
        "Create an order",
        "A DRAFT order for an OPEN table session (WAITER, MANAGER).",
        (_request("New order", {"tableSessionId": _SESSION_ID, "notes": "Window table"}),
         _response("Draft order", {**ORDER, "status": "DRAFT", "total": "0.00", "items": []}, "201")),
    ),
    ("GET", "/orders/{order_id}"): Operation("Get an order", "The order with its items and total.",
                                              (_response("Order", ORDER),)),
    ("POST", "/orders/{order_id}/confirm"): Operation(
        "Confirm an order",
        "DRAFT → CONFIRMED; needs at least one item. The kitchen's sockets get `order.new`, "
        "then `order.status.changed`.",
        (_response("Confirmed", ORDER), _problem(409, "illegal-transition",
                                                 "Cannot move order from DRAFT to CONFIRMED: it has no items.")),
    ),
    ("POST", "/orders/{order_id}/cancel"): Operation(
        "Cancel an order",
        "Cancels the order and its PENDING and IN_PROGRESS items. Refused (409) once an item "
        "is READY or SERVED: cancel the remaining items one by one.",
        (_request("Cancel", {"reason": "Guest left"}),),
    ),
    ("POST", "/orders/{order_id}/bump"): Operation(
        "Bump a ticket", "Every PENDING or IN_PROGRESS item of the order becomes READY (KITCHEN, MANAGER).",
    ),
    ("POST", "/orders/{order_id}/recall"): Operation(
        "Recall a ticket", "Undo a bump: the order's READY items go back to IN_PROGRESS (KITCHEN, MANAGER).",
    ),
    ("POST", "/orders/{order_id}/fire"): Operation(
        "Fire a course",
        "WAITER, KITCHEN, MANAGER: the held items of that course may start; emits "
        "`order.course.fired`. Firing a course already fired changes nothing.",
        (_request("Fire the mains", {"course": 2}),),
    ),
    ("POST", "/orders/{order_id}/priority"): Operation(
        "Set the priority",
        "WAITER, KITCHEN, MANAGER: `RUSH` puts the ticket first on every screen; emits "
        "`order.priority.changed`.",
        (_request("Rush", {"priority": "RUSH"}),),
    ),
    ("POST", "/orders/{order_id}/items"): Operation(
        "Add an item",
        "From the menu (`menuItemId`, whose name, price and station are copied, with "
        "`modifiers` by option id) or free-form (`name` and `unitPrice`, a string or a number; "
        "never routed to a station). `course`, `seat` and declared `allergies` are optional. "
        "While DRAFT, and as an add-on while CONFIRMED, IN_PROGRESS or READY (emits "
        "`order.items.added`). An 86'd dish is 409 `item-unavailable`.",
        (_request("Free-form", {"name": "Hamburguesa", "qty": 2, "unitPrice": "15.50", "notes": "No onion"}),
         _request("From the menu", {"menuItemId": _MENU_ITEM_ID, "qty": 1}),
         _request("With modifiers and an allergy", {
             "menuItemId": _MENU_ITEM_ID, "qty": 1, "seat": 2, "allergies": ["milk"],
             "modifiers": [{"optionId": "1f7c9e2a-3b4d-4c5e-8f6a-7b8c9d0e1f2a"}, {"name": "No onion"}],
         }),
         _response("Item", ITEM, "201")),
    ),
    ("GET", "/orders/{order_id}/items/{item_id}"): Operation("Get an item", "One item of the order."),
    ("PATCH", "/orders/{order_id}/items/{item_id}"): Operation(
        "Edit an item",
        "While the order is DRAFT: `qty` and `notes`; `name` and `unitPrice` of a free-form item.",
        (_request("More of it", {"qty": 3}),),
    ),
    ("DELETE", "/orders/{order_id}/items/{item_id}"): Operation("Remove an item", "While the order is DRAFT."),
    ("POST", "/orders/{order_id}/items/{item_id}/status"): Operation(
        "Move an item",
        "PENDING → IN_PROGRESS → READY (KITCHEN, and one step back to recall), READY → SERVED and "
        "PENDING or IN_PROGRESS → CANCELLED (WAITER); MANAGER any legal move. The order's status "
        "follows from its items. An illegal move is 409 naming both states, a move of another "
        "role 403. With `expectedStatus`, a move of an item another screen already moved is 409.",
        (_request("Start cooking", {"status": "IN_PROGRESS", "expectedStatus": "PENDING"}),
         _response("Moved", {**ITEM, "status": "IN_PROGRESS"}), _ILLEGAL),
    ),
    ("POST", "/orders/{order_id}/items/{item_id}/acknowledge-allergy"): Operation(
        "Acknowledge an allergy",
        "KITCHEN, MANAGER: a cook has read the guest's declared allergies, so the item may "
        "start; who and when are kept and emitted as `order.item.allergy.acknowledged`.",
    ),
    ("GET", "/orders/{order_id}/history"): Operation(
        "Order history",
        "Who did what to the order, oldest first: every change of the order and its items with "
        "the acting user, role and (from a kitchen screen) the screen. Append-only, written in "
        "the change's own transaction; kept `HISTORY_RETENTION_DAYS` (400).",
        (_response("History", [
            {"at": _AT, "action": "order.created", "actor": {"id": _ITEM_ID, "name": "Demo Waiter",
             "role": "WAITER"}, "screenId": None, "itemId": None, "from": None, "to": "DRAFT",
             "reason": None},
            {"at": _AT, "action": "item.status", "actor": {"id": _ITEM_ID, "name": "Demo Cook",
             "role": "KITCHEN"}, "screenId": _SESSION_ID, "itemId": _ITEM_ID, "from": "PENDING",
             "to": "IN_PROGRESS", "reason": None},
        ]),),
    ),
    ("POST", "/orders/{order_id}/call"): Operation(
        "Call an order for pickup",
        "Expo (KITCHEN, MANAGER): a READY order is ready at the pass. Emits "
        "`order.pickup.called` `{orderId, restaurantId, number, tableName, waiterId, calledBy, "
        "calledAt}` for the waiter's POS and records `pickup.called` in the history. Any other "
        "status is 409; calling again calls again.",
    ),
    ("GET", "/screens"): Operation(
        "List kitchen screens",
        "MANAGER, WAITER. Every screen that named itself on `/ws/events/`: `online` (a socket "
        "open, or closed less than SCREEN_OFFLINE_SECONDS ago, on any worker), the last event "
        "it acknowledged after drawing it, how many events it has not, and `behind` (one older "
        "than SCREEN_OFFLINE_SECONDS unacknowledged).",
        (_response("Screens", [{
            "id": _ITEM_ID, "name": "Grill 1", "station": "grill", "online": True,
            "connectedAt": _AT, "lastSeenAt": _AT, "lastAckedEventId": "41", "lagEvents": 0,
            "behind": False,
        }]),),
    ),
    ("GET", "/reports/kitchen"): Operation(
        "Kitchen times report",
        "MANAGER. p50 and p90, in seconds, of fire → ready and ready → served over the items "
        "fired in [`from`, `to`) (dates are the restaurant's days, `to` inclusive; or "
        "timestamps), grouped by `item`, `station` or `hour` (of the day, restaurant time), "
        "optionally of one `station`. Computed in the database (`percentile_cont`). "
        "`?format=csv` answers the same rows as CSV.",
        (_response("By station", {"rows": [
            {"key": "grill", "count": 412, "fireToReadyP50": 540.0, "fireToReadyP90": 912.5,
             "readyToServedP50": 48.0, "readyToServedP90": 130.2},
        ]}),),
    ),
    ("GET", "/kitchen/board"): Operation(
        "Kitchen board",
        "Everything a kitchen screen shows: open tickets oldest first, the amber and red "
        "thresholds, the stations and the server's clock.",
    ),
    ("GET", "/kitchen/tickets/{order_id}"): Operation("One kitchen ticket", "A ticket of the board, by order id."),
}


def operation_key(method: str, path: str) -> tuple[str, str]:
    return method.upper(), path.removeprefix(PREFIX)


class ApiAutoSchema(AutoSchema):
    def _operation(self) -> Operation | None:
        return OPERATIONS.get(operation_key(self.method, self.path))

    def get_tags(self):
        key = operation_key(self.method, self.path)
        if key in TAG_OF_OPERATION:
            return [TAG_OF_OPERATION[key]]
        segment = key[1].strip("/").split("/")[0]
        return [TAG_OF_SEGMENT.get(segment, segment)]

    def get_summary(self):
        operation = self._operation()
        return operation.summary if operation else super().get_summary()

    def get_description(self):
        operation = self._operation()
        return operation.description if operation else super().get_description()

    def get_examples(self):
        operation = self._operation()
        return list(operation.examples) if operation else super().get_examples()


def problem_types_markdown() -> str:
    lines = ["Errors are RFC 9457 problem details (`application/problem+json`). Problem types:", ""]
    lines += [f"- [`{TYPE_BASE}{slug}`]({TYPE_BASE}{slug}): {title}. {meaning}"
              for slug, (title, meaning) in PROBLEM_TYPES.items()]
    return "\n".join(lines)


def describe_api(result, generator, request, public):
    """Postprocessing hook: tag descriptions and the list of problem types."""
    used = {tag for path in result["paths"].values() for op in path.values() for tag in op.get("tags", [])}
    ordered = [name for name in TAGS if name in used] + sorted(used - set(TAGS))
    result["tags"] = [{"name": name, "description": TAGS.get(name, "")} for name in ordered]
    result["info"]["description"] = f"{result['info'].get('description', '')}\n\n{problem_types_markdown()}"
    return result
