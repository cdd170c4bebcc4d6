"""Kitchen screens: presence across workers, proof of delivery, `screen.status.changed`.

A screen names itself on `/ws/events/` (`{"type": "screen", "name", "station"}`) and
acknowledges the last event it has drawn (`{"type": "ack", "lastEventId"}`).

- **Presence** is a marker per screen in the shared cache (Redis in deployments), written
  with an expiry of SCREEN_OFFLINE_SECONDS by every worker holding one of its sockets and
  refreshed well within that (`realtime.screen_watch`). When the last socket closes the
  marker is written once more, so it expires SCREEN_OFFLINE_SECONDS later; when a worker
  dies its markers simply stop being refreshed. No goodbye is needed, so a SIGKILLed worker's
  screens go offline like any other.
- **What must survive** (name, station, the last acknowledged id, which tickets each screen
  drew) is in PostgreSQL (`orders.screens`).
- **Announcements**: a screen's online, offline and behind (an unacknowledged event older
  than SCREEN_OFFLINE_SECONDS) are announced once each by `screen.status.changed`, by
  whichever worker notices first: under the screen row's lock, against the state last
  announced (`announced_online`, `announced_behind`), in the transaction of the outbox row.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from orders.models import OrderItem
from orders.screens import Screen, ScreenDelivery, online_ids, presence_key, stations_down  # noqa: F401
from restaurant.wire import iso_ms

from . import selectors
from .events import ORDER_NEW, SCREEN_STATUS_CHANGED, record
from .kitchen_payloads import ITEMS_ADDED
from .models import OutboxEvent

TICKET_EVENTS = (ORDER_NEW, ITEMS_ADDED)


class ScreenRefused(ValueError):
    """A `screen` or `ack` message that cannot be taken (the detail says why)."""


def mark_present(screen_ids) -> None:
    """Presence markers, expiring SCREEN_OFFLINE_SECONDS from now."""
    now = iso_ms(timezone.now())
    cache.set_many({presence_key(pk): now for pk in screen_ids}, timeout=settings.SCREEN_OFFLINE_SECONDS)


def keep_present(screen_ids) -> None:
    """The refresher's round for the screens whose sockets this worker holds: markers
    rewritten, and a screen announced offline meanwhile (its marker lost while the cache was
    down, or its worker stalled past the expiry) announced online again."""
    mark_present(screen_ids)
    for screen_id in Screen.objects.filter(pk__in=screen_ids, announced_online=False).values_list("pk", flat=True):
        _revive(screen_id)


@transaction.atomic
def _revive(screen_id) -> None:
    screen = Screen.objects.select_for_update(skip_locked=True).filter(pk=screen_id).first()
    if screen is not None and not screen.announced_online:
        _announce(screen, online=True, behind=False, now=timezone.now())


def status_payload(screen: Screen, *, online: bool, lag: int, at) -> dict:
    return {
        "screenId": str(screen.pk), "restaurantId": str(screen.restaurant_id), "name": screen.name,
        "station": screen.station, "online": online, "lagEvents": lag,
        "behind": online and screen.announced_behind, "at": iso_ms(at),
    }


def _announce(screen: Screen, *, online: bool, behind: bool, now) -> None:
    """Record the change of announced state (the row is locked by the caller)."""
    screen.announced_online, screen.announced_behind = online, behind and online
    screen.save(update_fields=["announced_online", "announced_behind"])
    lag = max(0, selectors.event_head(screen.restaurant_id) - screen.last_acked_event_id)
    record(screen.restaurant_id, SCREEN_STATUS_CHANGED, status_payload(screen, online=online, lag=lag, at=now))


def _validated_name(name, station) -> tuple[str, str]:
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise ScreenRefused("A screen needs a name of 1 to 100 characters.")
    if station is None:
        station = ""
    if not isinstance(station, str) or len(station) > 50:
        raise ScreenRefused("station is a string of at most 50 characters (empty: all).")
    return name.strip(), station.strip()


@transaction.atomic
def register(*, restaurant_id, name, station) -> Screen:
    """A screen names itself: found by name (or created), online from now."""
    name, station = _validated_name(name, station)
    # A new screen owes nothing from before it existed; a known one resumes where it was.
    screen, _ = Screen.objects.get_or_create(
        restaurant_id=restaurant_id, name=name,
        defaults={"station": station, "last_acked_event_id": selectors.event_head(restaurant_id)},
    )
    screen = Screen.objects.select_for_update().get(pk=screen.pk)
    now = timezone.now()
    screen.station = station
    screen.connected_at = screen.last_seen_at = now
    screen.save(update_fields=["station", "connected_at", "last_seen_at"])
    mark_present([screen.pk])
    if not screen.announced_online:
        _announce(screen, online=True, behind=False, now=now)
    return screen


def _is_behind(screen: Screen, now) -> bool:
    return screen.pk in _falling_behind([screen], now)


def _deliveries(screen: Screen, after: int, upto: int, now) -> list[ScreenDelivery]:
    """The ticket events in (after, upto] of orders with items of the screen's station."""
    tickets = list(
        OutboxEvent.objects.filter(
            restaurant_id=screen.restaurant_id, seq__gt=after, seq__lte=upto, name__in=TICKET_EVENTS
        ).values_list("seq", "payload")
    )
    if not tickets:
        return []
    order_ids = {payload["orderId"] for _, payload in tickets}
    stations: dict[str, set] = {}
    for order_id, station in OrderItem.objects.filter(order_id__in=order_ids).values_list("order_id", "station"):
        stations.setdefault(str(order_id), set()).add(station)
    return [
        ScreenDelivery(screen=screen, order_id=payload["orderId"], event_id=seq, seen_at=now)
        for seq, payload in tickets
        if screen.shows(stations.get(payload["orderId"], ()))
    ]


