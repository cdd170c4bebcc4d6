"""REST of kitchen operations' second part (issue 15): history, kitchen times, screens,
pickup calls. Views validate shape, call one selector or service, render."""

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from restaurant.tenancy import RestaurantScopedMixin
from restaurant.wire import BlankAsNullCharField, TimestampField

from .. import selectors
from .views import _READ


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
