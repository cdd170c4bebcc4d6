"""The README's curl walk-through, end to end through the test client, on seed_demo's data.

Also: seed_demo itself, /healthz, the OpenAPI schema and the Swagger UI page.
"""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from orders.api import urls as api_urls
from orders.models import (
    MenuItem,
    Order,
    OrderItem,
    Restaurant,
    Role,
    Table,
    TableSession,
    TableSessionStatus,
    User,
)

from ._wire_support import (
    ITEM_KEYS,
    ORDER_KEYS,
    assert_item_json,
    assert_money,
    assert_order_json,
    assert_problem,
    assert_timestamp,
    assert_uuid,
    bearer,
    login,
)

DEMO_PASSWORD = "password123"


def seed(**kwargs) -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out, **kwargs)
    return out.getvalue()


@pytest.fixture
def demo(db, settings):
    settings.DEBUG = True  # seed_demo refuses with DEBUG off (tested below)
    seed()
    return Restaurant.objects.get(slug="demo")


def _token(email: str) -> str:
    response = login(email, DEMO_PASSWORD)
    assert response.status_code == 200, response.content
    return response.json()["accessToken"]


def _results(response) -> list:
    assert response.status_code == 200, response.content
    body = response.json()
    assert {"count", "next", "previous", "results"} <= set(body)
    return body["results"]


# --- The curl flow ----------------------------------------------------------------------------


