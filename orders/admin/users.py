"""Staff accounts: managers see and edit their own restaurant's staff only.

A manager deactivates staff, resets their passwords (the "reset password" form linked from
the password field) and edits their names and roles. Audit fields (`last_login`,
`date_joined`) are shown, never part of a form: nobody rewrites them with a crafted POST.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm

from restaurant.identity import AccountEmailField

from ..models import User
from .site import TenantScopedAdmin, site


class StaffCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ["email", "name", "role", "restaurant"]
        field_classes = {"email": AccountEmailField}


AUDIT_FIELDS = ["last_login", "date_joined"]


class StaffChangeForm(UserChangeForm):
    class Meta:
        model = User
        exclude = AUDIT_FIELDS
        field_classes = {"email": AccountEmailField}


@admin.register(User, site=site)
class UserAdmin(TenantScopedAdmin, DjangoUserAdmin):
    form = StaffChangeForm
    add_form = StaffCreationForm
    ordering = ["email"]
    list_display = ["email", "name", "role", "restaurant", "is_active", "is_staff"]
    list_filter = ["role", "is_active", "is_staff"]
    search_fields = ["email", "name"]
    readonly_fields = AUDIT_FIELDS
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["name", "role", "restaurant"]}),
        ("Access", {"fields": ["is_active", "is_staff"]}),
        ("Dates", {"fields": AUDIT_FIELDS}),
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
            # Replaces the exclusions ModelAdmin derives (the read-only fields among them).
            kwargs["exclude"] = [
                "restaurant", "is_superuser", "groups", "user_permissions", *AUDIT_FIELDS
            ]
        return super().get_form(request, obj, **kwargs)

    def has_change_permission(self, request, obj=None):
        # A manager may not edit a superuser's account.
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    has_delete_permission = has_change_permission
