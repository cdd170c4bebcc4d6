"""Query filters for the list endpoints. Parameter names are camelCase, as on the wire."""

import django_filters as filters

from ..models import (
    ItemStatus,
    MenuItem,
    Order,
    OrderStatus,
    Table,
    TableSession,
    TableSessionStatus,
)


class StatusInFilter(filters.BaseInFilter, filters.ChoiceFilter):
    """`?status=CONFIRMED,IN_PROGRESS`."""


class OrderFilter(filters.FilterSet):
    status = StatusInFilter(choices=OrderStatus.choices, help_text="One or more, comma-separated.")
    tableSessionId = filters.UUIDFilter(field_name="table_session_id")
    updatedSince = filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte",
        help_text="Only orders changed at or after this ISO-8601 instant (for incremental sync).",
    )
    itemStatus = StatusInFilter(
        field_name="items__status", choices=ItemStatus.choices, distinct=True,
        help_text="Orders having at least one item in one of these statuses.",
    )

    class Meta:
        model = Order
        fields = []


class TableSessionFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=TableSessionStatus.choices)
    tableId = filters.UUIDFilter(field_name="table_id")

    class Meta:
        model = TableSession
        fields = []


class TableFilter(filters.FilterSet):
    active = filters.BooleanFilter()

    class Meta:
        model = Table
        fields = []


class MenuItemFilter(filters.FilterSet):
    active = filters.BooleanFilter()
    station = filters.CharFilter(max_length=50)

    class Meta:
        model = MenuItem
        fields = []
