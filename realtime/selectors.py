"""Reads of the event log, always for one restaurant."""

from django.db.models import Min

from .models import EventSequence, OutboxEvent


def event_head(restaurant_id) -> int:
    """The id of the restaurant's latest committed event (0 when it has none)."""
    return (
        EventSequence.objects.filter(restaurant_id=restaurant_id)
        .values_list("last_id", flat=True)
        .first()
        or 0
    )


def events_after(restaurant_id, after: int, limit: int = 500) -> list[OutboxEvent]:
    return list(
        OutboxEvent.objects.filter(restaurant_id=restaurant_id, seq__gt=after).order_by("seq")[:limit]
    )


def oldest_retained(restaurant_id) -> int | None:
    return OutboxEvent.objects.filter(restaurant_id=restaurant_id).aggregate(m=Min("seq"))["m"]


def replay_window(restaurant_id, after: int) -> tuple[int, list[OutboxEvent]] | None:
    """Events after `after`, or None when they can no longer all be replayed (resync).

    Returns (head, first batch); callers page on with `events_after`.
    """
    head = event_head(restaurant_id)
    if after > head:
        return None  # an id we never issued (another database, a reset): start over
    if after == head:
        return head, []
    oldest = oldest_retained(restaurant_id)
    if oldest is None or oldest > after + 1:
        return None  # pruned past the retention window
    return head, events_after(restaurant_id, after)
