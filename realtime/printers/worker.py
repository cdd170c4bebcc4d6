"""Print workers: claim printers (realtime/leasing.py), turn new outbox events into print
jobs, send them in event order.

A printer that is down holds only its own thread: its oldest job is retried with backoff
(PRINTER_RETRY_BASE_SECONDS doubling up to PRINTER_RETRY_MAX_SECONDS) and given up on after
PRINTER_GIVE_UP_MINUTES (a ticket that late helps nobody; it stays in the admin to reprint),
and the next job goes on.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import OuterRef, Q
from django.utils import timezone

from .. import leasing
from ..leasing import LeaseLost
from ..selectors import events_after
from . import backup, tickets, transport
from .models import JobState, PrintJob, PrintMode, StationPrinter

logger = logging.getLogger(__name__)

FAN_OUT_BATCH = 200
PRINT_BUDGET = 50


def claim(worker_id: str, limit: int) -> list[int]:
    """Lease up to `limit` printers that have new events or a pending job now due."""
    now = timezone.now()
    ready = leasing.outbox_work(
        StationPrinter.objects.filter(is_active=True),
        PrintJob.objects.filter(printer_id=OuterRef("pk"), state=JobState.PENDING),
        Q(retry_at__isnull=True) | Q(retry_at__lte=now),
    )
    return leasing.claim(ready, worker_id, limit, settings.PRINTER_LEASE_SECONDS)


def _hold(worker_id: str, printer_id: int, **changes) -> None:
    leasing.hold(StationPrinter, worker_id, printer_id, settings.PRINTER_LEASE_SECONDS, **changes)


@transaction.atomic
def make_jobs(worker_id: str, printer: StationPrinter) -> None:
    """Jobs for the printer's events after its cursor; moves the cursor past them."""
    batch = events_after(printer.restaurant_id, printer.cursor, FAN_OUT_BATCH)
    if not batch:
        return
    jobs = []
    for event in batch:
        slip = tickets.slip_for(event, printer.station)
        if slip is not None:
            jobs.append(PrintJob(printer=printer, event_seq=event.seq, kind=slip.kind,
                                 summary=slip.summary, data=slip.data))
    PrintJob.objects.bulk_create(jobs, ignore_conflicts=True)
    _hold(worker_id, printer.pk, cursor=batch[-1].seq)


def _record(worker_id: str, printer: StationPrinter, job: PrintJob, error: str | None, note: str) -> None:
    now = timezone.now()
    job.note = note
    job.attempt_count += 1
    job.first_attempt_at = job.first_attempt_at or now
    job.last_attempt_at = now
    job.last_error = (error or "")[:300]
    if error is None:
        job.state, job.printed_at = JobState.PRINTED, now
        retry_at = None
    elif now - job.first_attempt_at >= settings.PRINTER_GIVE_UP:
        job.state = JobState.FAILED
        retry_at = None
        logger.warning("printer %s: gave up on job %s: %s", printer.pk, job.pk, error)
    else:
        retry_at = now + leasing.backoff(
            job.attempt_count, settings.PRINTER_RETRY_BASE, settings.PRINTER_RETRY_MAX
        )
    with transaction.atomic():
        _hold(worker_id, printer.pk, retry_at=retry_at, last_error=job.last_error)
        job.save(update_fields=[
            "attempt_count", "first_attempt_at", "last_attempt_at", "last_error", "state", "printed_at", "note",
        ])


def print_pending(worker_id: str, printer_id: int, stop=None, resolver=None) -> None:
    for _ in range(PRINT_BUDGET):
        printer = StationPrinter.objects.get(pk=printer_id)
        if (stop and stop.is_set()) or not printer.is_active:
            return
        if printer.retry_at and printer.retry_at > timezone.now():
            return
        note = ""
        if printer.mode == PrintMode.BACKUP:
            note = backup.settle(printer)
            if note is None:  # a station screen is online: look again shortly
                _hold(worker_id, printer_id, retry_at=timezone.now() + timedelta(seconds=settings.PRINTER_RETRY_BASE))
                return
        job = printer.jobs.filter(state=JobState.PENDING).order_by("event_seq").first()
        if job is None:
            return
        if note == backup.PRESENCE_UNREADABLE:
            logger.warning("printer %s: screen presence unreadable, printing job %s as backup", printer_id, job.pk)
        try:
            transport.send(printer.host, printer.port, bytes(job.data), resolver or transport.system_resolver)
            error = None
        except (transport.Refused, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        _record(worker_id, printer, job, error, note)
        if error and job.state == JobState.PENDING:
            return  # waits for its retry; the jobs after it too, in order


def work_on(worker_id: str, printer_id: int, stop=None, resolver=None) -> None:
    try:
        printer = StationPrinter.objects.get(pk=printer_id)
        make_jobs(worker_id, printer)
        print_pending(worker_id, printer_id, stop, resolver)
    except LeaseLost:
        logger.warning("printer %s: lease lost, leaving it to another worker", printer_id)
    except StationPrinter.DoesNotExist:
        pass
    finally:
        try:
            leasing.release(StationPrinter, worker_id, printer_id)
        finally:
            close_old_connections()


class PrintWorker(leasing.LeaseWorker):
    """The `print_tickets` process."""

    name = "print worker"

    def __init__(self, *, threads=None, poll_interval=None, resolver=None):
        super().__init__(
            threads=threads or settings.PRINTER_WORKER_THREADS,
            poll_interval=settings.PRINTER_POLL_INTERVAL if poll_interval is None else poll_interval,
        )
        self.resolver = resolver

    def claim(self, limit: int) -> list[int]:
        return claim(self.worker_id, limit)

    def work(self, printer_id, stop) -> None:
        work_on(self.worker_id, printer_id, stop, self.resolver)
