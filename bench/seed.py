"""Bench data in the bench database, through the project's own services. Idempotent.

Prints JSON: the restaurant, 16 open table sessions (one per REST-flow client), access
tokens, and the items the transition driver toggles. Each of those items has a sibling that
stays IN_PROGRESS, so its order stays IN_PROGRESS whether the toggled item is PENDING or
IN_PROGRESS: every transition (PENDING <-> IN_PROGRESS, a kitchen recall) is exactly one
event, `order.item.status.changed`, on both servers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_restaurant SECRET_KEY=... \
    ACCESS_TOKEN_LIFETIME=86400 .venv/bin/python bench/seed.py --orders 400
"""

import argparse
import json
import os
import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "restaurant.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from orders import services  # noqa: E402
from orders.auth_services import _issue  # noqa: E402
from realtime.models import OutboxEvent  # noqa: E402
from orders.models import (  # noqa: E402
    ItemStatus, Order, OrderItem, OrderStatus, Restaurant, Role, Table, TableSession, TableSessionStatus, User,
)

SESSIONS = 16


def user(restaurant, email, role):
    found = User.objects.filter(email=email).first()
    if found is None:
        found = User.objects.create_user(email=email, password="password123", role=role, restaurant=restaurant)
    return found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=400)
    args = parser.parse_args()

    restaurant, _ = Restaurant.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    manager = user(restaurant, "manager@bench.test", Role.MANAGER)
    waiter = user(restaurant, "waiter@bench.test", Role.WAITER)
    sessions = []
    for number in range(1, SESSIONS + 1):
        table, _ = Table.objects.get_or_create(restaurant=restaurant, name=f"B{number}")
        session = TableSession.objects.filter(table=table, status=TableSessionStatus.OPEN).first()
        if session is None:
            session = services.table_session_open(actor=waiter, table=table)
        sessions.append(str(session.pk))

    toggled = list(
        OrderItem.objects.filter(order__restaurant=restaurant, order__notes="bench-toggle", notes="toggle")
        .order_by("created_at").values_list("order_id", "id")
    )
    first_session = TableSession.objects.get(pk=sessions[0])
    while len(toggled) < args.orders:
        order = services.order_create(actor=waiter, table_session=first_session, notes="bench-toggle")
        item = services.order_item_add(actor=waiter, order=order, qty=1, name="Toggle", unit_price=Decimal("1.00"), notes="toggle")
        held = services.order_item_add(actor=waiter, order=order, qty=1, name="Held", unit_price=Decimal("1.00"), notes="held")
        services.order_confirm(actor=waiter, order=order)
        services.item_set_status(actor=manager, item=held, status=ItemStatus.IN_PROGRESS)
        toggled.append((order.pk, item.pk))
    toggled = toggled[: args.orders]
    # Every run starts from PENDING (a direct write: no events, this is bench setup).
    OrderItem.objects.filter(pk__in=[i for _, i in toggled]).update(status=ItemStatus.PENDING)
    Order.objects.filter(pk__in=[o for o, _ in toggled]).update(status=OrderStatus.IN_PROGRESS)
    # REST-flow orders of earlier runs: drop them so the tables stay small.
    Order.objects.filter(restaurant=restaurant, notes="bench-flow").delete()
    # Setup events are not part of any measurement: don't let a server publish them later.
    OutboxEvent.objects.filter(published_at__isnull=True).update(published_at=timezone.now())
    connection.close()
    from steady import revocation_marks_in_place

    revocation_marks_in_place()
    print(json.dumps({
        "restaurantId": str(restaurant.pk),
        "sessions": sessions,
        "tokens": {"manager": _issue(manager).access_token, "waiter": _issue(waiter).access_token},
        "items": [[str(o), str(i)] for o, i in toggled],
    }))


if __name__ == "__main__":
    main()
