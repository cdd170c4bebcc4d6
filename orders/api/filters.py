"""Query filters for the list endpoints. Parameter names are camelCase, as on the wire."""

from datetime import UTC

import django_filters as filters
from django import forms
from django_filters.fields import IsoDateTimeField
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.utils import extend_schema_field

from ..models import (
    MAX_COURSE,
    ItemStatus,
    MenuItem,
    Order,
    OrderStatus,
    Table,
    TableSession,
    TableSessionStatus,
)


class EmptyFilterIgnoredExtension(DjangoFilterExtension):
    """Schema: a filter given an empty value (`?status=`) is not applied, as django-filter
    does; say so (`allowEmptyValue`), so that clients and the fuzzer know it is accepted."""

    priority = 1

    def get_schema_operation_parameters(self, auto_schema, *args, **kwargs):
        parameters = super().get_schema_operation_parameters(auto_schema, *args, **kwargs)
        for parameter in parameters:
            parameter["allowEmptyValue"] = True
        return parameters


class StatusInFilter(filters.BaseInFilter, filters.ChoiceFilter):
    """`?status=CONFIRMED,IN_PROGRESS`."""


class InstantField(IsoDateTimeField):
    def clean(self, value):
        instant = super().clean(value)
        if instant is None:
            return None
        try:
            # In UTC: PostgreSQL refuses UTC offsets beyond ±15:59 that ISO-8601 allows.
            return instant.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("Out of range.", code="invalid") from None


class InstantFilter(filters.IsoDateTimeFilter):
    field_class = InstantField


@extend_schema_field({"type": "string", "enum": ["true", "false"]})
class StrictBooleanFilter(filters.TypedChoiceFilter):
    """`true` or `false`; anything else is a 400, not silently ignored."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", [("true", "true"), ("false", "false")])
        kwargs.setdefault("coerce", lambda value: value == "true")
        super().__init__(*args, **kwargs)


class OrderFilter(filters.FilterSet):
    status = StatusInFilter(choices=OrderStatus.choices, help_text="One or more, comma-separated.")
    tableSessionId = filters.UUIDFilter(field_name="table_session_id")
    updatedSince = InstantFilter(
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
    active = StrictBooleanFilter()

    class Meta:
        model = Table
        fields = []


class MenuItemFilter(filters.FilterSet):
    active = StrictBooleanFilter()
    available = StrictBooleanFilter(help_text="false: the dishes 86'd right now.")
    station = filters.CharFilter(max_length=50)
    course = filters.ChoiceFilter(
        choices=[(str(n), str(n)) for n in range(1, MAX_COURSE + 1)], help_text="1 to 9."
    )

    class Meta:
        model = MenuItem
        fields = []
