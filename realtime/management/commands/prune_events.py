"""Delete published events older than the retention window (settings.EVENT_RETENTION).

Clients resuming from an event older than that get `resync` and reload over REST.
"""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from realtime.models import OutboxEvent


class Command(BaseCommand):
    help = "Delete published outbox events older than the retention window."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-hours", type=float, default=None,
            help="Override EVENT_RETENTION_HOURS for this run.",
        )

    def handle(self, *args, older_than_hours=None, **options):
        retention = (
            timedelta(hours=older_than_hours) if older_than_hours is not None
            else settings.EVENT_RETENTION
        )
        cutoff = timezone.now() - retention
        deleted, _ = OutboxEvent.objects.filter(
            created_at__lt=cutoff, published_at__isnull=False
        ).delete()
        self.stdout.write(f"deleted {deleted} event(s) older than {cutoff.isoformat()}")