def test_readme_curl_flow(demo):
    # TOKEN=$(curl -X POST .../auth/login -d '{"email":"waiter@restaurante.com",...}')
    login_response = login("waiter@restaurante.com", DEMO_PASSWORD)
    assert login_response.status_code == 200, login_response.content
    waiter_login = login_response.json()
    assert waiter_login["user"]["role"] == "WAITER"
    assert waiter_login["user"]["restaurantId"] == str(demo.pk)
    waiter = bearer(waiter_login["accessToken"])

    # The open session seed_demo made.
    sessions = _results(waiter.get("/api/v1/table-sessions", {"status": "OPEN"}))
    assert len(sessions) == 1, sessions
    session = sessions[0]
    assert session["status"] == "OPEN"
    assert session["restaurantId"] == str(demo.pk)
    assert_uuid(session["id"])

    # ORDER_ID=$(curl -X POST .../orders -d '{"tableSessionId":"..."}')
    created = waiter.post("/api/v1/orders", {"tableSessionId": session["id"]}, format="json")
    assert created.status_code == 201, created.content
    order = created.json()
    assert_order_json(order)
    assert order["status"] == "DRAFT"
    assert order["items"] == []
    assert order["total"] == "0.00"
    assert order["notes"] is None
    assert order["tableSessionId"] == session["id"]
    assert order["restaurantId"] == str(demo.pk)
    order_id = order["id"]

    # curl -X POST .../orders/$ORDER_ID/items -d '{"name":"Hamburguesa","qty":2,"unitPrice":15.50}'
    # (a JSON number, exactly as the reference's curl sends it)
    burger = waiter.post(
        f"/api/v1/orders/{order_id}/items",
        data='{"name":"Hamburguesa","qty":2,"unitPrice":15.50}',
        content_type="application/json",
    )
    assert burger.status_code == 201, burger.content
    burger = burger.json()
    assert_item_json(burger)
    assert (burger["name"], burger["qty"], burger["unitPrice"], burger["status"]) == (
        "Hamburguesa", 2, "15.50", "PENDING",
    )
    assert burger["orderId"] == order_id
    assert burger["notes"] is None

    # An item from the menu.
    menu = _results(waiter.get("/api/v1/menu-items"))
    fries = next(m for m in menu if m["name"] == "Papas fritas")
    assert_money(fries["price"], "4.50")
    from_menu = waiter.post(
        f"/api/v1/orders/{order_id}/items",
        {"menuItemId": fries["id"], "qty": 1, "notes": "sin sal"},
        format="json",
    )
    assert from_menu.status_code == 201, from_menu.content
    fries_item = from_menu.json()
    assert_item_json(fries_item)
    assert (fries_item["name"], fries_item["qty"], fries_item["unitPrice"]) == (
        "Papas fritas", 1, "4.50",
    )
    assert fries_item["notes"] == "sin sal"

    # curl -X POST .../orders/$ORDER_ID/confirm
    confirmed = waiter.post(f"/api/v1/orders/{order_id}/confirm")
    assert confirmed.status_code == 200, confirmed.content
    order = confirmed.json()
    assert_order_json(order)
    assert order["status"] == "CONFIRMED"
    assert order["total"] == "35.50"
    assert [i["id"] for i in order["items"]] == [burger["id"], fries_item["id"]]
    assert all(i["status"] == "PENDING" for i in order["items"])

    # KITCHEN_TOKEN=$(curl -X POST .../auth/login -d '{"email":"kitchen@restaurante.com",...}')
    kitchen = bearer(_token("kitchen@restaurante.com"))

    def move(client, item_id, status):
        response = client.post(
            f"/api/v1/orders/{order_id}/items/{item_id}/status", {"status": status}, format="json"
        )
        assert response.status_code == 200, (status, response.content)
        item = response.json()
        assert_item_json(item)
        assert item["status"] == status
        return item

    def order_status():
        response = waiter.get(f"/api/v1/orders/{order_id}")
        assert response.status_code == 200
        assert_order_json(response.json())
        return response.json()["status"]

    # curl -X POST .../orders/$ORDER_ID/items/$ITEM_ID/status -d '{"status":"IN_PROGRESS"}'
    move(kitchen, burger["id"], "IN_PROGRESS")
    assert order_status() == "IN_PROGRESS"
    move(kitchen, burger["id"], "READY")
    assert order_status() == "IN_PROGRESS"  # the fries have not started
    move(kitchen, fries_item["id"], "IN_PROGRESS")
    assert order_status() == "IN_PROGRESS"
    move(kitchen, fries_item["id"], "READY")
    assert order_status() == "READY"

    # The kitchen does not serve; the waiter does.
    refused = kitchen.post(
        f"/api/v1/orders/{order_id}/items/{burger['id']}/status", {"status": "SERVED"},
        format="json",
    )
    assert_problem(refused, 403, "forbidden")

    move(waiter, burger["id"], "SERVED")
    assert order_status() == "READY"
    served = move(waiter, fries_item["id"], "SERVED")
    assert order_status() == "SERVED"

    final = waiter.get(f"/api/v1/orders/{order_id}").json()
    assert final["total"] == "35.50"
    assert [i["status"] for i in final["items"]] == ["SERVED", "SERVED"]
    assert final["updatedAt"] >= order["updatedAt"]
    assert served["updatedAt"] >= served["createdAt"]

    # Tenant isolation: the Other restaurant's waiter cannot see it.
    other = bearer(_token("waiter@other.com"))
    assert_problem(other.get(f"/api/v1/orders/{order_id}"), 404, "not-found")
    assert all(o["id"] != order_id for o in _results(other.get("/api/v1/orders")))

    # Clear the table.
    closed = waiter.post(f"/api/v1/table-sessions/{session['id']}/close")
    assert closed.status_code == 200, closed.content
    closed = closed.json()
    assert closed["status"] == "CLOSED"
    assert_timestamp(closed["closedAt"])
    assert _results(waiter.get("/api/v1/table-sessions", {"status": "OPEN"})) == []
    assert TableSession.objects.get(pk=session["id"]).status == TableSessionStatus.CLOSED


def test_order_list_shapes_and_filters(demo):
    waiter = bearer(_token("waiter@restaurante.com"))
    session_id = _results(waiter.get("/api/v1/table-sessions", {"status": "OPEN"}))[0]["id"]
    order_id = waiter.post("/api/v1/orders", {"tableSessionId": session_id}, format="json").json()["id"]
    waiter.post(f"/api/v1/orders/{order_id}/items", {"name": "Flan", "qty": 3, "unitPrice": "5.5"}, format="json")

    orders = _results(waiter.get("/api/v1/orders", {"tableSessionId": session_id}))
    assert len(orders) == 1
    assert set(orders[0]) == ORDER_KEYS
    assert set(orders[0]["items"][0]) == ITEM_KEYS
    assert_order_json(orders[0])
    assert orders[0]["total"] == "16.50"
    assert orders[0]["items"][0]["unitPrice"] == "5.50"
    assert _results(waiter.get("/api/v1/orders", {"status": "CONFIRMED"})) == []
    assert len(_results(waiter.get("/api/v1/orders", {"status": "DRAFT"}))) == 1

    item = waiter.get(f"/api/v1/orders/{order_id}/items/{orders[0]['items'][0]['id']}")
    assert item.status_code == 200
    assert_item_json(item.json())


# --- seed_demo --------------------------------------------------------------------------------


