"""The kitchen times report (`GET /api/v1/reports/kitchen`) on a year of a busy restaurant.

Seeds (once; `--reseed` to start again) restaurant "Report bench" with 200,000 items fired,
made READY and SERVED over the last 365 days (20 dishes on 5 stations, 4 items an order),
and a second restaurant with 50,000 more that the report must skip, straight into
PostgreSQL with `generate_series` (the services would take an hour for this much). Then
times the report over the whole year for each `groupBy`, in the database
(`orders.reports.kitchen_times`) and as a whole HTTP request (auth, query, JSON), and
prints the medians as JSON. Target: under 500 ms.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_report SECRET_KEY=x DEBUG=1 \
        .venv/bin/python bench/report.py
"""

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "restaurant.settings")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402
from rest_framework_simplejwt.tokens import RefreshToken  # noqa: E402

from orders import reports  # noqa: E402
from orders.models import OrderItem, Restaurant, Role, Table, TableSession, User  # noqa: E402

STATIONS = ["grill", "fry", "cold", "pastry", "bar"]
ITEMS_PER_ORDER = 4

ORDERS_SQL = """
INSERT INTO orders_order (id, restaurant_id, table_session_id, status, notes, confirmed_at,
    cancel_reason, priority, created_at, updated_at)
SELECT gen_random_uuid(), %(restaurant)s, %(session)s, 'SERVED', '', t, '', 'NORMAL', t, t
FROM (SELECT %(now)s - (random() * interval '365 days') AS t FROM generate_series(1, %(orders)s)) s
"""
ITEMS_SQL = """
INSERT INTO orders_orderitem (id, order_id, name, qty, unit_price, station, status, notes,
    fired_at, ready_at, served_at, created_at, updated_at)
SELECT gen_random_uuid(), o.id, 'Dish ' || d, 1, 10.00, (%(stations)s::text[])[1 + d %% 5],
    'SERVED', '', o.confirmed_at,
    o.confirmed_at + (120 + random() * 900) * interval '1 second',
    o.confirmed_at + (1200 + random() * 240) * interval '1 second',
    o.confirmed_at, o.confirmed_at
FROM orders_order o
CROSS JOIN generate_series(1, %(per_order)s) n
CROSS JOIN LATERAL (SELECT abs(hashtext(o.id::text || n)) %% 20 AS d) dish
WHERE o.restaurant_id = %(restaurant)s
"""


@transaction.atomic
def seeded(slug: str, items: int, now) -> Restaurant:
    restaurant, created = Restaurant.objects.get_or_create(slug=slug, defaults={"name": slug})
    if not created and OrderItem.objects.filter(order__restaurant=restaurant).exists():
        return restaurant
    table, _ = Table.objects.get_or_create(restaurant=restaurant, name="R1")
    session = TableSession.objects.create(table=table)
    params = {"restaurant": restaurant.pk, "session": session.pk, "now": now,
              "orders": items // ITEMS_PER_ORDER, "per_order": ITEMS_PER_ORDER, "stations": STATIONS}
    with connection.cursor() as cursor:
        cursor.execute(ORDERS_SQL, params)
        cursor.execute(ITEMS_SQL, params)
    return restaurant


def median_ms(call, runs: int) -> float:
    call()  # warm: plans and caches, as a dashboard refreshed during service would have
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    assert connection.vendor == "postgresql", "set DATABASE_URL to a PostgreSQL database"
    call_command("migrate", verbosity=0)
    if args.reseed:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE orders_orderitem, orders_order, orders_tablesession CASCADE")
    now = timezone.now()
    started = time.perf_counter()
    restaurant = seeded("report-bench", args.items, now)
    seeded("report-bench-other", args.items // 4, now)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orders_order; ANALYZE orders_orderitem")
    seed_seconds = round(time.perf_counter() - started, 1)
    count = OrderItem.objects.filter(order__restaurant=restaurant).count()

    manager = User.objects.filter(email="manager@report.bench").first() or User.objects.create_user(
        email="manager@report.bench", password="password123", role=Role.MANAGER, restaurant=restaurant
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(manager).access_token}")
    year = {"from": (now - timedelta(days=366)).isoformat(), "to": now.isoformat()}
    result = {"items": count, "seedSeconds": seed_seconds, "runs": args.runs, "ms": {}}
    for group_by in reports.GROUPS:
        in_db = median_ms(lambda: reports.kitchen_times(
            restaurant=restaurant, group_by=group_by, start=now - timedelta(days=366), end=now,
        ), args.runs)

        def request():
            response = client.get("/api/v1/reports/kitchen", {**year, "groupBy": group_by})
            assert response.status_code == 200, response.content

        result["ms"][group_by] = {"query": in_db, "http": median_ms(request, args.runs)}
    cold = median_ms(lambda: client.get(
        "/api/v1/reports/kitchen", {**year, "groupBy": "item", "station": "grill", "format": "csv"}
    ), args.runs)
    result["ms"]["item, station=grill, csv"] = {"http": cold}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
