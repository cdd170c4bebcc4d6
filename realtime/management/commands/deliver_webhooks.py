"""Deliver webhooks from the outbox (Procfile `webhooks`); see docs/integrations.md.

Run one or several: they share the work by leasing endpoints. SIGTERM finishes the attempts
in flight, gives the leases back and exits.
"""

import signal
import threading

from django.core.management.base import BaseCommand

from realtime.webhooks.worker import DeliveryWorker


class Command(BaseCommand):
    help = "Deliver signed webhooks for committed events, in event order per endpoint."
    worker_class = DeliveryWorker

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Deliver what is due, then exit.")
        parser.add_argument("--threads", type=int, default=None, help="Endpoints served at once.")
        parser.add_argument("--interval", type=float, default=None, help="Seconds between polls.")

    def handle(self, *args, once=False, threads=None, interval=None, **options):
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        worker = self.worker_class(threads=threads, poll_interval=interval)
        self.stdout.write(f"{worker.name} {worker.worker_id} with {worker.threads} thread(s)")
        worker.run(stop, drain=once)
        self.stdout.write(f"{worker.name} stopped")
