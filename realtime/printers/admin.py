"""Station printers in the managers' admin: the printers (host, port, station, mode) with
their health, and the print jobs (state, attempts, last error, backup note) with reprint
(a reprinted job prints even if a screen acknowledged it; on a backup printer, once no
screen of the station is online)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, Q

from orders.admin.site import TenantScopedAdmin, site

from .backup import REPRINT
from .models import JobState, PrintJob, StationPrinter


@admin.register(StationPrinter, site=site)
class StationPrinterAdmin(TenantScopedAdmin):
    list_display = ["name", "station", "host", "port", "mode", "is_active", "health", "created_at"]
    list_filter = ["is_active", "mode", "station"]
    readonly_fields = ["cursor", "retry_at", "last_error", "created_at"]
    fields = ["restaurant", "name", "station", "host", "port", "mode", "is_active", *readonly_fields]

    def get_fields(self, request, obj=None):
        fields = [f for f in self.fields if request.user.is_superuser or f != "restaurant"]
        return fields if obj is not None else [f for f in fields if f not in self.readonly_fields]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            waiting=Count("jobs", filter=Q(jobs__state=JobState.PENDING))
        )

    @admin.display(description="Health")
    def health(self, obj):
        if not obj.is_active:
            return "disabled"
        if obj.retry_at and obj.last_error:
            return f"DOWN, {obj.waiting} job(s) waiting: {obj.last_error}"
        if obj.retry_at and obj.waiting:  # only a backup printer waits without an error
            return f"ok, {obj.waiting} job(s) held while a screen of the station is online"
        return f"ok, {obj.waiting} job(s) waiting" if obj.waiting else "ok"

    def save_model(self, request, obj, form, change):
        if not change:
            from ..selectors import event_head

            restaurant = self.manager_restaurant(request) or obj.restaurant
            obj.cursor = event_head(restaurant.pk)  # tickets from now on
        if obj.port not in settings.PRINTER_PORTS:
            self.message_user(request, f"Port {obj.port} is not in PRINTER_PORTS: jobs will be refused.",
                              messages.WARNING)
        super().save_model(request, obj, form, change)


@admin.register(PrintJob, site=site)
class PrintJobAdmin(TenantScopedAdmin):
    restaurant_path = "printer__restaurant"
    list_display = ["event_seq", "kind", "summary", "printer", "state", "attempt_count", "last_error", "note", "printed_at"]
    list_filter = ["state", "kind"]
    list_select_related = ["printer"]
    readonly_fields = [
        "printer", "event_seq", "kind", "summary", "state", "attempt_count", "first_attempt_at",
        "last_attempt_at", "printed_at", "last_error", "note", "created_at", "size",
    ]
    fields = readonly_fields
    actions = ["reprint"]

    def get_exclude(self, request, obj=None):
        return []

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Bytes")
    def size(self, obj):
        return len(obj.data)

    @admin.action(description="Print selected jobs again", permissions=["view"])
    def reprint(self, request, queryset):
        count = queryset.update(state=JobState.PENDING, first_attempt_at=None, printed_at=None, note=REPRINT)
        StationPrinter.objects.filter(pk__in=queryset.values("printer_id")).update(retry_at=None)
        self.message_user(request, f"{count} job(s) queued to print again.", messages.SUCCESS)
