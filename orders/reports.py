"""Kitchen times: how long the pass takes, per dish, station or hour of the day.

Two intervals of every item: fire → ready (`fired_at` to `ready_at`, the last READY: a
recall clears it) and ready → served (`ready_at` to `served_at`). Items count in the period
their course was fired in (`fired_at` in [start, end)); an item not yet ready counts nowhere.

On PostgreSQL the database computes everything in one grouped query: `percentile_cont`
(the continuous percentile, interpolating between the two nearest values) over
`EXTRACT(EPOCH FROM ready_at - fired_at)`, using the partial index on `fired_at`. SQLite has
no percentile function: there the database filters and groups the rows and
`percentile_cont` below computes the same interpolation (tests compare both on PostgreSQL).
"""

from __future__ import annotations

import math
import zoneinfo
from collections import defaultdict

from django.db import connection, transaction
from django.db.models import Count, F, FloatField, Func
from django.db.models.aggregates import Aggregate
from django.db.models.functions import Collate, ExtractHour

from .models import ItemStatus, OrderItem, Restaurant

GROUPS = ("item", "station", "hour")
FRACTIONS = {"P50": 0.5, "P90": 0.9}
INTERVALS = {"fireToReady": ("fired_at", "ready_at"), "readyToServed": ("ready_at", "served_at")}
UNROUTED = "(unrouted)"


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate `percentile_cont(ARRAY[f, …]) WITHIN GROUP (ORDER
    BY x)`: every fraction from one sort of the group."""

    function = "percentile_cont"
    template = "%(function)s(ARRAY[%(fractions)s]) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, fractions, **extra):
        from django.contrib.postgres.fields import ArrayField

        listed = ", ".join(repr(float(f)) for f in fractions)  # our constants, not input
        super().__init__(expression, fractions=listed, output_field=ArrayField(FloatField()), **extra)


class Seconds(Func):
    """Seconds from the first timestamp to the second (NULL when either is)."""

    template = "EXTRACT(EPOCH FROM (%(expressions)s))"
    arg_joiner = " - "
    output_field = FloatField()

    def __init__(self, start: str, end: str):
        super().__init__(F(end), F(start))


def percentile_cont(ordered: list[float], fraction: float) -> float | None:
    """PostgreSQL's `percentile_cont` of values in ascending order (None for none)."""
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _items(restaurant: Restaurant, start, end, station):
    items = OrderItem.objects.filter(
        order__restaurant=restaurant, fired_at__isnull=False, ready_at__isnull=False
    ).exclude(status=ItemStatus.CANCELLED)
    if start is not None:
        items = items.filter(fired_at__gte=start)
    if end is not None:
        items = items.filter(fired_at__lt=end)
    if station is not None:
        items = items.filter(station=station)
    return items


def _key(group_by: str, restaurant: Restaurant, in_database: bool):
    if group_by in ("item", "station"):
        field = "name" if group_by == "item" else group_by
        # PostgreSQL groups byte-wise ("C"): it sorts the rows to group them, and a
        # linguistic collation makes that sort several times slower (the order shown is by
        # count anyway).
        return Collate(field, "C") if in_database else F(field)
    return ExtractHour("fired_at", tzinfo=zoneinfo.ZoneInfo(restaurant.timezone))


# Enough for a year's rows of one restaurant to sort in memory (the default 4 MB spills to
# disk); only for the report's own transaction.
REPORT_WORK_MEM = "64MB"


@transaction.atomic
def _in_database(items, key):
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('work_mem', %s, true)", [REPORT_WORK_MEM])
    aggregates = {name: PercentileCont(Seconds(*fields), FRACTIONS.values())
                  for name, fields in INTERVALS.items()}
    rows = []
    for row in items.values(key=key).annotate(count=Count("id"), **aggregates).order_by():
        for name in INTERVALS:
            values = row.pop(name) or [None] * len(FRACTIONS)
            row.update({f"{name}{label}": value for label, value in zip(FRACTIONS, values)})
        rows.append(row)
    return rows


def _in_python(items, key):
    durations = defaultdict(lambda: {name: [] for name in INTERVALS})
    for row in items.values_list(key, "fired_at", "ready_at", "served_at").iterator(chunk_size=5000):
        times = dict(zip(("fired_at", "ready_at", "served_at"), row[1:]))
        for name, (start, end) in INTERVALS.items():
            if times[end] is not None:
                durations[row[0]][name].append((times[end] - times[start]).total_seconds())
    rows = []
    for group, by_interval in durations.items():
        row = {"key": group, "count": len(by_interval["fireToReady"])}
        for name, values in by_interval.items():
            values.sort()
            for label, fraction in FRACTIONS.items():
                row[f"{name}{label}"] = percentile_cont(values, fraction)
        rows.append(row)
    return rows


def _label(group_by: str, key) -> str:
    if group_by == "hour":
        return f"{int(key):02d}:00"
    if group_by == "station" and not key:
        return UNROUTED
    return key


def kitchen_times(
    *, restaurant: Restaurant, group_by: str = "item", start=None, end=None, station=None,
    in_database: bool | None = None,
) -> list[dict]:
    """Rows `{"key", "count", "fireToReadyP50", …, "readyToServedP90"}` (seconds, one
    decimal; None where nothing was served), by hour of the day in the restaurant's time
    zone for `hour`, else by count (busiest first)."""
    if group_by not in GROUPS:
        raise ValueError(group_by)
    if in_database is None:
        in_database = connection.vendor == "postgresql"
    items = _items(restaurant, start, end, station)
    key = _key(group_by, restaurant, in_database)
    rows = (_in_database if in_database else _in_python)(items, key)
    for row in rows:
        row["key"] = _label(group_by, row["key"])
        for name in INTERVALS:
            for label in FRACTIONS:
                value = row[f"{name}{label}"]
                row[f"{name}{label}"] = None if value is None else round(value, 1)
    if group_by == "hour":
        return sorted(rows, key=lambda r: r["key"])
    return sorted(rows, key=lambda r: (-r["count"], r["key"]))

