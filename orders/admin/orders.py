"""Orders and their items, as a manager runs a shift: every order with its items, statuses
and total; status changes and deletions go through `orders.services`, like every other
caller. An order that reached the kitchen is history: it is cancelled, never deleted."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from .. import selectors, services
from ..errors import DomainError
from ..models import ItemStatus, Order, OrderItem, OrderStatus
from .site import ReadOnlyTenantInline, TenantScopedAdmin, run_service, site

SENT_ORDERS_NOT_DELETABLE = (
    "orders sent to the kitchen (only a DRAFT order can be deleted: cancel the others instead)"
)
_DATE_FORMAT = "%Y-%m-%d %H:%M"


class OrderItemInline(ReadOnlyTenantInline):
    model = OrderItem
    fields = ["name", "qty", "unit_price", "line_total", "station", "status", "notes", "updated_at"]
    readonly_fields = fields
    show_change_link = True

    @admin.display(description="Line total")
    def line_total(self, item):
        return item.line_total


@admin.register(Order, site=site)
class OrderAdmin(TenantScopedAdmin):
    change_form_template = "admin/orders/order/change_form.html"
    list_display = ["short_id", "table", "status", "items_summary", "total_display", "created"]
    list_display_links = ["short_id"]
    list_filter = ["status", "created_at"]
    search_fields = ["id", "table_session__table__name", "notes", "items__name"]
    ordering = ["-created_at"]
    readonly_fields = [
        "status", "restaurant", "table_session", "created_by", "confirmed_at", "cancel_reason",
        "created_at", "updated_at", "total_display", "history",
    ]
    fields = [
        "status", "restaurant", "table_session", "notes", "total_display", "created_by",
        "confirmed_at", "cancel_reason", "created_at", "updated_at", "history",
    ]
    inlines = [OrderItemInline]
    actions = ["confirm_orders", "cancel_orders"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        # The list shows each order's items and total: one query for all of them.
        return (
            super().get_queryset(request)
            .select_related("table_session__table")
            .prefetch_related(Prefetch("items", queryset=OrderItem.objects.order_by("created_at")))
        )

    def get_exclude(self, request, obj=None):
        return []

    def has_add_permission(self, request):
        return False  # orders are taken on the floor, through the service

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.status != OrderStatus.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        to_delete, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        # A draft's items go with it (the service deletes them): they need no permission of
        # their own. A sent order is refused with the reason, not "no permission for order".
        perms_needed.discard(OrderItem._meta.verbose_name)
        if Order._meta.verbose_name in perms_needed:
            perms_needed.discard(Order._meta.verbose_name)
            perms_needed.add(SENT_ORDERS_NOT_DELETABLE)
        return to_delete, model_count, perms_needed, protected

    def delete_model(self, request, obj):
        try:
            services.order_delete(actor=request.user, order=obj)
        except DomainError as exc:  # confirmed since the page was shown
            raise PermissionDenied(exc.detail) from exc

    def delete_queryset(self, request, queryset):
        run_service(
            self, request, queryset,
            lambda order: services.order_delete(actor=request.user, order=order),
            "draft order(s) deleted", report_success=False,
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = self.get_object(request, object_id)
        extra_context = {
            **(extra_context or {}),
            "order_actions": self._actions_for(request, order),
            "items_url": order and (
                reverse("admin:orders_orderitem_changelist", current_app=self.admin_site.name)
                + f"?order__id__exact={order.pk}"
            ),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _actions_for(self, request, order):
        """The changelist actions that fit this order's status, as (name, label) pairs,
        posted from its page to the changelist like a one-row selection."""
        if order is None or not self.has_change_permission(request, order):
            return []
        if order.status == OrderStatus.DRAFT:
            return [("confirm_orders", "Confirm (send to kitchen)"), ("cancel_orders", "Cancel order")]
        if order.status in services.FINAL_ORDER_STATUSES:
            return []
        return [("cancel_orders", "Cancel order")]

    @admin.display(description="Order")
    def short_id(self, obj):
        return str(obj.pk)[:8]

    @admin.display(description="Table", ordering="table_session__table__name")
    def table(self, obj):
        return obj.table_session.table.name

    @admin.display(description="Items")
    def items_summary(self, obj):
        return ", ".join(
            f"{item.qty} × {item.name}" + ("" if item.status == ItemStatus.PENDING else f" ({item.get_status_display()})")
            for item in obj.items.all()
        )

    @admin.display(description="Total")
    def total_display(self, obj):
        return obj.total

    @admin.display(description="History (who did what)")
    def history(self, obj):
        """The order's history as `GET /orders/{id}/history` gives it (the same selector)."""
        if obj is None or obj.pk is None:
            return "-"
        names = {item.pk: item.name for item in obj.items.all()}
        entries = selectors.order_history(restaurant=obj.restaurant, order_id=obj.pk)
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (e.at.strftime("%Y-%m-%d %H:%M:%S"), e.action,
                 f"{e.actor_name} ({e.actor_role})" if e.actor_id else "automatic",
                 names.get(e.item_id, "") if e.item_id else "",
                 " → ".join(v for v in (e.from_value, e.to_value) if v), e.reason)
                for e in entries
            ),
        )
        return format_html(
            '<table class="order-history"><thead><tr><th>When (UTC)</th><th>Action</th>'
            "<th>Who</th><th>Item</th><th>Change</th><th>Reason</th></tr></thead>"
            "<tbody>{}</tbody></table>", rows,
        )

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj):
        return obj.created_at.strftime(_DATE_FORMAT)

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
