"""Which events print what on a station's printer, and the ESC/POS bytes of each slip.

- `order.new`: the ticket of the items fired with the confirmation;
- `order.course.fired`: the ticket of the course's items;
- `order.items.added`: an ADD-ON slip for items that fired at once (held ones print with
  their course);
- `order.item.status.changed` to CANCELLED of an item that had been fired: a VOID slip.

Each lists only the printer's station's items. The bytes come from python-escpos's Dummy
printer (it builds, it sends nothing): ESC @ first, the cut last.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass

from django.utils import timezone
from escpos.printer import Dummy

from orders.models import ItemStatus, Order, OrderItem

from .models import JobKind

TITLES = {JobKind.TICKET: "TICKET", JobKind.ADD_ON: "ADD-ON", JobKind.VOID: "VOID"}


@dataclass(frozen=True)
class Slip:
    kind: str
    summary: str
    data: bytes


def _items_to_print(event, station: str) -> tuple[str, Order, list[OrderItem]] | None:
    payload = event.payload
    order = (
        Order.objects.select_related("table_session__table", "created_by", "restaurant")
        .filter(pk=payload.get("orderId"), restaurant_id=event.restaurant_id)
        .first()
    )
    if order is None:
        return None
    items = order.items.filter(station=station).order_by("course", "created_at", "pk")
    if event.name == "order.new":
        return JobKind.TICKET, order, list(items.filter(fired_at=order.confirmed_at))
    if event.name == "order.course.fired":
        return JobKind.TICKET, order, list(items.filter(pk__in=payload.get("itemIds", [])))
    if event.name == "order.items.added":
        fired = [item["id"] for item in payload.get("items", []) if item.get("firedAt")]
        return JobKind.ADD_ON, order, list(items.filter(pk__in=fired))
    if event.name == "order.item.status.changed" and payload.get("newStatus") == ItemStatus.CANCELLED:
        return JobKind.VOID, order, list(items.filter(pk=payload.get("itemId"), fired_at__isnull=False))
    return None


def slip_for(event, station: str) -> Slip | None:
    """The slip `event` prints at `station`, or None."""
    found = _items_to_print(event, station)
    if not found or not found[2]:
        return None
    kind, order, items = found
    table = order.table_session.table.name
    summary = f"{TITLES[kind]} #{order.number} table {table}: {sum(i.qty for i in items)} item(s)"
    return Slip(kind, summary[:200], render(kind, order, items))


def _waiter(order: Order) -> str:
    user = order.created_by
    return (user.name or user.email) if user else "-"


def render(kind: str, order: Order, items: list[OrderItem]) -> bytes:
    printer = Dummy()
    printer.hw("INIT")
    printer.set_with_default(align="center", bold=True, double_width=True, double_height=True)
    printer.textln(f"{TITLES[kind]} #{order.number or '-'}")
    printer.set_with_default(align="center")
    local = timezone.localtime(timezone.now(), zoneinfo.ZoneInfo(order.restaurant.timezone))
    printer.textln(f"Table {order.table_session.table.name} - {_waiter(order)} - {local:%H:%M}")
    course = None
    for item in items:
        if item.course != course:
            course = item.course
            printer.set_with_default(bold=True)
            printer.textln(f"--- Course {course} ---")
        _item(printer, kind, item)
    printer.cut()
    return bytes(printer.output)


def _item(printer: Dummy, kind: str, item: OrderItem) -> None:
    printer.set_with_default(bold=True, double_height=True)
    seat = f" (seat {item.seat})" if item.seat else ""
    printer.textln(f"{'VOID ' if kind == JobKind.VOID else ''}{item.qty} x {item.name}{seat}")
    printer.set_with_default()
    for modifier in item.modifiers:
        printer.textln(f"   + {modifier['name']}")
    if item.notes:
        printer.textln(f"   note: {item.notes}")
    if kind == JobKind.VOID and item.void_reason:
        printer.textln(f"   reason: {item.void_reason}")
    if item.allergies:
        # Emphasised: bold, white on black, double height.
        printer.set_with_default(bold=True, invert=True, double_height=True)
        printer.textln(f" ALLERGY: {', '.join(a.upper() for a in item.allergies)} ")
        printer.set_with_default()
