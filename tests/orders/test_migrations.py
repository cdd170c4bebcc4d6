"""Data migrations of `orders`, run against the current schema."""

import datetime
import importlib
import zoneinfo
from types import SimpleNamespace

from django.apps import apps
from django.db import connection
from django.utils import timezone

from orders import services
from orders.models import OrderStatus, TicketCounter
from tests.factories import OrderFactory, OrderItemFactory

counters_from_order_numbers = importlib.import_module(
    "orders.migrations.0006_ticket_counters_from_order_numbers"
)


def _today(restaurant):
    return timezone.localdate(timezone=zoneinfo.ZoneInfo(restaurant.timezone))


def test_ticket_counters_start_from_each_restaurant_days_highest_number(floor, other_floor):
    yesterday = datetime.date(2026, 3, 1)
    for session, number, day in [
        (floor.session, 1, yesterday), (floor.session, 4, yesterday), (floor.session, 2, None),
        (other_floor.session, 7, None),
    ]:
        OrderFactory(table_session=session, status=OrderStatus.CONFIRMED, number=number,
                     service_date=day or _today(session.table.restaurant))
    OrderFactory(table_session=floor.session)  # a draft: no number yet
    today = _today(floor.restaurant)

    # The migration reads only the schema editor's connection.
    counters_from_order_numbers.count_from_existing_orders(apps, SimpleNamespace(connection=connection))

    assert set(TicketCounter.objects.values_list("restaurant", "service_date", "last_number")) == {
        (floor.restaurant.pk, yesterday, 4), (floor.restaurant.pk, today, 2),
        (other_floor.restaurant.pk, _today(other_floor.restaurant), 7),
    }
    draft = OrderFactory(table_session=floor.session)
    OrderItemFactory(order=draft)
    assert services.order_confirm(actor=floor.waiter, order=draft).number == 3
