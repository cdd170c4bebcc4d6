"""Orders and their items. Status changes go through `orders.services`, like every other
caller."""

from django.contrib import admin

from .. import services
from ..models import ItemStatus, Order, OrderItem
from .site import TenantScopedAdmin, run_service, site


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    fields = ["name", "qty", "unit_price", "station", "status", "notes", "updated_at"]
    readonly_fields = ["status", "updated_at"]
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Order, site=site)
class OrderAdmin(TenantScopedAdmin):
    list_display = ["short_id", "table_session", "status", "total_display", "created_at", "updated_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["id", "table_session__table__name", "notes"]
    readonly_fields = [
        "status", "restaurant", "table_session", "created_by", "confirmed_at", "cancel_reason",
        "created_at", "updated_at", "total_display",
    ]
    fields = [
        "status", "restaurant", "table_session", "notes", "total_display", "created_by",
        "confirmed_at", "cancel_reason", "created_at", "updated_at",
    ]
    inlines = [OrderItemInline]
    actions = ["confirm_orders", "cancel_orders"]
    date_hierarchy = "created_at"

    def get_exclude(self, request, obj=None):
        return []

    def has_add_permission(self, request):
        return False  # orders are taken on the floor, through the service

    @admin.display(description="Order")
    def short_id(self, obj):
        return str(obj.pk)[:8]

    @admin.display(description="Total")
    def total_display(self, obj):
        return obj.total

    @admin.action(description="Confirm selected orders (send to kitchen)")
    def confirm_orders(self, request, queryset):
        run_service(
            self, request, queryset,
            lambda order: services.order_confirm(actor=request.user, order=order),
            "order(s) confirmed",
        )

    @admin.action(description="Cancel selected orders")
    def cancel_orders(self, request, queryset):
        run_service(
            self, request, queryset,
            lambda order: services.order_cancel(actor=request.user, order=order, reason="Cancelled in admin"),
            "order(s) cancelled",
        )


def item_status_action(status):
    """An admin action moving the selected items, through `services.item_set_status`."""

    def action(modeladmin, request, queryset):
        run_service(
            modeladmin, request, queryset,
            lambda item: services.item_set_status(actor=request.user, item=item, status=status),
            f"item(s) moved to {status}",
        )

    action.__name__ = f"move_to_{status.lower()}"
    return admin.action(description=f"Move selected items to {status}")(action)


@admin.register(OrderItem, site=site)
class OrderItemAdmin(TenantScopedAdmin):
    restaurant_path = "order__restaurant"
    list_display = ["name", "qty", "unit_price", "station", "status", "order", "updated_at"]
    list_filter = ["status", "station"]
    search_fields = ["name", "order__id"]
    readonly_fields = ["order", "menu_item", "name", "qty", "unit_price", "station", "status", "notes", "created_at", "updated_at"]
    actions = [item_status_action(status) for status in ItemStatus.values]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Items are read-only here; the actions move them.
        return self.has_view_permission(request, obj) and obj is None

    def has_delete_permission(self, request, obj=None):
        return False
