"""`GET /api/v1/screens`: the restaurant's kitchen screens, live (realtime.screens)."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from orders.api.views import _AUTHED, problems
from orders.models import Role
from restaurant.tenancy import RestaurantScopedMixin, roles_allowed
from restaurant.wire import TimestampField

from . import screens


class ScreenSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    station = serializers.CharField(help_text="Empty: the screen shows every station.")
    online = serializers.BooleanField(help_text="A socket of it open, or closed less than SCREEN_OFFLINE_SECONDS ago.")
    connected_at = TimestampField(allow_null=True)
    last_seen_at = TimestampField(allow_null=True)
    last_acked_event_id = serializers.CharField(help_text="The last event it drew and acknowledged.")
    lag_events = serializers.IntegerField(help_text="Events since then.")
    behind = serializers.BooleanField(help_text="Online, with an event older than SCREEN_OFFLINE_SECONDS not acknowledged.")


class ScreenListView(RestaurantScopedMixin, APIView):
    permission_classes = [roles_allowed(Role.MANAGER, Role.WAITER)]

    @extend_schema(responses={200: ScreenSerializer(many=True), **problems(*_AUTHED)})
    def get(self, request):
        rows = screens.screen_rows(self.restaurant.pk)
        return Response(ScreenSerializer(rows, many=True).data)


app_name = "realtime"
urlpatterns = [path("screens", ScreenListView.as_view(), name="screen-list")]
