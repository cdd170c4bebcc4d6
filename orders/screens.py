"""Kitchen screens as the restaurant's records keep them: what each is called, which station
it shows, and what it has acknowledged (proof of delivery). What must survive a restart is
here, in the database; whether a screen is connected right now is presence, kept with an
expiry in the shared cache (Redis in deployments) by `realtime.screens`, which also writes
these rows. `orders` knows nothing of sockets: it reads both to answer `seenBy`.
"""

from __future__ import annotations

import logging
import uuid

from django.core.cache import cache
from django.db import models
from django.utils import timezone

from .errors import ServiceUnavailable

logger = logging.getLogger(__name__)


class Screen(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    restaurant = models.ForeignKey("orders.Restaurant", on_delete=models.CASCADE, related_name="screens")
    name = models.CharField(max_length=100)
    station = models.CharField(max_length=50, blank=True, help_text="Empty: every station.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    connected_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_acked_event_id = models.BigIntegerField(default=0)
    last_acked_at = models.DateTimeField(null=True, blank=True)
    # The state last announced by `screen.status.changed`: a change is announced once,
    # by whichever worker notices it first (under the row's lock).
    announced_online = models.BooleanField(default=False)
    announced_behind = models.BooleanField(default=False)

    class Meta:
        app_label = "orders"
        ordering = ["station", "name"]
        constraints = [
            models.UniqueConstraint(fields=["restaurant", "name"], name="screen_name_unique"),
        ]

    def __str__(self):
        return f"{self.name} ({self.station or 'all stations'})"

    def shows(self, stations) -> bool:
        return not self.station or self.station in stations


class ScreenDelivery(models.Model):
    """A screen acknowledged a ticket event (`order.new`, `order.items.added`) of an order
    with items of its station: the order reached that screen and was drawn."""

    id = models.BigAutoField(primary_key=True)
    screen = models.ForeignKey(Screen, on_delete=models.CASCADE, related_name="deliveries")
    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="screen_deliveries")
    event_id = models.BigIntegerField()
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "orders"
        constraints = [
            models.UniqueConstraint(fields=["screen", "event_id"], name="screen_delivery_once"),
        ]


def presence_key(screen_id) -> str:
    return f"screen-presence:{screen_id}"


def online_ids(screen_ids) -> set:
    """Screens with a live presence marker (refreshed by the workers holding their sockets;
    it expires SCREEN_OFFLINE_SECONDS after the last one closed or its worker died).

    `ServiceUnavailable` when the cache cannot be read: nobody may conclude "offline" then
    (the sweep skips its round, GET /screens answers 503)."""
    try:
        found = cache.get_many([presence_key(pk) for pk in screen_ids])
    except Exception as exc:  # noqa: BLE001 - the cache backend's own connection errors
        raise ServiceUnavailable("Screen presence is unavailable; try again shortly.") from exc
    return {pk for pk in screen_ids if presence_key(pk) in found}


def stations_down(restaurant_id) -> list[str]:
    """Stations with open tickets whose every screen is offline: an alert on every other
    screen and in the admin. A station without any screen is not one (it may print, or
    not be on screens at all)."""
    from .models import ItemStatus, OrderItem, OrderStatus

    screens = list(Screen.objects.filter(restaurant_id=restaurant_id).exclude(station="").values_list("pk", "station"))
    try:
        online = online_ids([pk for pk, _ in screens])
    except ServiceUnavailable:
        logger.warning("screen presence unreadable: no stations-down alert this time")
        return []  # the board and the admin work without it
    dark = {station for _, station in screens} - {station for pk, station in screens if pk in online}
    if not dark:
        return []
    busy = OrderItem.objects.filter(
        order__restaurant_id=restaurant_id, station__in=dark,
        order__status__in=[OrderStatus.CONFIRMED, OrderStatus.IN_PROGRESS, OrderStatus.READY],
        status__in=[ItemStatus.PENDING, ItemStatus.IN_PROGRESS, ItemStatus.READY],
    )
    return sorted(set(busy.values_list("station", flat=True)))
