"""Leases: rows that worker processes share, each worked on by one worker at a time.

Webhook endpoints and station printers are leased by the worker delivering to them.
Claiming takes candidate rows with `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL (two
workers never wait on, or both take, the same row) and sets the lease with an UPDATE that
re-checks it is free, which is what makes the claim safe on SQLite too (where FOR UPDATE does
not exist and writers are serialised). The lease outlives one unit of work and is renewed
after each (`hold`); a worker that dies loses it when it lapses. Every write the holder makes
through `hold` re-checks that it still holds the lease, so a worker that stalled past its
lease stops (LeaseLost) instead of racing the next holder.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import timedelta
from typing import Callable

from django.db import close_old_connections, models, transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import EventSequence

logger = logging.getLogger(__name__)


class Leased(models.Model):
    lease_owner = models.CharField(max_length=80, blank=True, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True


class LeaseLost(Exception):
    pass


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _free(now) -> Q:
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


def outbox_work(rows: models.QuerySet, pending: models.QuerySet, due: Q) -> models.QuerySet:
    """Rows (with a restaurant and a `cursor` into its outbox) that have events after their
    cursor, or `pending` work (a queryset on OuterRef("pk")) and are `due`."""
    head = EventSequence.objects.filter(restaurant_id=OuterRef("restaurant_id")).values("last_id")[:1]
    return rows.annotate(head=Coalesce(Subquery(head), 0), has_pending=Exists(pending)).filter(
        Q(cursor__lt=F("head")) | (Q(has_pending=True) & due)
    )


def claim(candidates: models.QuerySet, worker_id: str, limit: int, seconds: float) -> list:
    """Lease up to `limit` of `candidates` (rows ready for work), least recently claimed first."""
    now = timezone.now()
    model = candidates.model
    with transaction.atomic():
        pks = list(
            candidates.filter(_free(now))
            .order_by(F("claimed_at").asc(nulls_first=True), "pk")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)[:limit]
        )
        until = now + timedelta(seconds=seconds)
        return [
            pk for pk in pks
            if model.objects.filter(_free(now), pk=pk).update(
                lease_owner=worker_id, lease_until=until, claimed_at=now
            )
        ]


def hold(model, worker_id: str, pk, seconds: float, **changes) -> None:
    """Renew the lease (and write `changes`), or raise LeaseLost."""
    until = timezone.now() + timedelta(seconds=seconds)
    if not model.objects.filter(pk=pk, lease_owner=worker_id).update(lease_until=until, **changes):
        raise LeaseLost(pk)


def release(model, worker_id: str, pk) -> None:
    model.objects.filter(pk=pk, lease_owner=worker_id).update(lease_owner="", lease_until=None)


def backoff(attempts: int, base: float, cap: float) -> timedelta:
    """Exponential from `base` seconds, capped at `cap`, with "equal jitter": between half
    and all of the step, so that rows failing together do not retry together."""
    step = min(cap, base * 2 ** (attempts - 1))
    return timedelta(seconds=step / 2 + random.uniform(0, step / 2))


class LeaseWorker:
    """A worker process's loop: claim rows (`claim(worker_id, limit)`), work on each on a
    thread of its own (`work(worker_id, pk, stop)`, which releases the lease), so that a slow
    row only ever holds its own thread; `chores` run now and then: [(interval, callable)]."""

    name = "lease worker"

    def __init__(self, *, threads: int, poll_interval: float, chores=()):
        self.worker_id = new_worker_id()
        self.threads = threads
        self.poll_interval = poll_interval
        self.chores = [(interval, chore, None) for interval, chore in chores]

    def claim(self, limit: int) -> list:
        raise NotImplementedError

    def work(self, pk, stop: threading.Event) -> None:
        raise NotImplementedError

    def _guarded(self, call: Callable, default=None):
        try:
            return call()
        except Exception:  # noqa: BLE001 - database away: try again next poll
            logger.exception("%s: %s failed", self.name, getattr(call, "__name__", call))
            return default
        finally:
            close_old_connections()

    def _run_chores(self) -> None:
        now = timezone.now()
        for index, (interval, chore, last) in enumerate(self.chores):
            if last is None or now - last >= interval:
                self.chores[index] = (interval, chore, now)
                self._guarded(chore)

    def run(self, stop: threading.Event, drain: bool = False) -> None:
        """Until `stop` is set; with `drain`, until nothing is left to claim."""
        running: dict = {}
        with ThreadPoolExecutor(self.threads, thread_name_prefix=self.name.replace(" ", "-")) as pool:
            while not stop.is_set():
                self._run_chores()
                free = self.threads - len(running)
                claimed = self._guarded(lambda: self.claim(free), []) if free else []
                for pk in claimed:
                    running[pool.submit(self.work, pk, stop)] = pk
                if drain and not running:
                    return
                if running:
                    done, _ = wait(running, timeout=self.poll_interval, return_when=FIRST_COMPLETED)
                    for future in done:
                        pk = running.pop(future)
                        if future.exception():
                            logger.error("%s: %s: %r", self.name, pk, future.exception(),
                                         exc_info=future.exception())
                elif not claimed:
                    stop.wait(self.poll_interval)
