"""REST of kitchen operations' second part (issue 15): history, kitchen times, screens,
pickup calls. Views validate shape, call one selector or service, render."""

import csv
import io
import zoneinfo
from datetime import datetime, time, timedelta

from djangorestframework_camel_case.render import CamelCaseJSONRenderer
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from restaurant.tenancy import RestaurantScopedMixin, roles_allowed
from restaurant.wire import BlankAsNullCharField, TimestampField

from .. import reports, selectors, services
from ..models import Role
from .idempotency import idempotent
from .serializers import OrderSerializer
from .views import _AUTHED, _READ, _WRITE, IDEMPOTENCY_KEY, OrderScopedMixin, problems


class HistoryActorSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="actor_id")
    name = serializers.CharField(source="actor_name")
    role = serializers.CharField(source="actor_role")


class HistoryEntrySerializer(serializers.Serializer):
    at = TimestampField()
    action = serializers.CharField()
    actor = serializers.SerializerMethodField(
        help_text="Null for what the restaurant's automation did (automatic course firing)."
    )
    screen_id = serializers.UUIDField(allow_null=True, help_text="The kitchen screen it came from.")
    item_id = serializers.UUIDField(allow_null=True)
    from_ = BlankAsNullCharField(source="from_value")
    to = BlankAsNullCharField(source="to_value")
    reason = BlankAsNullCharField()

    def get_fields(self):
        fields = super().get_fields()  # `from` is a Python keyword: named here
        return {("from" if name == "from_" else name): field for name, field in fields.items()}

    @extend_schema_field(HistoryActorSerializer(allow_null=True))
    def get_actor(self, entry):
        return HistoryActorSerializer(entry).data if entry.actor_id else None


class OrderHistoryView(RestaurantScopedMixin, APIView):
    @extend_schema(
        responses={200: HistoryEntrySerializer(many=True), **_READ},
        description="The order's every change, oldest first, with who made it (append-only; "
        "kept HISTORY_RETENTION_DAYS).",
    )
    def get(self, request, order_id):
        entries = selectors.order_history(restaurant=self.restaurant, order_id=order_id)
        return Response(HistoryEntrySerializer(entries, many=True).data)


# --- Kitchen times ---------------------------------------------------------------------------


@extend_schema_field({"type": "string", "description": "A date (YYYY-MM-DD) or an ISO-8601 timestamp."})
class DateOrTimestampField(serializers.Field):
    """A timestamp, or a date: the restaurant's midnight that starts it (`to`: that ends it)."""

    def __init__(self, *, end_of_day=False, **kwargs):
        super().__init__(**kwargs)
        self.end_of_day = end_of_day

    def to_internal_value(self, data):
        if isinstance(data, str) and len(data) == 10:
            day = serializers.DateField().run_validation(data)
            return ("date", day + timedelta(days=1) if self.end_of_day else day)
        return ("at", serializers.DateTimeField().run_validation(data))


class KitchenTimesQuerySerializer(serializers.Serializer):
    from_ = DateOrTimestampField(required=False, help_text="A date (the restaurant's) or a timestamp.")
    to = DateOrTimestampField(required=False, end_of_day=True, help_text="Inclusive date, or an exclusive timestamp.")
    station = serializers.CharField(required=False, max_length=50)
    groupBy = serializers.ChoiceField(choices=reports.GROUPS, default="item")
    format = serializers.ChoiceField(choices=["json", "csv"], required=False)

    def get_fields(self):
        fields = super().get_fields()
        return {("from" if name == "from_" else name): field for name, field in fields.items()}

    def validate(self, data):
        bounds = [data.get("from"), data.get("to")]
        if all(bounds) and self.instant(bounds[0]) >= self.instant(bounds[1]):
            raise serializers.ValidationError({"to": ["Later than from."]})
        return data

    def instant(self, value):
        """A bound as a timestamp; dates at midnight in the restaurant's time zone."""
        if value is None:
            return None
        kind, when = value
        if kind == "at":
            return when
        zone = zoneinfo.ZoneInfo(self.context["restaurant"].timezone)
        return datetime.combine(when, time.min, tzinfo=zone)


class KitchenTimesRowSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The dish's name, the station, or the hour (`14:00`).")
    count = serializers.IntegerField()
    fire_to_ready_p50 = serializers.FloatField(allow_null=True)
    fire_to_ready_p90 = serializers.FloatField(allow_null=True)
    ready_to_served_p50 = serializers.FloatField(allow_null=True)
    ready_to_served_p90 = serializers.FloatField(allow_null=True)


class KitchenTimesSerializer(serializers.Serializer):
    rows = KitchenTimesRowSerializer(many=True)


CSV_COLUMNS = ["key", "count", "fireToReadyP50", "fireToReadyP90", "readyToServedP50", "readyToServedP90"]


class KitchenTimesCSVRenderer(CamelCaseJSONRenderer):
    """`?format=csv`: the rows as CSV; anything else (a problem) as JSON, like every error."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if not (isinstance(data, dict) and "rows" in data):
            return super().render(data, "application/json", renderer_context)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(data["rows"])
        return out.getvalue().encode()


def kitchen_times_rows(restaurant, params) -> list[dict]:
    query = KitchenTimesQuerySerializer(data=params, context={"restaurant": restaurant})
    query.is_valid(raise_exception=True)
    data = query.validated_data
    return reports.kitchen_times(
        restaurant=restaurant, group_by=data["groupBy"], station=data.get("station"),
        start=query.instant(data.get("from")), end=query.instant(data.get("to")),
    )


class KitchenTimesReportView(RestaurantScopedMixin, APIView):
    permission_classes = [roles_allowed(Role.MANAGER)]
    renderer_classes = [CamelCaseJSONRenderer, KitchenTimesCSVRenderer]

    @extend_schema(
        parameters=[KitchenTimesQuerySerializer],
        responses={200: KitchenTimesSerializer, (200, "text/csv"): OpenApiTypes.STR,
                   **problems(400, *_AUTHED)},
    )
    def get(self, request):
        return Response({"rows": kitchen_times_rows(self.restaurant, request.query_params)})

    def perform_content_negotiation(self, request, force=False):
        # DRF answers an unknown `?format=` with 404; it is bad input (400) like the others.
        if not force and request.query_params.get("format") not in (None, "json", "csv"):
            raise serializers.ValidationError({"format": ['"json" or "csv".']})
        return super().perform_content_negotiation(request, force)


# --- Expo ------------------------------------------------------------------------------------


class OrderCallView(OrderScopedMixin, APIView):
    @extend_schema(
        request=None, responses={200: OrderSerializer, **_WRITE}, parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def post(self, request, order_id):
        order = services.order_call_pickup(actor=request.user, order=self._order_ref(order_id))
        return self._render(order)
