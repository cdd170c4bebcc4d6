"""Delete stored Idempotency-Key answers older than IDEMPOTENCY_KEY_TTL_HOURS."""

from django.core.management.base import BaseCommand

from orders.api.idempotency import expired


class Command(BaseCommand):
    help = "Delete idempotency records past their lifetime."

    def handle(self, *args, **options):
        deleted, _ = expired().delete()
        self.stdout.write(f"deleted {deleted} idempotency record(s)")
