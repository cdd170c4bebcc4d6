"""The menu: dishes, their modifier groups and options, and their 86 state.

Django's admin nests one level of inlines: a dish's page edits its groups, each group's page
(linked from there) edits its options. Changes of an existing dish go through
`services.menu_item_update`, so that an 86 set here follows the same rules (and emits the
same event) as one set from the kitchen.
"""

from django.contrib import admin

from .. import services
from ..models import MenuItem, ModifierGroup, ModifierOption
from .site import TenantScopedAdmin, is_restaurant_manager, site


class ManagerInline(admin.TabularInline):
    """Editable by whoever may edit the parent (its admin already scoped it to the
    manager's restaurant); managers hold no Django model permissions."""

    def _allowed(self, request, obj=None):
        return request.user.is_superuser or is_restaurant_manager(request.user)

    has_view_permission = has_add_permission = _allowed
    has_change_permission = has_delete_permission = _allowed


class ModifierGroupInline(ManagerInline):
    model = ModifierGroup
    extra = 0
    fields = ["name", "min_select", "max_select", "position"]
    show_change_link = True  # its options are edited on the group's own page


class ModifierOptionInline(ManagerInline):
    model = ModifierOption
    extra = 1
    fields = ["name", "price_delta", "allergens", "available", "position"]


@admin.register(MenuItem, site=site)
class MenuItemAdmin(TenantScopedAdmin):
    list_display = [
        "name", "price", "station", "course", "active", "available", "remaining", "restaurant",
    ]
    list_filter = ["active", "available", "station", "course"]
    list_editable = ["active", "available"]
    search_fields = ["name", "station"]
    inlines = [ModifierGroupInline]
    fieldsets = [
        (None, {"fields": ["name", "price", "station", "active", "restaurant"]}),
        ("Kitchen", {"fields": ["course", "prep_minutes", "allergens"]}),
        ("86", {"fields": ["available", "remaining", "available_again_at"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        if request.user.is_superuser:
            return self.fieldsets
        return [
            (name, {"fields": [f for f in opts["fields"] if f != "restaurant"]})
            for name, opts in self.fieldsets
        ]

    def save_model(self, request, obj, form, change):
        if not change:
            return super().save_model(request, obj, form, change)
        fields = {f.name for f in MenuItem._meta.concrete_fields}
        changes = {name: getattr(obj, name) for name in form.changed_data if name in fields}
        services.menu_item_update(actor=request.user, menu_item=obj, changes=changes)


@admin.register(ModifierGroup, site=site)
class ModifierGroupAdmin(TenantScopedAdmin):
    restaurant_path = "menu_item__restaurant"
    list_display = ["name", "menu_item", "min_select", "max_select"]
    search_fields = ["name", "menu_item__name"]
    fields = ["menu_item", "name", "min_select", "max_select", "position"]
    inlines = [ModifierOptionInline]

    def has_module_permission(self, request):
        return False  # reached from its dish's page, not the index