@transaction.atomic
def acknowledge(*, screen_id, last_event_id) -> Screen:
    """The screen has drawn everything up to `last_event_id` (ids past the head are refused)."""
    try:
        upto = int(str(last_event_id))
    except ValueError:
        raise ScreenRefused("lastEventId must be an event id.") from None
    screen = Screen.objects.select_for_update().get(pk=screen_id)
    if upto < 0 or upto > selectors.event_head(screen.restaurant_id):
        raise ScreenRefused("lastEventId is not an event of this restaurant.")
    now = timezone.now()
    screen.last_seen_at = now
    fields = ["last_seen_at"]
    if upto > screen.last_acked_event_id:
        ScreenDelivery.objects.bulk_create(
            _deliveries(screen, screen.last_acked_event_id, upto, now), ignore_conflicts=True
        )
        screen.last_acked_event_id, screen.last_acked_at = upto, now
        fields += ["last_acked_event_id", "last_acked_at"]
    screen.save(update_fields=fields)
    if screen.announced_behind and not _is_behind(screen, now):
        _announce(screen, online=True, behind=False, now=now)
    return screen


@transaction.atomic
def _check(screen_id, present: bool, now) -> None:
    screen = Screen.objects.select_for_update(skip_locked=True).filter(pk=screen_id).first()
    if screen is None or not screen.announced_online:
        return  # another worker holds it, or announced it already
    if not present:
        return _announce(screen, online=False, behind=False, now=now)
    if not screen.announced_behind and _is_behind(screen, now):
        _announce(screen, online=True, behind=True, now=now)


def _falling_behind(screens_, now) -> set:
    """Of these (online, not yet announced behind) screens, those whose first unacknowledged
    event is older than SCREEN_OFFLINE_SECONDS: one query for all of them."""
    if not screens_:
        return set()
    first_unacked = Q()
    for screen in screens_:
        first_unacked |= Q(restaurant_id=screen.restaurant_id, seq=screen.last_acked_event_id + 1)
    cutoff = now - timedelta(seconds=settings.SCREEN_OFFLINE_SECONDS)
    late = set(OutboxEvent.objects.filter(first_unacked, created_at__lt=cutoff).values_list("restaurant_id", "seq"))
    return {s.pk for s in screens_ if (s.restaurant_id, s.last_acked_event_id + 1) in late}


def sweep(now=None) -> None:
    """Announce the screens gone offline (no presence marker) or fallen behind. Reads
    without locks first; only a screen whose state changed is locked and re-checked."""
    now = now or timezone.now()
    announced = list(Screen.objects.filter(announced_online=True).only(
        "pk", "restaurant_id", "last_acked_event_id", "announced_behind"
    ))
    if not announced:
        return
    present = online_ids([s.pk for s in announced])
    changed = {s.pk for s in announced if s.pk not in present}
    changed |= _falling_behind([s for s in announced if s.pk in present and not s.announced_behind], now)
    for screen_id in changed:
        _check(screen_id, screen_id in present, now)


# --- Reads ---------------------------------------------------------------------------------


def screen_rows(restaurant_id) -> list[dict]:
    """`GET /screens`: every screen of the restaurant with its live state."""
    screens = list(Screen.objects.filter(restaurant_id=restaurant_id).order_by("station", "name"))
    online = online_ids([s.pk for s in screens])
    head = selectors.event_head(restaurant_id)
    behind = _falling_behind([s for s in screens if s.pk in online], timezone.now())
    return [
        {
            "id": s.pk, "name": s.name, "station": s.station, "online": s.pk in online,
            "connected_at": s.connected_at, "last_seen_at": s.last_seen_at,
            "last_acked_event_id": str(s.last_acked_event_id),
            "lag_events": max(0, head - s.last_acked_event_id),
            "behind": s.pk in behind,
        }
        for s in screens
    ]
