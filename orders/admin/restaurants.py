"""Restaurants and their floor: tables and table sessions."""

import zoneinfo

from django import forms
from django.contrib import admin

from .. import services
from ..models import Restaurant, Table, TableSession
from .site import TenantScopedAdmin, run_service, site


@admin.register(Restaurant, site=site)
class RestaurantAdmin(TenantScopedAdmin):
    restaurant_path = "pk"
    list_display = [
        "name", "slug", "timezone", "auto_fire_next_course", "ticket_amber_after_minutes",
        "ticket_red_after_minutes",
    ]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "timezone":
            zones = sorted(zoneinfo.available_timezones())
            return forms.ChoiceField(
                choices=[(zone, zone) for zone in zones], initial="UTC",
                label="Time zone", help_text=db_field.help_text,
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def restaurant_of(self, obj):
        return obj.pk

    def get_queryset(self, request):
        queryset = admin.ModelAdmin.get_queryset(self, request)
        if not request.user.is_superuser:
            queryset = queryset.filter(pk=request.user.restaurant_id)
        return queryset

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Table, site=site)
class TableAdmin(TenantScopedAdmin):
    list_display = ["name", "seats", "active", "restaurant"]
    list_filter = ["active"]
    search_fields = ["name"]


@admin.register(TableSession, site=site)
class TableSessionAdmin(TenantScopedAdmin):
    restaurant_path = "table__restaurant"
    list_display = ["table", "status", "guests", "created_at", "closed_at"]
    list_filter = ["status"]
    search_fields = ["table__name"]
    readonly_fields = ["status", "closed_at", "opened_by", "created_at", "updated_at"]
    actions = ["close_sessions"]

    def has_add_permission(self, request):
        return False  # sessions are opened from the floor (POS), through the service

    @admin.action(description="Close selected sessions")
    def close_sessions(self, request, queryset):
        run_service(
            self, request, queryset,
            lambda session: services.table_session_close(actor=request.user, session=session),
            "session(s) closed",
        )
