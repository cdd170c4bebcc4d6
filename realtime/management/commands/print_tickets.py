"""Print station tickets from the outbox (Procfile `printers`); see docs/integrations.md."""

from realtime.management.commands.deliver_webhooks import Command as LeaseWorkerCommand
from realtime.printers.worker import PrintWorker


class Command(LeaseWorkerCommand):
    help = "Print ESC/POS tickets, add-ons and voids on the stations' network printers."
    worker_class = PrintWorker
