"""Django admin for restaurant staff.

Superusers administer every restaurant. A MANAGER with admin access (is_staff) sees and
edits only its own restaurant's objects and can never move one to another restaurant.
Status changes go through `orders.services`, like every other caller.
"""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.core.exceptions import ValidationError

from . import services
from .errors import DomainError
from .models import (
    ItemStatus,
    MenuItem,
    Order,
    OrderItem,
    Restaurant,
    Role,
    Table,
    TableSession,
    User,
)


def is_restaurant_manager(user) -> bool:
    return (
        user.is_active
        and user.is_staff
        and user.role == Role.MANAGER
        and user.restaurant_id is not None
    )


class RestaurantAdminSite(admin.AdminSite):
    site_header = "Restaurant administration"
    site_title = "Restaurant admin"
    index_title = "Floor, menu and staff"

    def has_permission(self, request):
        user = request.user
        return user.is_active and (user.is_superuser or is_restaurant_manager(user))


site = RestaurantAdminSite(name="admin")


class TenantScopedAdmin(admin.ModelAdmin):
    """Scopes a restaurant-owned model to the manager's restaurant.

    `restaurant_path` is the lookup from the model to its restaurant.
    """

    restaurant_path = "restaurant"

    def _manager_restaurant(self, request):
        return None if request.user.is_superuser else request.user.restaurant

    def _allowed(self, request, obj=None):
        if request.user.is_superuser:
            return True
        if not is_restaurant_manager(request.user):
            return False
        return obj is None or self.restaurant_of(obj) == request.user.restaurant_id

    def restaurant_of(self, obj):
        value = obj
        for part in self.restaurant_path.split("__"):
            value = getattr(value, part)
        return value.pk if isinstance(value, Restaurant) else value

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        restaurant = self._manager_restaurant(request)
        if restaurant is not None:
            queryset = queryset.filter(**{self.restaurant_path: restaurant})
        return queryset

    def has_module_permission(self, request):
        return self._allowed(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def has_add_permission(self, request):
        return self._allowed(request)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def get_exclude(self, request, obj=None):
        excluded = list(super().get_exclude(request, obj) or [])
        if not request.user.is_superuser and self.restaurant_path == "restaurant":
            excluded.append("restaurant")
        return excluded

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if request.user.is_superuser and self.restaurant_path != "pk":
            filters.insert(0, self.restaurant_path)
        return filters

    def get_form(self, request, obj=None, **kwargs):
        form_class = super().get_form(request, obj, **kwargs)
        restaurant = self._manager_restaurant(request)
        if restaurant is None or self.restaurant_path != "restaurant":
            return form_class

        class ManagerScopedForm(form_class):
            """The manager's restaurant is set before validation, so that constraints such
            as a unique name per restaurant are checked as form errors, not hit as 500s."""

            def __init__(self, *args, **form_kwargs):
                super().__init__(*args, **form_kwargs)
                self.instance.restaurant = restaurant

            def _get_validation_exclusions(self):
                exclusions = super()._get_validation_exclusions()
                exclusions.discard("restaurant")
                return exclusions

        return ManagerScopedForm

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        restaurant = self._manager_restaurant(request)
        if restaurant is not None:
            related = db_field.related_model
            if related is Restaurant:
                kwargs["queryset"] = Restaurant.objects.filter(pk=restaurant.pk)
            elif related is Table:
                kwargs["queryset"] = Table.objects.filter(restaurant=restaurant)
            elif related is TableSession:
                kwargs["queryset"] = TableSession.objects.filter(table__restaurant=restaurant)
            elif related is MenuItem:
                kwargs["queryset"] = MenuItem.objects.filter(restaurant=restaurant)
            elif related is User:
                kwargs["queryset"] = User.objects.filter(restaurant=restaurant)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        restaurant = self._manager_restaurant(request)
        if restaurant is not None and self.restaurant_path == "restaurant":
            obj.restaurant = restaurant
        super().save_model(request, obj, form, change)


def run_service(modeladmin, request, queryset, call, done: str):
    """Apply a service to each selected object, reporting refusals instead of failing."""
    ok, refused = 0, []
    for obj in queryset:
        try:
            call(obj)
            ok += 1
        except (DomainError, ValidationError) as exc:
            refused.append(f"{obj}: {getattr(exc, 'detail', None) or '; '.join(exc.messages)}")
    if ok:
        modeladmin.message_user(request, f"{ok} {done}.", messages.SUCCESS)
    for line in refused:
        modeladmin.message_user(request, line, messages.ERROR)


@admin.register(Restaurant, site=site)
class RestaurantAdmin(TenantScopedAdmin):
    restaurant_path = "pk"
    list_display = ["name", "slug", "ticket_amber_after_minutes", "ticket_red_after_minutes"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

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


class StaffCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ["email", "name", "role", "restaurant"]


class StaffChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User, site=site)
class UserAdmin(TenantScopedAdmin, DjangoUserAdmin):
    form = StaffChangeForm
    add_form = StaffCreationForm
    ordering = ["email"]
    list_display = ["email", "name", "role", "restaurant", "is_active", "is_staff"]
    list_filter = ["role", "is_active", "is_staff"]
    search_fields = ["email", "name"]
    readonly_fields = ["last_login", "date_joined"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["name", "role", "restaurant"]}),
        ("Access", {"fields": ["is_active", "is_staff"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    superuser_fieldsets = [
        *fieldsets[:2],
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        fieldsets[3],
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "name", "role", "restaurant", "password1", "password2"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            fields = ["email", "name", "role", "password1", "password2"]
            if request.user.is_superuser:
                fields.insert(3, "restaurant")
            return [(None, {"classes": ["wide"], "fields": fields})]
        if request.user.is_superuser:
            return self.superuser_fieldsets
        return [
            (name, {"fields": [f for f in opts["fields"] if f != "restaurant"]})
            for name, opts in self.fieldsets
        ]

    def get_exclude(self, request, obj=None):
        return []

    def get_form(self, request, obj=None, **kwargs):
        if not request.user.is_superuser:
            kwargs["exclude"] = ["restaurant", "is_superuser", "groups", "user_permissions"]
        return super().get_form(request, obj, **kwargs)

    def has_change_permission(self, request, obj=None):
        # A manager may not edit a superuser's account.
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    has_delete_permission = has_change_permission


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


@admin.register(MenuItem, site=site)
class MenuItemAdmin(TenantScopedAdmin):
    list_display = ["name", "price", "station", "active", "restaurant"]
    list_filter = ["active", "station"]
    list_editable = ["active"]
    search_fields = ["name", "station"]


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
