"""The admin site and the tenant scoping every model admin here shares.

Superusers administer every restaurant. A MANAGER with admin access (is_staff) sees and
edits only its own restaurant's objects and can never move one to another restaurant.
"""

from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.urls import reverse

from restaurant import throttling

from ..errors import DomainError
from ..models import MenuItem, Restaurant, Role, Table, TableSession, User
from ..screens import stations_down


def is_restaurant_manager(user) -> bool:
    return (
        user.is_active
        and user.is_staff
        and user.role == Role.MANAGER
        and user.restaurant_id is not None
    )


def may_use_admin(user) -> bool:
    return user.is_active and (user.is_superuser or is_restaurant_manager(user))


class AdminLoginForm(AdminAuthenticationForm):
    def confirm_login_allowed(self, user):
        # The right password of an account that may not use the admin (a waiter's, a cook's
        # even with is_staff) answers exactly as a wrong one: no password oracle.
        if not may_use_admin(user):
            raise self.get_invalid_login_error()


class RestaurantAdminSite(admin.AdminSite):
    login_form = AdminLoginForm
    site_header = "Restaurant administration"
    site_title = "Restaurant admin"
    index_title = "Floor, menu and staff"

    def has_permission(self, request):
        return may_use_admin(request.user)

    # Password surfaces: counted per account and address like every other sign-in
    # (restaurant.throttling); a locked-out attempt answers 429 with a page that says so.

    def login(self, request, extra_context=None):
        try:
            response = super().login(request, extra_context)
        except throttling.LockedOut as locked:
            return throttling.locked_out_page(request, locked)
        if request.method == "POST" and response.status_code == 302:  # signed in
            throttling.forgive(request)
        return response

    def password_change(self, request, extra_context=None):
        if request.method == "POST" and request.user.is_authenticated:
            try:
                # The old password is a guess at this account like a login's.
                throttling.reserve(request, request.user.email)
            except throttling.LockedOut as locked:
                return throttling.locked_out_page(request, locked)
        response = super().password_change(request, extra_context)
        if request.method == "POST" and response.status_code == 302:
            throttling.forgive(request)
        return response

    def get_urls(self):
        from django.urls import path

        from . import operations

        pages = [
            path("kitchen-times/", self.admin_view(lambda r: operations.kitchen_times_view(self, r)),
                 name="kitchen-times"),
            path("screens/", self.admin_view(lambda r: operations.screens_view(self, r)), name="screens"),
        ]
        return pages + super().get_urls()

    def each_context(self, request):
        """The header names the manager's restaurant; "View site" is the kitchen display,
        the other screen a manager runs a shift from (base_site.html links it too)."""
        context = super().each_context(request)
        user = request.user
        if getattr(user, "restaurant_id", None) is not None:  # a superuser may have none
            context["site_url"] = context["kitchen_url"] = reverse("kitchen-board")
        if self.has_permission(request):
            context["operations_links"] = [
                ("Screens", reverse("admin:screens")),
                ("Kitchen times", reverse("admin:kitchen-times")),
            ]
            if getattr(user, "restaurant_id", None) is not None:
                # A station nobody sees is an alert on every admin page.
                context["stations_down"] = stations_down(user.restaurant_id)
        if user.is_active and user.is_superuser:
            context["site_header"] = f"{self.site_header} · all restaurants"
        elif is_restaurant_manager(user):
            context["site_header"] = f"{user.restaurant.name} · {self.site_header}"
            context["site_title"] = f"{user.restaurant.name} · {self.site_title}"
        return context


site = RestaurantAdminSite(name="admin")


class TenantScopedAdmin(admin.ModelAdmin):
    """Scopes a restaurant-owned model to the manager's restaurant.

    `restaurant_path` is the lookup from the model to its restaurant.
    """

    restaurant_path = "restaurant"

    def manager_restaurant(self, request):
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
        restaurant = self.manager_restaurant(request)
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
        restaurant = self.manager_restaurant(request)
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
        restaurant = self.manager_restaurant(request)
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
        restaurant = self.manager_restaurant(request)
        if restaurant is not None and self.restaurant_path == "restaurant":
            obj.restaurant = restaurant
        super().save_model(request, obj, form, change)


class ReadOnlyTenantInline(admin.TabularInline):
    """Related rows shown on their parent's page, read-only. Django's inlines ask for model
    permissions, which managers do not have (the site's rules grant them access): the view
    permission here is the one of the admin registered for the inline's model."""

    extra = 0
    can_delete = False

    def has_view_permission(self, request, obj=None):
        return self.admin_site.get_model_admin(self.model).has_view_permission(request)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def run_service(modeladmin, request, queryset, call, done: str, report_success: bool = True):
    """Apply a service to each selected object, reporting refusals instead of failing
    (`report_success=False` where Django reports the successes itself, as for deletes)."""
    ok, refused = 0, []
    for obj in queryset:
        try:
            call(obj)
            ok += 1
        except (DomainError, ValidationError) as exc:
            refused.append(f"{obj}: {getattr(exc, 'detail', None) or '; '.join(exc.messages)}")
    if ok and report_success:
        modeladmin.message_user(request, f"{ok} {done}.", messages.SUCCESS)
    for line in refused:
        modeladmin.message_user(request, line, messages.ERROR)
