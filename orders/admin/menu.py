"""The menu."""

from django.contrib import admin

from ..models import MenuItem
from .site import TenantScopedAdmin, site


@admin.register(MenuItem, site=site)
class MenuItemAdmin(TenantScopedAdmin):
    list_display = ["name", "price", "station", "active", "restaurant"]
    list_filter = ["active", "station"]
    list_editable = ["active"]
    search_fields = ["name", "station"]
