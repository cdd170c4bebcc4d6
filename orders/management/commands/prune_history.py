"""Delete order history entries older than HISTORY_RETENTION_DAYS (default 400)."""

from django.core.management.base import BaseCommand

from orders import history


class Command(BaseCommand):
    help = "Delete order history entries past HISTORY_RETENTION_DAYS."

    def handle(self, *args, **options):
        deleted = history.prune()
        self.stdout.write(f"deleted {deleted} history entr{'y' if deleted == 1 else 'ies'}")
