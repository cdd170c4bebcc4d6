"""Publish events that were committed but not published (a crashed worker, a Redis outage).

Every web worker already sweeps its outbox; run this as its own process (Procfile `relay`)
so that events are published even while no web worker is up, or with --once from cron.

Each pass also brings back 86'd dishes whose `availableAgainAt` has passed
(`orders.services.menu_items_return_due`), so that their `menu.item.availability.changed`
goes out on time although no request touched them.
"""

import time

from django.conf import settings
from django.core.management.base import BaseCommand

from orders.services import menu_items_return_due
from realtime.publisher import publisher


class Command(BaseCommand):
    help = "Publish unpublished outbox events through the channel layer."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument(
            "--interval", type=float, default=settings.OUTBOX_SWEEP_INTERVAL,
            help="Seconds between passes.",
        )

    def handle(self, *args, once=False, interval=2.0, **options):
        while True:
            try:
                returned = menu_items_return_due()
                if returned:
                    self.stdout.write(f"{returned} dish(es) back on the menu")
                count = publisher.publish_pending_now()
            except Exception as exc:  # noqa: BLE001 - database or Redis down: retry next pass
                if once:
                    raise
                self.stderr.write(f"relay pass failed: {exc.__class__.__name__}: {exc}")
                count = 0
            if count or once:
                self.stdout.write(f"published {count} event(s)")
            if once:
                return
            time.sleep(interval)