def _counts() -> dict:
    return {
        "restaurants": Restaurant.objects.count(),
        "tables": Table.objects.count(),
        "menu": MenuItem.objects.count(),
        "users": User.objects.count(),
        "sessions": TableSession.objects.count(),
        "open_sessions": TableSession.objects.filter(status=TableSessionStatus.OPEN).count(),
        "orders": Order.objects.count(),
        "items": OrderItem.objects.count(),
    }


def test_seed_demo_is_idempotent(demo):
    first = _counts()
    users_before = dict(User.objects.values_list("email", "password"))
    seed()
    assert _counts() == first
    assert dict(User.objects.values_list("email", "password")) == users_before
    assert first["restaurants"] == 2
    assert first["open_sessions"] == 2  # one per restaurant
    assert first["orders"] == 0


def test_seed_demo_creates_demo_and_other(demo):
    other = Restaurant.objects.get(slug="other")
    assert demo.name == "Demo" and other.name == "Other"
    expected = {
        "manager@restaurante.com": (Role.MANAGER, demo, True),
        "waiter@restaurante.com": (Role.WAITER, demo, False),
        "kitchen@restaurante.com": (Role.KITCHEN, demo, False),
        "waiter@other.com": (Role.WAITER, other, False),
    }
    for email, (role, restaurant, is_staff) in expected.items():
        user = User.objects.get(email=email)
        assert (user.role, user.restaurant_id, user.is_staff, user.is_active) == (
            role, restaurant.pk, is_staff, True,
        ), email
        assert user.check_password(DEMO_PASSWORD)
        assert not user.is_superuser
    for restaurant in (demo, other):
        assert restaurant.tables.exists()
        assert restaurant.menu.filter(active=True).exists()
        assert TableSession.objects.filter(
            table__restaurant=restaurant, status=TableSessionStatus.OPEN
        ).count() == 1
    assert MenuItem.objects.get(restaurant=demo, name="Hamburguesa").price == Decimal("15.50")


def test_seed_demo_converges_after_changes(demo):
    """Run again after the demo was used: passwords, roles and the open session come back."""
    waiter = User.objects.get(email="waiter@restaurante.com")
    waiter.set_password("changed-it-123")
    waiter.is_active = False
    waiter.save()
    session = TableSession.objects.get(table__restaurant=demo, status=TableSessionStatus.OPEN)
    session.status, session.closed_at = TableSessionStatus.CLOSED, session.updated_at
    session.save()
    seed()
    waiter.refresh_from_db()
    assert waiter.is_active and waiter.check_password(DEMO_PASSWORD)
    assert TableSession.objects.filter(
        table__restaurant=demo, status=TableSessionStatus.OPEN
    ).count() == 1


