"""Tenant isolation: staff of restaurant A can neither see nor touch restaurant B.

docs/contract.md: "404 for anything in another restaurant (never reveal that it exists)".

`ROUTES` below names every route under /api/v1/ with a recipe saying how B's ids are
substituted into it. `test_every_api_route_has_a_recipe` walks the URLconf, so a route added
without a recipe (or a method added to a view) fails the suite until this file says how its
isolation is checked.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Callable

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework_simplejwt.tokens import AccessToken

from orders.models import (
    IdempotencyRecord,
    ItemStatus,
    MenuItem,
    ModifierGroup,
    ModifierOption,
    Order,
    OrderItem,
    OrderStatus,
    Role,
    Table,
    TableSession,
    User,
)

from ..factories import (
    PASSWORD,
    MenuItemFactory,
    OrderItemFactory,
    TableFactory,
    TableSessionFactory,
)
from ._isolation_support import assert_db_unchanged, assert_problem, client_as, db_state, send

API_PREFIX = "api/v1/"
ROLES = (Role.MANAGER, Role.WAITER, Role.KITCHEN)
ID_KWARGS = {"table_id", "session_id", "order_id", "item_id", "menu_item_id"}


# --- The two restaurants ------------------------------------------------------------------------


class Side:
    """One restaurant (a `Floor`) plus rows in every state a route acts on.

    Each row is in a state from which the route would succeed for its own staff (checked by
    `test_recipes_succeed_for_the_owning_restaurant`), so a 404 is isolation, not a 409 or
    a 400 in disguise.
    """

    def __init__(self, floor):
        self.floor = floor
        self.restaurant = floor.restaurant
        self.table = floor.table  # has the OPEN session `session`
        self.session = floor.session
        self.menu_item = floor.menu_item
        self.draft_order = floor.order()  # DRAFT, one PENDING free-form item
        self.draft_item = self.draft_order.items.get()
        self.active_order = floor.order(status=OrderStatus.CONFIRMED)  # one PENDING item
        self.active_item = self.active_order.items.get()
        self.ready_order = floor.order(status=OrderStatus.READY, item_status=ItemStatus.READY)
        # A station only this restaurant cooks at: the kitchen board must not list the other's.
        self.own_station = f"station-{self.restaurant.slug}"
        MenuItemFactory(restaurant=self.restaurant, station=self.own_station)
        self.free_table = TableFactory(restaurant=self.restaurant)  # no session
        self.idle_session = TableSessionFactory(  # OPEN, no orders: may be closed
            table=TableFactory(restaurant=self.restaurant)
        )
        # Kitchen operations: a dish with a modifier group, a held course 2 (may be fired),
        # an item with a declared allergy (may be acknowledged).
        self.modifier_group = ModifierGroup.objects.create(
            menu_item=self.menu_item, name="Doneness", min_select=0, max_select=1
        )
        self.modifier_option = ModifierOption.objects.create(group=self.modifier_group, name="Rare")
        self.held_order = floor.order(status=OrderStatus.CONFIRMED)
        OrderItemFactory(order=self.held_order, course=2, fired_at=None)
        self.allergy_order = floor.order(status=OrderStatus.CONFIRMED, items=0)
        self.allergy_item = OrderItemFactory(order=self.allergy_order, allergies=["milk"])

    def ids(self) -> set[str]:
        """Every id of every row of this restaurant."""
        r = self.restaurant
        ids = {str(r.pk)}
        for qs in (
            User.objects.filter(restaurant=r),
            Table.objects.filter(restaurant=r),
            TableSession.objects.filter(table__restaurant=r),
            MenuItem.objects.filter(restaurant=r),
            ModifierGroup.objects.filter(menu_item__restaurant=r),
            ModifierOption.objects.filter(group__menu_item__restaurant=r),
            Order.objects.filter(restaurant=r),
            OrderItem.objects.filter(order__restaurant=r),
        ):
            ids |= {str(pk) for pk in qs.values_list("pk", flat=True)}
        return ids


class World:
    def __init__(self, floor, other_floor):
        self.a = Side(floor)
        self.b = Side(other_floor)

    def side(self, name) -> Side:
        return {"a": self.a, "b": self.b}[name]


@pytest.fixture
def world(floor, other_floor):
    return World(floor, other_floor)


# --- Recipes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """An attribute of side "a" (the caller's restaurant) or "b" (the other one)."""

    side: str
    attr: str

    def __str__(self):
        return f"{self.side}.{self.attr}"


def a(attr):
    return Ref("a", attr)


def b(attr):
    return Ref("b", attr)


def resolve(value, world: World, ghost: bool = False):
    """Refs become ids; with `ghost`, B's refs become ids that exist nowhere."""
    if isinstance(value, Ref):
        if ghost and value.side == "b":
            return str(uuid.uuid4())
        return str(getattr(world.side(value.side), value.attr).pk)
    if isinstance(value, dict):
        return {k: resolve(v, world, ghost) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Case:
    """One call that must answer 404: URL kwargs and body may hold A's and B's refs."""

    kwargs: dict
    body: dict | None = None
    methods: frozenset[str] | None = None  # default: every method of the route

    @property
    def label(self):
        parts = [f"{k}={v}" for k, v in self.kwargs.items()]
        parts += [f"body.{k}={v}" for k, v in (self.body or {}).items() if isinstance(v, Ref)]
        return ",".join(parts)

    @property
    def only_b(self):
        refs = [*self.kwargs.values(), *(v for v in (self.body or {}).values() if isinstance(v, Ref))]
        return all(r.side == "b" for r in refs)


@dataclass(frozen=True)
class Route:
    methods: frozenset[str]
    foreign: tuple[Case, ...] = ()  # calls with B's ids: each must 404 and change nothing
    check: Callable | None = None  # routes without ids: check(world, route_name) asserts isolation
    queries: tuple[dict, ...] = ()  # list routes: query strings to try (values may be Refs)
    own: Callable | None = None  # list routes: restaurant -> queryset the list must equal


# Checks for routes without ids ------------------------------------------------------------------


def _results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) >= {"count", "results"}, body
    assert body["count"] == len(body["results"]), "page too small for the check"
    return body["results"]


def check_list(world: World, route_name: str) -> None:
    """Every role of A, every query: no B id anywhere in the answer."""
    route = ROUTES[route_name]
    url = reverse(route_name)
    b_ids = world.b.ids()
    own = {str(pk) for pk in route.own(world.a.restaurant).values_list("pk", flat=True)}
    assert own, "A must have rows for this list to mean anything"
    for role in ROLES:
        client = client_as(world.a.floor.user(role))
        for query in route.queries:
            params = {"pageSize": 200, **resolve(query, world)}
            response = client.get(url, params)
            results = _results(response)
            text = response.content.decode()
            leaked = sorted(i for i in b_ids if i in text)
            assert not leaked, f"{route_name}?{params} as {role} shows B's ids {leaked}"
            assert all(r["restaurantId"] == str(world.a.restaurant.pk) for r in results)
            got = {r["id"] for r in results}
            assert got <= own, f"{route_name}?{params}: rows not A's: {got - own}"
            filters_by_b = any(isinstance(v, Ref) and v.side == "b" for k, v in query.items() if k != "restaurantId")
            if filters_by_b:
                assert results == [], f"{route_name}?{params} must match nothing for A"
            elif set(query) <= {"restaurantId"}:
                assert got == own, f"{route_name}?{params}: expected exactly A's rows"


def check_me(world: World, route_name: str) -> None:
    for role in ROLES:
        user = world.a.floor.user(role)
        response = client_as(world.a.floor.user(role)).get(
            reverse(route_name), {"restaurantId": str(world.b.restaurant.pk)}
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["id"] == str(user.pk)
        assert body["restaurantId"] == str(world.a.restaurant.pk)
        assert str(world.b.restaurant.pk) not in response.content.decode()


def check_kitchen_board(world: World, route_name: str) -> None:
    """The board shows A's open tickets and stations only."""
    a_tickets = {
        str(pk)
        for pk in Order.objects.filter(
            restaurant=world.a.restaurant,
            status__in=[OrderStatus.CONFIRMED, OrderStatus.IN_PROGRESS, OrderStatus.READY],
        ).values_list("pk", flat=True)
    }
    assert a_tickets
    b_ids = world.b.ids()
    for role in ROLES:
        response = client_as(world.a.floor.user(role)).get(
            reverse(route_name), {"restaurantId": str(world.b.restaurant.pk)}
        )
        assert response.status_code == 200, response.content
        text = response.content.decode()
        leaked = sorted(i for i in b_ids if i in text)
        assert not leaked, f"{route_name} as {role} shows B's ids {leaked}"
        board = response.json()
        assert {t["orderId"] for t in board["tickets"]} == a_tickets
        assert world.a.own_station in board["stations"]
        assert world.b.own_station not in text


def check_kitchen_report(world: World, route_name: str) -> None:
    """A's manager's report counts A's items only, whatever the query; other roles get 403."""
    from django.utils import timezone

    now = timezone.now()
    for side in (world.a, world.b):
        OrderItemFactory(
            order=side.active_order, name=f"Timed {side.restaurant.slug}", station=side.own_station,
            status=ItemStatus.READY, fired_at=now, ready_at=now,
        )
    url = reverse(route_name)
    for query in ({}, {"station": world.b.own_station}, {"groupBy": "station"}, {"format": "csv"},
                  {"restaurantId": str(world.b.restaurant.pk)}):
        response = client_as(world.a.floor.manager).get(url, query)
        assert response.status_code == 200, response.content
        text = response.content.decode()
        assert world.b.restaurant.slug not in text and world.b.own_station not in text, (query, text)
    for role in (Role.WAITER, Role.KITCHEN):
        assert client_as(world.a.floor.user(role)).get(url).status_code == 403


def check_screens(world: World, route_name: str) -> None:
    from orders.screens import Screen

    mine = {str(Screen.objects.create(restaurant=side.restaurant, name="Grill 1", station="grill").pk): side
            for side in (world.a, world.b)}
    for role in (Role.MANAGER, Role.WAITER):
        response = client_as(world.a.floor.user(role)).get(
            reverse(route_name), {"restaurantId": str(world.b.restaurant.pk)}
        )
        assert response.status_code == 200, response.content
        assert [mine[row["id"]] for row in response.json()] == [world.a]
    assert client_as(world.a.floor.kitchen).get(reverse(route_name)).status_code == 403


def _login(user, **extra) -> dict:
    response = client_as().post(
        reverse("api:auth-login"), {"email": user.email, "password": PASSWORD, **extra}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def _assert_tokens_for_a(world: World, body: dict) -> None:
    a_id, b_id = str(world.a.restaurant.pk), str(world.b.restaurant.pk)
    assert body["user"]["restaurantId"] == a_id
    assert AccessToken(body["accessToken"])["restaurantId"] == a_id
    assert b_id not in json.dumps(body)


def check_login(world: World, route_name: str) -> None:
    """A `restaurantId` in the login body does not move the user to B."""
    body = _login(world.a.floor.manager, restaurantId=str(world.b.restaurant.pk))
    _assert_tokens_for_a(world, body)


def check_refresh(world: World, route_name: str) -> None:
    tokens = _login(world.a.floor.manager)
    response = client_as().post(
        reverse(route_name),
        {"refreshToken": tokens["refreshToken"], "restaurantId": str(world.b.restaurant.pk)},
        format="json",
    )
    assert response.status_code == 200, response.content
    _assert_tokens_for_a(world, response.json())


def check_logout(world: World, route_name: str) -> None:
    """A's logout revokes A's refresh token only; B's keeps working."""
    a_tokens = _login(world.a.floor.manager)
    b_tokens = _login(world.b.floor.manager)
    response = client_as(world.a.floor.manager).post(
        reverse(route_name),
        {"refreshToken": a_tokens["refreshToken"], "restaurantId": str(world.b.restaurant.pk)},
        format="json",
    )
    assert response.status_code == 204, response.content
    refresh = reverse("api:auth-refresh")
    assert_problem(client_as().post(refresh, {"refreshToken": a_tokens["refreshToken"]}, format="json"), 401)
    again = client_as().post(refresh, {"refreshToken": b_tokens["refreshToken"]}, format="json")
    assert again.status_code == 200, again.content
    assert again.json()["user"]["restaurantId"] == str(world.b.restaurant.pk)


ITEM_LINE = {"name": "Soup", "qty": 1, "unitPrice": "4.00"}

# Route name -> recipe. Every route under /api/v1/ must be here (see the first test).
ROUTES: dict[str, Route] = {
    "api:auth-login": Route(frozenset({"POST"}), check=check_login),
    "api:auth-refresh": Route(frozenset({"POST"}), check=check_refresh),
    "api:auth-logout": Route(frozenset({"POST"}), check=check_logout),
    "api:auth-me": Route(frozenset({"GET"}), check=check_me),
    "api:table-list": Route(
        frozenset({"GET"}),
        check=check_list,
        own=lambda r: Table.objects.filter(restaurant=r),
        queries=({}, {"restaurantId": b("restaurant")}, {"active": "true"}),
    ),
    "api:table-session-open": Route(
        frozenset({"POST"}),
        foreign=(Case({"table_id": b("free_table")}, body={"guests": 2}),),
    ),
    "api:table-session-list": Route(
        frozenset({"GET"}),
        check=check_list,
        own=lambda r: TableSession.objects.filter(table__restaurant=r),
        queries=(
            {},
            {"restaurantId": b("restaurant")},
            {"status": "OPEN"},
            {"tableId": b("table")},
            {"tableId": b("free_table")},
        ),
    ),
    "api:table-session-detail": Route(
        frozenset({"GET"}), foreign=(Case({"session_id": b("session")}),)
    ),
    "api:table-session-close": Route(
        frozenset({"POST"}), foreign=(Case({"session_id": b("idle_session")}),)
    ),
    "api:menu-item-list": Route(
        frozenset({"GET"}),
        check=check_list,
        own=lambda r: MenuItem.objects.filter(restaurant=r),
        queries=(
            {}, {"restaurantId": b("restaurant")}, {"active": "true"}, {"station": "grill"},
            {"available": "true"}, {"course": "1"},
        ),
    ),
    "api:order-list": Route(
        frozenset({"GET", "POST"}),
        check=check_list,
        own=lambda r: Order.objects.filter(restaurant=r),
        queries=(
            {},
            {"restaurantId": b("restaurant")},
            {"tableSessionId": b("session")},
            {"tableSessionId": b("idle_session")},
            {"status": "DRAFT,CONFIRMED"},
            {"itemStatus": "PENDING"},
            {"updatedSince": "2000-01-01T00:00:00Z"},
        ),
        foreign=(
            Case({}, body={"tableSessionId": b("session")}, methods=frozenset({"POST"})),
            Case({}, body={"tableSessionId": b("idle_session"), "notes": "x"}, methods=frozenset({"POST"})),
        ),
    ),
    "api:order-detail": Route(frozenset({"GET"}), foreign=(Case({"order_id": b("draft_order")}),)),
    "api:order-call": Route(frozenset({"POST"}), foreign=(Case({"order_id": b("ready_order")}),)),
    "api:order-history": Route(
        frozenset({"GET"}),
        foreign=(Case({"order_id": b("active_order")}), Case({"order_id": b("draft_order")})),
    ),
    "api:order-confirm": Route(frozenset({"POST"}), foreign=(Case({"order_id": b("draft_order")}),)),
    "api:order-cancel": Route(
        frozenset({"POST"}),
        foreign=(
            Case({"order_id": b("active_order")}, body={"reason": "walked out"}),
            Case({"order_id": b("draft_order")}),
        ),
    ),
    "api:order-item-create": Route(
        frozenset({"POST"}),
        foreign=(
            Case({"order_id": b("draft_order")}, body=ITEM_LINE),
            Case({"order_id": b("active_order")}, body=ITEM_LINE),  # an add-on
            Case({"order_id": b("draft_order")}, body={"menuItemId": b("menu_item"), "qty": 1}),
            # A's own order, B's menu item.
            Case({"order_id": a("draft_order")}, body={"menuItemId": b("menu_item"), "qty": 1}),
        ),
    ),
    "api:order-item-detail": Route(
        frozenset({"GET", "PATCH", "DELETE"}),
        foreign=(
            Case({"order_id": b("draft_order"), "item_id": b("draft_item")}, body={"qty": 3}),
            # Mixed: A's order with B's item, B's order with A's item.
            Case({"order_id": a("draft_order"), "item_id": b("draft_item")}, body={"qty": 3}),
            Case({"order_id": b("draft_order"), "item_id": a("draft_item")}, body={"qty": 3}),
        ),
    ),
    "api:order-item-status": Route(
        frozenset({"POST"}),
        foreign=(
            Case({"order_id": b("active_order"), "item_id": b("active_item")}, body={"status": "IN_PROGRESS"}),
            Case({"order_id": b("active_order"), "item_id": b("active_item")}, body={"status": "CANCELLED"}),
            Case({"order_id": a("active_order"), "item_id": b("active_item")}, body={"status": "IN_PROGRESS"}),
            Case({"order_id": b("active_order"), "item_id": a("active_item")}, body={"status": "IN_PROGRESS"}),
        ),
    ),
    "api:menu-item-availability": Route(
        frozenset({"POST"}),
        foreign=(
            Case({"menu_item_id": b("menu_item")}, body={"available": False}),
            Case({"menu_item_id": b("menu_item")}, body={"available": True, "remaining": 3}),
        ),
    ),
    "api:order-fire": Route(
        frozenset({"POST"}), foreign=(Case({"order_id": b("held_order")}, body={"course": 2}),)
    ),
    "api:order-priority": Route(
        frozenset({"POST"}),
        foreign=(Case({"order_id": b("active_order")}, body={"priority": "RUSH"}),),
    ),
    "api:order-item-acknowledge-allergy": Route(
        frozenset({"POST"}),
        foreign=(
            Case({"order_id": b("allergy_order"), "item_id": b("allergy_item")}),
            Case({"order_id": a("allergy_order"), "item_id": b("allergy_item")}),
            Case({"order_id": b("allergy_order"), "item_id": a("allergy_item")}),
        ),
    ),
    "api:order-bump": Route(frozenset({"POST"}), foreign=(Case({"order_id": b("active_order")}),)),
    "api:order-recall": Route(frozenset({"POST"}), foreign=(Case({"order_id": b("ready_order")}),)),
    "api:kitchen-board": Route(frozenset({"GET"}), check=check_kitchen_board),
    "api:report-kitchen-times": Route(frozenset({"GET"}), check=check_kitchen_report),
    "realtime:screen-list": Route(frozenset({"GET"}), check=check_screens),
    "api:kitchen-ticket": Route(
        frozenset({"GET"}),
        foreign=(Case({"order_id": b("active_order")}), Case({"order_id": b("draft_order")})),
    ),
}


# --- The URLconf ----------------------------------------------------------------------------------


def api_routes() -> dict[str, URLPattern]:
    """Every URL pattern under /api/v1/, by namespaced name (unnamed ones by their route)."""
    found: dict[str, URLPattern] = {}

    def walk(patterns, prefix: str, namespace: str | None):
        for pattern in patterns:
            route = prefix + str(pattern.pattern).lstrip("^")
            if isinstance(pattern, URLResolver):
                ns = namespace
                if pattern.namespace:
                    ns = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
                walk(pattern.url_patterns, route, ns)
            elif route.startswith(API_PREFIX):
                name = pattern.name and (f"{namespace}:{pattern.name}" if namespace else pattern.name)
                found[name or f"<unnamed {route}>"] = pattern

    walk(get_resolver().url_patterns, "", None)
    return found


def url_kwargs(pattern: URLPattern) -> set[str]:
    converters = getattr(pattern.pattern, "converters", None)
    if converters is not None:
        return set(converters)
    return set(pattern.pattern.regex.groupindex)


def view_methods(pattern: URLPattern) -> set[str]:
    view_class = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls")
    return {
        m.upper()
        for m in view_class.http_method_names
        if m not in {"head", "options"} and hasattr(view_class, m)
    }


def test_every_api_route_has_a_recipe():
    found = api_routes()
    assert len(found) > 5, f"the URLconf walk found too little: {sorted(found)}"
    missing = sorted(set(found) - set(ROUTES))
    stale = sorted(set(ROUTES) - set(found))
    assert not missing, f"API routes without a tenancy recipe in test_tenancy.ROUTES: {missing}"
    assert not stale, f"recipes for routes that no longer exist: {stale}"


@pytest.mark.parametrize("route_name", sorted(ROUTES))
def test_recipe_covers_every_method_and_id_of_its_route(route_name):
    pattern = api_routes()[route_name]
    route = ROUTES[route_name]
    assert view_methods(pattern) == set(route.methods), (
        f"{route_name} answers {sorted(view_methods(pattern))}; the recipe lists {sorted(route.methods)}"
    )
    kwargs = url_kwargs(pattern)
    assert kwargs <= ID_KWARGS, f"{route_name}: teach Side/ROUTES about {kwargs - ID_KWARGS}"
    for case in route.foreign:
        assert set(case.kwargs) == kwargs, (route_name, case.label)
        assert "b" in {r.side for r in case.kwargs.values()} | {
            v.side for v in (case.body or {}).values() if isinstance(v, Ref)
        }, f"{route_name} {case.label}: a case must use something of B's"
    if kwargs:
        for method in route.methods:
            assert any(
                case.methods is None or method in case.methods for case in route.foreign
            ), f"{route_name} {method}: no call with B's ids"
    else:
        assert route.check is not None, f"{route_name} has no ids: it needs its own check"
    if route.check is check_list:
        assert route.own is not None and route.queries, route_name


def _foreign_calls():
    for name, route in sorted(ROUTES.items()):
        for case in route.foreign:
            for method in sorted(case.methods or route.methods):
                yield name, method, case


FOREIGN_CALLS = list(_foreign_calls())


def _call_id(call):
    name, method, case = call
    return f"{name.removeprefix('api:')}-{method}-{case.label}"


def _send(client, world, name, method, case, ghost=False):
    url = reverse(name, kwargs=resolve(case.kwargs, world, ghost))
    body = resolve(case.body, world, ghost) if method not in {"GET", "HEAD"} else None
    return send(client, method, url, body)


# --- Calls with B's ids ----------------------------------------------------------------------------


@pytest.mark.parametrize("call", FOREIGN_CALLS, ids=_call_id)
def test_foreign_ids_answer_404_and_change_nothing(world, call):
    """Every role of A gets 404 problem details, B's rows (and A's) stay as they were, and
    the answer is the one an id that exists nowhere gets."""
    name, method, case = call
    before = db_state()
    for role in ROLES:
        client = client_as(world.a.floor.user(role))

        response = _send(client, world, name, method, case)

        body = assert_problem(response, 404)
        assert body["type"].endswith("/not-found"), (role, body)
        ghost = _send(client, world, name, method, case, ghost=True)
        assert (ghost.status_code, ghost.json()) == (404, body), role
        assert_db_unchanged(before)

    client = client_as(world.a.floor.manager)
    if method == "GET":
        assert _send(client, world, name, "HEAD", case).status_code == 404
    if case.kwargs:
        # OPTIONS describes the view; it must not tell B's ids from missing ones.
        real = _send(client, world, name, "OPTIONS", case)
        fake = _send(client, world, name, "OPTIONS", case, ghost=True)
        assert (real.status_code, real.content) == (fake.status_code, fake.content)
    assert_db_unchanged(before)


@pytest.mark.parametrize("call", [c for c in FOREIGN_CALLS if c[2].only_b], ids=_call_id)
def test_recipes_succeed_for_the_owning_restaurant(world, call):
    """Control: the same call by B's own manager works, so A's 404 is isolation alone."""
    name, method, case = call
    response = _send(client_as(world.b.floor.manager), world, name, method, case)
    assert 200 <= response.status_code < 300, (response.status_code, response.content)


# --- Routes without ids ----------------------------------------------------------------------------


@pytest.mark.parametrize("route_name", sorted(n for n, r in ROUTES.items() if r.check), ids=str)
def test_routes_without_ids_stay_in_their_restaurant(world, route_name):
    b_ids = {uuid.UUID(i).hex for i in world.b.ids()}

    def b_rows():
        return {
            model: [
                {k: v for k, v in row.items() if k != "last_login"}
                for row in rows
                if uuid.UUID(str(row["id"])).hex in b_ids
            ]
            for model, rows in db_state().items()
            if model != "IdempotencyRecord"
        }

    before = b_rows()
    ROUTES[route_name].check(world, route_name)
    assert b_rows() == before


# --- Bodies naming another restaurant ----------------------------------------------------------------


def test_restaurant_id_in_order_body_is_ignored(world):
    client = client_as(world.a.floor.waiter)
    b_orders = Order.objects.filter(restaurant=world.b.restaurant).count()
    response = client.post(
        "/api/v1/orders",
        {"tableSessionId": str(world.a.session.pk), "restaurantId": str(world.b.restaurant.pk)},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["restaurantId"] == str(world.a.restaurant.pk)
    order = Order.objects.get(pk=body["id"])
    assert order.restaurant_id == world.a.restaurant.pk
    assert order.table_session_id == world.a.session.pk
    assert Order.objects.filter(restaurant=world.b.restaurant).count() == b_orders


def test_restaurant_id_in_body_does_not_reach_the_other_restaurant(world):
    """B's session with B's restaurantId alongside: still 404, nothing created."""
    before = db_state()
    response = client_as(world.a.floor.manager).post(
        "/api/v1/orders",
        {"tableSessionId": str(world.b.session.pk), "restaurantId": str(world.b.restaurant.pk)},
        format="json",
    )
    assert_problem(response, 404)
    assert_db_unchanged(before)


def test_restaurant_id_in_session_and_item_bodies_is_ignored(world):
    client = client_as(world.a.floor.manager)
    b_id = str(world.b.restaurant.pk)
    seated = client.post(
        f"/api/v1/tables/{world.a.free_table.pk}/sessions", {"guests": 2, "restaurantId": b_id}, format="json"
    )
    assert seated.status_code == 201, seated.content
    assert seated.json()["restaurantId"] == str(world.a.restaurant.pk)
    assert TableSession.objects.get(pk=seated.json()["id"]).table_id == world.a.free_table.pk

    item = client.post(
        f"/api/v1/orders/{world.a.draft_order.pk}/items",
        {**ITEM_LINE, "restaurantId": b_id, "orderId": str(world.b.draft_order.pk)},
        format="json",
    )
    assert item.status_code == 201, item.content
    assert item.json()["orderId"] == str(world.a.draft_order.pk)
    assert world.b.draft_order.items.count() == 1


def test_restaurant_id_in_query_is_ignored_for_details(world):
    response = client_as(world.a.floor.manager).get(
        f"/api/v1/orders/{world.a.draft_order.pk}", {"restaurantId": str(world.b.restaurant.pk)}
    )
    assert response.status_code == 200
    assert response.json()["restaurantId"] == str(world.a.restaurant.pk)


def test_idempotency_keys_are_not_shared_across_restaurants(world):
    """B's key, reused by A, neither replays B's answer nor refuses A's request."""
    key = "shared-key-123"
    b_answer = client_as(world.b.floor.waiter).post(
        "/api/v1/orders", {"tableSessionId": str(world.b.session.pk)}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert b_answer.status_code == 201, b_answer.content
    a_answer = client_as(world.a.floor.waiter).post(
        "/api/v1/orders", {"tableSessionId": str(world.a.session.pk)}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert a_answer.status_code == 201, a_answer.content
    assert a_answer.get("Idempotent-Replayed") is None
    assert a_answer.json()["restaurantId"] == str(world.a.restaurant.pk)
    assert a_answer.json()["id"] != b_answer.json()["id"]
    assert str(world.b.restaurant.pk) not in a_answer.content.decode()

    # And A replaying with B's exact body (B's session) gets A's 404, not B's stored 201.
    replay = client_as(world.a.floor.manager).post(
        "/api/v1/orders", {"tableSessionId": str(world.b.session.pk)}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert_problem(replay, 404)
    assert IdempotencyRecord.objects.filter(key=key).count() == 3


def test_foreign_tokens_do_not_switch_restaurant(world):
    """A token whose claims name B's restaurant never acts for B: it does not match its
    user's restaurant, so it is refused outright (as after a move to another restaurant)."""
    token = AccessToken.for_user(world.a.floor.manager)
    token["restaurantId"] = str(world.b.restaurant.pk)
    client = client_as()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert_problem(client.get(f"/api/v1/orders/{world.b.draft_order.pk}"), 401)
    assert_problem(client.get("/api/v1/orders", {"pageSize": 200}), 401)
