"""Table sessions: seating a party and closing its session."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from ..errors import Conflict, IllegalTransition
from ..models import Table, TableSession, TableSessionStatus, User
from .rules import (
    _FLOOR,
    FINAL_ORDER_STATUSES,
    _require_role,
    _lock_row,
    _lock_session,
    _validated,
)


# --- Table sessions ---------------------------------------------------------------------------


def _lock_table(actor: User, table: Table) -> Table:
    """The table, locked, with whether it has an open session (one statement), read with the
    tenancy filter (`_lock_row`). `table` may be a reference (`selectors.table_ref`).

    The open session is seen as of the statement's start: one opened by whoever held the
    lock before may be missed, and the one-open-session constraint then refuses the insert
    (the same Conflict)."""
    open_session = TableSession.objects.filter(table=OuterRef("pk"), status=TableSessionStatus.OPEN)
    rows = Table.objects.select_for_update().annotate(has_open_session=Exists(open_session))
    return _lock_row(actor, Table, table.pk, "Table", table.restaurant_id, rows)


@transaction.atomic
def table_session_open(*, actor: User, table: Table, guests: int | None = None) -> TableSession:
    """Seat a party. Locked before the role is checked: another restaurant's table is a 404
    whoever asks (as `_lock_order`)."""
    table = _lock_table(actor, table)
    _require_role(actor, _FLOOR, "seat a table")
    if not table.active:
        raise Conflict(f"Table {table.name} is not in service.")
    if table.has_open_session:
        raise Conflict(f"Table {table.name} already has an open session.")
    session = TableSession(table=table, guests=guests, opened_by=actor)
    _validated(session, exclude=["table", "opened_by"])
    try:
        with transaction.atomic():
            session.save()
    except IntegrityError:
        # The one-open-session constraint is the last word if the row lock was bypassed.
        raise Conflict(f"Table {table.name} already has an open session.") from None
    return session


@transaction.atomic
def table_session_close(*, actor: User, session: TableSession) -> TableSession:
    """`session` may be a reference (`selectors.table_session_ref`): locked before the role is
    checked, as `_lock_order`."""
    session = _lock_session(actor, session)
    _require_role(actor, _FLOOR, "close a table session")
    if session.status != TableSessionStatus.OPEN:
        raise IllegalTransition(
            kind="table session", current=session.status, target=TableSessionStatus.CLOSED
        )
    open_orders = session.orders.exclude(status__in=FINAL_ORDER_STATUSES).count()
    if open_orders:
        raise Conflict(
            f"Table session has {open_orders} open order(s): serve or cancel them before "
            "closing it."
        )
    session.status = TableSessionStatus.CLOSED
    session.closed_at = session.updated_at = timezone.now()
    session.save(update_fields=["status", "closed_at", "updated_at"])
    return session