def test_seed_demo_refuses_with_debug_off_unless_forced(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        seed()
    assert not Restaurant.objects.exists()
    assert not User.objects.exists()

    seed(force=True)
    assert Restaurant.objects.filter(slug__in=["demo", "other"]).count() == 2
    assert User.objects.filter(email="waiter@other.com").exists()


def test_seed_demo_force_flag_on_the_command_line(db, settings):
    settings.DEBUG = False
    call_command("seed_demo", "--force", stdout=io.StringIO())
    assert Restaurant.objects.count() == 2


# --- Health, schema, docs ---------------------------------------------------------------------


def test_healthz(db, client):
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["channelLayer"]["status"] == "ok"


def _api_v1_paths() -> set[str]:
    """Every route of orders/api/urls.py, written as OpenAPI paths."""
    paths = set()
    for pattern in api_urls.urlpatterns:
        route = str(pattern.pattern)
        paths.add("/api/v1/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))
    return paths


def _normalise(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_openapi_schema_lists_every_api_path(db, client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200, response.content
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"]
    documented = {_normalise(p) for p in schema["paths"]}
    expected = {_normalise(p) for p in _api_v1_paths()}
    assert len(expected) == len(api_urls.urlpatterns) >= 17
    missing = expected - documented
    assert not missing, sorted(missing)

    # Each method a route serves is documented.
    ops = {_normalise(p): set(v) for p, v in schema["paths"].items()}
    assert {"get", "post"} <= ops[_normalise("/api/v1/orders")]
    assert {"get", "patch", "delete"} <= ops[_normalise("/api/v1/orders/{order_id}/items/{item_id}")]
    assert "post" in ops[_normalise("/api/v1/orders/{order_id}/items/{item_id}/status")]


def test_openapi_schema_yaml_default(db, client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"openapi: 3." in response.content


def test_swagger_ui_uses_no_external_assets(db, client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "swagger-ui" in html.lower()
    assert not re.search(r"https?://", html), re.findall(r"https?://[^\s\"'<>]+", html)
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert assets, "the page loads Swagger UI from somewhere"
    for asset in assets:
        assert asset.startswith("/") and not asset.startswith("//"), asset
    # And those local assets are really served.
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset
        if hasattr(served, "close"):
            served.close()


def test_readme_kitchen_walk_through(demo):
    """README step 7: a modifier, a course held then fired, an 86 with a countdown."""
    waiter = bearer(_token("waiter@restaurante.com"))
    kitchen = bearer(_token("kitchen@restaurante.com"))
    session_id = _results(waiter.get("/api/v1/table-sessions", {"status": "OPEN"}))[0]["id"]
    menu = {m["name"]: m for m in _results(waiter.get("/api/v1/menu-items", {"pageSize": 100}))}
    burger, soup, flan = menu["Hamburguesa"], menu["Sopa del día"], menu["Flan"]
    options = {o["name"]: o["id"] for m in menu.values() for g in m["modifierGroups"] for o in g["options"]}
    order_id = waiter.post("/api/v1/orders", {"tableSessionId": session_id}, format="json").json()["id"]

    starter = waiter.post(f"/api/v1/orders/{order_id}/items",
                          {"menuItemId": soup["id"], "qty": 1, "allergies": ["celery"]}, format="json")
    assert starter.status_code == 201, starter.content
    assert (starter.json()["course"], starter.json()["allergenConflicts"]) == (1, ["celery"])
    main = waiter.post(f"/api/v1/orders/{order_id}/items", {
        "menuItemId": burger["id"], "qty": 1,
        "modifiers": [{"optionId": options["Al punto"]}, {"optionId": options["Bacon"]}, {"name": "sin cebolla"}],
    }, format="json")
    assert main.status_code == 201, main.content
    assert [m["name"] for m in main.json()["modifiers"]] == ["Al punto", "Bacon", "sin cebolla"]

    confirmed = waiter.post(f"/api/v1/orders/{order_id}/confirm").json()
    assert confirmed["number"] >= 1
    assert confirmed["total"] == "23.50"  # 6.50 + 15.50 + 1.50
    fired = {i["name"]: i["firedAt"] for i in confirmed["items"]}
    assert fired["Sopa del día"] is not None and fired["Hamburguesa"] is None
    start = f"/api/v1/orders/{order_id}/items/{main.json()['id']}/status"
    assert_problem(kitchen.post(start, {"status": "IN_PROGRESS"}, format="json"), 409, "course-held")
    after_fire = waiter.post(f"/api/v1/orders/{order_id}/fire", {"course": 2}, format="json")
    assert after_fire.status_code == 200, after_fire.content
    assert all(i["firedAt"] for i in after_fire.json()["items"])

    availability = f"/api/v1/menu-items/{flan['id']}/availability"
    counted = kitchen.post(availability, {"available": True, "remaining": 2}, format="json").json()
    assert (counted["available"], counted["remaining"]) == (True, 2)
    assert_problem(waiter.post(f"/api/v1/orders/{order_id}/items", {"menuItemId": flan["id"], "qty": 3},
                               format="json"), 409, "item-unavailable")
    off = kitchen.post(availability, {"available": False}, format="json").json()
    assert (off["available"], off["remaining"]) == (False, 2)


def test_demo_menu_has_what_the_contract_names(demo):
    """CONTRACT.md, "Demo data": allergens, a required single choice and a priced optional
    group on one dish, courses 1 to 3, drinks at the bar."""
    dishes = {m.name: m for m in MenuItem.objects.filter(restaurant=demo).prefetch_related("modifier_groups__options")}
    burger = dishes["Hamburguesa"]
    groups = {g.name: g for g in burger.modifier_groups.all()}
    assert (groups["Punto"].min_select, groups["Punto"].max_select) == (1, 1)
    assert groups["Extras"].min_select == 0
    assert any(o.price_delta > 0 for o in groups["Extras"].options.all())
    assert burger.allergens and burger.course == 2
    assert {m.course for m in dishes.values()} == {1, 2, 3}
    assert {dishes["Limonada"].station, dishes["Café"].station} == {"bar"}
