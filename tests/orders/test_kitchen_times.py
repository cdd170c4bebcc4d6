"""GET /reports/kitchen: p50/p90 of fire → ready and ready → served, against numbers worked
out by hand (PostgreSQL's percentile_cont interpolates: position f × (n − 1))."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from orders import reports, services
from orders.models import ItemStatus as I
from orders.models import OrderStatus, Role

from ..factories import OrderFactory, OrderItemFactory

BURGER_AT = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
SALAD_AT = datetime(2024, 3, 5, 19, 30, tzinfo=UTC)
URL = "/api/v1/reports/kitchen"


def _item(floor, name, station, fired, to_ready, to_served=None):
    order = OrderFactory(table_session=floor.session, status=OrderStatus.IN_PROGRESS)
    ready = fired + timedelta(seconds=to_ready)
    served = ready + timedelta(seconds=to_served) if to_served is not None else None
    return OrderItemFactory(
        order=order, name=name, station=station, status=I.SERVED if served else I.READY,
        fired_at=fired, ready_at=ready, served_at=served,
    )


@pytest.fixture
def fixture(floor, other_floor):
    for n, (to_ready, to_served) in enumerate([(60, 30), (120, 60), (180, 90), (240, None), (600, None)]):
        _item(floor, "Burger", "grill", BURGER_AT + timedelta(minutes=n), to_ready, to_served)
    _item(floor, "Salad", "cold", SALAD_AT, 100, 45)
    _item(floor, "Salad", "cold", SALAD_AT + timedelta(minutes=5), 200)
    # Not counted: not ready yet, fired after the period, another restaurant's.
    OrderItemFactory(
        order=OrderFactory(table_session=floor.session, status=OrderStatus.IN_PROGRESS),
        name="Burger", station="grill", status=I.IN_PROGRESS, fired_at=BURGER_AT,
    )
    _item(floor, "Burger", "grill", datetime(2024, 3, 7, tzinfo=UTC), 1, 1)
    _item(other_floor, "Burger", "grill", BURGER_AT, 5, 5)
    return floor


BURGER = {"key": "Burger", "count": 5, "fireToReadyP50": 180.0, "fireToReadyP90": 456.0,
          "readyToServedP50": 60.0, "readyToServedP90": 84.0}
SALAD = {"key": "Salad", "count": 2, "fireToReadyP50": 150.0, "fireToReadyP90": 190.0,
         "readyToServedP50": 45.0, "readyToServedP90": 45.0}
PERIOD = {"from": "2024-03-01", "to": "2024-03-06"}


@pytest.mark.parametrize("in_database", [
    pytest.param(True, marks=pytest.mark.postgres, id="percentile_cont"),
    pytest.param(False, id="fallback"),
])
def test_numbers_match_the_hand_computed_fixture(fixture, in_database):
    start, end = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 7, tzinfo=UTC)

    def rows(group_by, **kwargs):
        return reports.kitchen_times(
            restaurant=fixture.restaurant, group_by=group_by, start=start, end=end,
            in_database=in_database, **kwargs,
        )

    assert rows("item") == [BURGER, SALAD]
    assert rows("station") == [{**BURGER, "key": "grill"}, {**SALAD, "key": "cold"}]
    assert rows("hour") == [{**BURGER, "key": "12:00"}, {**SALAD, "key": "19:00"}]
    assert rows("item", station="cold") == [SALAD]


def test_hours_are_the_restaurants_local_hours(fixture):
    fixture.restaurant.timezone = "Europe/Madrid"  # UTC+1 in March 2024
    fixture.restaurant.save()
    rows = reports.kitchen_times(restaurant=fixture.restaurant, group_by="hour",
                                 start=BURGER_AT - timedelta(days=1), end=BURGER_AT + timedelta(days=1))
    assert [r["key"] for r in rows] == ["13:00", "20:00"]


def test_the_api_answers_managers_only_and_keeps_to_the_restaurant(fixture, other_floor):
    response = fixture.client(Role.MANAGER).get(URL, {**PERIOD, "groupBy": "item"})
    assert response.status_code == 200, response.content
    assert response.json() == {"rows": [BURGER, SALAD]}
    for role in (Role.WAITER, Role.KITCHEN):
        refused = fixture.client(role).get(URL, PERIOD)
        assert refused.status_code == 403
        assert refused["Content-Type"] == "application/problem+json"
    theirs = other_floor.client(Role.MANAGER).get(URL, PERIOD).json()["rows"]
    assert theirs == [{"key": "Burger", "count": 1, "fireToReadyP50": 5.0, "fireToReadyP90": 5.0,
                       "readyToServedP50": 5.0, "readyToServedP90": 5.0}]
    assert other_floor.client(Role.MANAGER).get(URL, {**PERIOD, "station": "cold"}).json() == {"rows": []}


def test_csv_parses_to_the_same_rows(fixture):
    response = fixture.client(Role.MANAGER).get(URL, {**PERIOD, "groupBy": "station", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows[0] == {"key": "grill", "count": "5", "fireToReadyP50": "180.0", "fireToReadyP90": "456.0",
                       "readyToServedP50": "60.0", "readyToServedP90": "84.0"}
    assert rows[1]["key"] == "cold" and len(rows) == 2


@pytest.mark.parametrize("params", [
    {"groupBy": "waiter"}, {"from": "yesterday"}, {"from": "2024-03-06", "to": "2024-03-01"},
    {"format": "xml"}, {"format": "csv", "groupBy": "waiter"},
])
def test_bad_parameters_are_400_problems(fixture, params):
    response = fixture.client(Role.MANAGER).get(URL, params)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"].endswith("validation-error")


def test_the_services_stamp_ready_and_served_and_a_recall_clears_ready(floor):
    waiter, cook = floor.waiter, floor.kitchen
    order = services.order_create(actor=waiter, table_session=floor.session)
    item = services.order_item_add(actor=waiter, order=order, qty=1, menu_item=floor.menu_item)
    services.order_confirm(actor=waiter, order=order)
    for status in (I.IN_PROGRESS, I.READY):
        services.item_set_status(actor=cook, item=item, status=status)
    item.refresh_from_db()
    first_ready = item.ready_at
    assert first_ready and item.served_at is None
    services.item_set_status(actor=cook, item=item, status=I.IN_PROGRESS)  # recall
    item.refresh_from_db()
    assert item.ready_at is None
    services.item_set_status(actor=cook, item=item, status=I.READY)
    services.item_set_status(actor=waiter, item=item, status=I.SERVED)
    item.refresh_from_db()
    assert item.fired_at <= first_ready < item.ready_at <= item.served_at
    rows = reports.kitchen_times(restaurant=floor.restaurant)
    assert [(r["key"], r["count"]) for r in rows] == [(floor.menu_item.name, 1)]


def test_the_admin_page_shows_the_rows_and_an_svg_chart_without_external_assets(fixture, other_floor):
    from django.test import Client

    client = Client()
    client.force_login(fixture.manager)
    response = client.get("/admin/kitchen-times/", PERIOD)
    assert response.status_code == 200
    page = response.content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="kitchen-times-chart"' in page
    assert page.count("<rect") >= 4 * 2 + 4  # four bars per dish, the legend's four
    assert "Burger" in page and "456.0" in page
    assert "<script src" not in page.split('id="content-main"')[1]
    csv_response = client.get("/admin/kitchen-times/", {**PERIOD, "format": "csv"})
    assert list(csv.DictReader(io.StringIO(csv_response.content.decode())))[0]["key"] == "Burger"
    for role in (Role.WAITER, Role.KITCHEN):
        other = Client()
        other.force_login(fixture.user(role))
        assert other.get("/admin/kitchen-times/").status_code == 302  # to the admin's login
    theirs = Client()
    theirs.force_login(other_floor.manager)
    assert "456.0" not in theirs.get("/admin/kitchen-times/", PERIOD).content.decode()
