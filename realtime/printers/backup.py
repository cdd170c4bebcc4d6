"""Backup printing: a printer in "backup" mode prints a slip only when no screen of its
station is there to show it.

Before each job a backup printer settles its pending jobs against the station's screens
(screens whose `station` is the printer's; an all-stations screen, e.g. at the pass, is not
the cook's screen and does not count, as in `stations_down`; a printer for items without a
station goes with the all-stations screens, which are the ones showing those items):

- a job the station's screen acknowledged (proof of delivery: its ScreenDelivery row, or the
  screen's acknowledged event id past the job's event, for a screen that existed when the
  event happened) is marked "on screen" and never prints;
- while one of the station's screens is online, the others wait (a screen may still draw
  them); once they are all offline (presence expired) the unacknowledged ones print;
- presence that cannot be read (cache down) prints: paper is the safe side.
"""

from __future__ import annotations

from orders.errors import ServiceUnavailable
from orders.screens import Screen, ScreenDelivery, online_ids

from ..models import OutboxEvent
from .models import JobState, StationPrinter

WAITING = "waiting: a screen of the station is online"
ACKNOWLEDGED = "acknowledged by a station screen"
REPRINT = "reprint asked for in the admin"
PRESENCE_UNREADABLE = "printed as backup: screen presence unreadable"


def _acknowledged(printer: StationPrinter, screens: list[Screen], seqs: list[int]) -> set[int]:
    delivered = set(
        ScreenDelivery.objects.filter(screen__in=screens, event_id__in=seqs).values_list("event_id", flat=True)
    )
    happened = dict(
        OutboxEvent.objects.filter(restaurant_id=printer.restaurant_id, seq__in=seqs).values_list("seq", "created_at")
    )
    # A new screen starts at the head and owes nothing from before it: not proof for those.
    drawn = {
        seq for seq in seqs for s in screens
        if seq <= s.last_acked_event_id and seq in happened and s.created_at <= happened[seq]
    }
    return delivered | drawn


def settle(printer: StationPrinter) -> str | None:
    """Mark the acknowledged pending jobs "on screen"; then the note to print the rest
    with, or None while a station screen is online (they wait)."""
    screens = list(Screen.objects.filter(restaurant_id=printer.restaurant_id, station=printer.station))
    pending = printer.jobs.filter(state=JobState.PENDING)
    seqs = list(pending.values_list("event_seq", flat=True))
    if not seqs:
        return ""  # nothing to print or hold
    if screens:
        shown = _acknowledged(printer, screens, seqs)
        pending.filter(event_seq__in=shown).exclude(note=REPRINT).update(state=JobState.ON_SCREEN, note=ACKNOWLEDGED)
    try:
        online = online_ids([s.pk for s in screens])
    except ServiceUnavailable:
        return PRESENCE_UNREADABLE
    if online:
        pending.exclude(note__in=[WAITING, REPRINT]).update(note=WAITING)
        return None
    return "printed as backup: no screen of the station online"

