"""Webhooks in the managers' admin: endpoints (secret shown once, enable, resume, replay
from an event id) and the delivery log (attempts, replay). Failing endpoints are flagged on
the lists and when a manager logs in."""

from __future__ import annotations

import httpx
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.signals import user_logged_in
from django.db.models import OuterRef, Subquery
from django.dispatch import receiver
from django.urls import reverse
from django.utils.html import format_html

from orders.admin.site import TenantScopedAdmin, is_restaurant_manager, run_service, site

from . import services, ssrf
from .models import EVENT_TYPES, WebhookAttempt, WebhookDelivery, WebhookEndpoint


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=2000, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=[(name, name) for name in EVENT_TYPES], widget=forms.CheckboxSelectMultiple
    )
    replay_from = forms.IntegerField(
        required=False, min_value=1, label="Replay from event id",
        help_text="Send again every subscribed event from this event id on, in order.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["restaurant", "url", "description", "events", "is_active"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        refusal = ssrf.scheme_refusal(url, require_https=settings.WEBHOOK_REQUIRE_HTTPS)
        if refusal:
            raise forms.ValidationError(refusal)
        if not settings.WEBHOOK_ALLOW_PRIVATE:
            # Names are resolved and checked at each delivery; a literal address can be now.
            try:
                refusal = ssrf.address_refusal(httpx.URL(url).host)
            except ValueError:
                refusal = None
            if refusal:
                raise forms.ValidationError(f"Refused: {refusal}.")
        return url


def health(endpoint: WebhookEndpoint) -> str:
    last_error = getattr(endpoint, "last_error", "") or ""
    if not endpoint.is_active:
        return "disabled"
    if endpoint.failing_since:
        return f"FAILING since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC: {last_error}".rstrip(": ")
    if endpoint.retry_at:
        return f"retrying at {endpoint.retry_at:%H:%M:%S} UTC: {last_error}".rstrip(": ")
    return "ok"


def _endpoints_of(user):
    endpoints = WebhookEndpoint.objects.all()
    return endpoints if user.is_superuser else endpoints.filter(restaurant_id=user.restaurant_id)


def _warn_failing(request, endpoints) -> None:
    for endpoint in endpoints.filter(failing_since__isnull=False, is_active=True):
        messages.warning(
            request,
            f"Webhook endpoint {endpoint} is failing since {endpoint.failing_since:%Y-%m-%d %H:%M} "
            "UTC: deliveries to it are stopped. Fix the receiver, then resume it or replay.",
            fail_silently=True,
        )


@admin.register(WebhookEndpoint, site=site)
class WebhookEndpointAdmin(TenantScopedAdmin):
    form = WebhookEndpointForm
    list_display = ["__str__", "url", "is_active", "health_display", "cursor", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    readonly_fields = ["secret_hint", "deliveries_link", "cursor", "retry_at", "failing_since", "created_at"]
    actions = ["resume", "new_secret", "enable", "disable"]

    def get_fields(self, request, obj=None):
        fields = ["url", "description", "events", "is_active"]
        if request.user.is_superuser:
            fields.insert(0, "restaurant")
        if obj is not None:
            fields += ["replay_from", *self.readonly_fields]
        return fields

    def get_readonly_fields(self, request, obj=None):
        # An endpoint stays with its restaurant: its cursor counts that restaurant's events.
        return ["restaurant", *self.readonly_fields] if obj is not None else []

    def get_queryset(self, request):
        last_error = (
            WebhookAttempt.objects.filter(delivery__endpoint=OuterRef("pk"))
            .exclude(outcome=WebhookAttempt.Outcome.OK)
            .order_by("-started_at", "-pk")
            .values("error")[:1]
        )
        return super().get_queryset(request).annotate(last_error=Subquery(last_error))

    @admin.display(description="Health")
    def health_display(self, obj):
        return health(obj)

    @admin.display(description="Secret")
    def secret_hint(self, obj):
        return f"{obj.secret[:10]}… (shown once when created; use the “new secret” action)"

    @admin.display(description="Deliveries")
    def deliveries_link(self, obj):
        url = reverse(f"{site.name}:realtime_webhookdelivery_changelist")
        return format_html('<a href="{}?endpoint={}">Delivery log</a>', url, obj.pk)

    def save_model(self, request, obj, form, change):
        restaurant = self.manager_restaurant(request)
        if restaurant is not None:
            obj.restaurant = restaurant
        was_active = form.initial.get("is_active") if change else None
        services.endpoint_save(actor=request.user, endpoint=obj, was_active=was_active)
        if not change:
            self.message_user(
                request,
                f"Signing secret of {obj}: {obj.secret} — copy it now, it is not shown again.",
                messages.WARNING,
            )
        replay_from = form.cleaned_data.get("replay_from")
        if change and replay_from:
            count = services.replay_since(actor=request.user, endpoint_id=obj.pk, event_id=replay_from)
            self.message_user(request, f"{count} delivery(ies) from event {replay_from} queued again.")

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            _warn_failing(request, self.get_queryset(request))
        return super().changelist_view(request, extra_context)

    @admin.action(description="Resume selected endpoints (retry what failed, now)")
    def resume(self, request, queryset):
        run_service(
            self, request, queryset,
            lambda endpoint: services.endpoint_resume(actor=request.user, endpoint_id=endpoint.pk),
            "endpoint(s) resumed",
        )

    @admin.action(description="Give selected endpoints a new secret (shown once)")
    def new_secret(self, request, queryset):
        for endpoint in queryset:
            secret = services.endpoint_new_secret(actor=request.user, endpoint_id=endpoint.pk)
            self.message_user(
                request, f"New signing secret of {endpoint}: {secret} — copy it now.", messages.WARNING
            )

    @admin.action(description="Enable selected endpoints")
    def enable(self, request, queryset):
        self._set_active(request, queryset, True)

    @admin.action(description="Disable selected endpoints")
    def disable(self, request, queryset):
        self._set_active(request, queryset, False)

    def _set_active(self, request, queryset, active):
        def change(endpoint):
            was_active, endpoint.is_active = endpoint.is_active, active
            services.endpoint_save(actor=request.user, endpoint=endpoint, was_active=was_active)

        run_service(self, request, queryset, change, f"endpoint(s) {'enabled' if active else 'disabled'}")


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    fields = [
        "number", "started_at", "outcome", "status_code", "latency_ms", "response_excerpt", "error", "worker",
    ]
    readonly_fields = fields
    ordering = ["-number"]

    def has_view_permission(self, request, obj=None):
        return True  # whoever may see the delivery (scoped by its admin) sees its attempts

    def has_add_permission(self, request, obj=None):
        return False

    has_change_permission = has_delete_permission = has_add_permission  # a log: read only


class EndpointFilter(admin.SimpleListFilter):
    """Only the manager's own endpoints (a plain related filter would list every one)."""

    title = "endpoint"
    parameter_name = "endpoint"

    def lookups(self, request, model_admin):
        return [(str(endpoint.pk), str(endpoint)) for endpoint in _endpoints_of(request.user)]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(endpoint_id=value) if value and value.isdigit() else queryset


@admin.register(WebhookDelivery, site=site)
class WebhookDeliveryAdmin(TenantScopedAdmin):
    restaurant_path = "endpoint__restaurant"
    list_display = [
        "event_seq", "event_type", "endpoint", "state", "attempt_count", "last_status",
        "last_latency_ms", "last_attempt_at",
    ]
    list_filter = ["state", "event_type", EndpointFilter]
    list_select_related = ["endpoint"]
    readonly_fields = [
        "endpoint", "event_seq", "event_type", "state", "attempt_count", "first_attempt_at",
        "last_attempt_at", "delivered_at", "created_at", "body",
    ]
    fields = readonly_fields
    inlines = [WebhookAttemptInline]
    actions = ["replay"]

    def get_queryset(self, request):
        last = WebhookAttempt.objects.filter(delivery=OuterRef("pk")).order_by("-number")
        return super().get_queryset(request).annotate(
            last_status=Subquery(last.values("status_code")[:1]),
            last_latency_ms=Subquery(last.values("latency_ms")[:1]),
        )

    def get_exclude(self, request, obj=None):
        return []

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # a log: replayed, never edited

    def has_delete_permission(self, request, obj=None):
        return False

    def last_status(self, obj):
        return obj.last_status

    def last_latency_ms(self, obj):
        return obj.last_latency_ms

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            _warn_failing(request, _endpoints_of(request.user))
        return super().changelist_view(request, extra_context)

    @admin.action(description="Replay selected deliveries", permissions=["view"])
    def replay(self, request, queryset):
        by_endpoint: dict = {}
        for delivery in queryset:
            by_endpoint.setdefault(delivery.endpoint_id, []).append(delivery.pk)
        count = sum(
            services.deliveries_replay(actor=request.user, endpoint_id=endpoint_id, delivery_ids=ids)
            for endpoint_id, ids in by_endpoint.items()
        )
        self.message_user(request, f"{count} delivery(ies) queued again.", messages.SUCCESS)


@receiver(user_logged_in, dispatch_uid="webhooks.warn_failing_on_login")
def warn_failing_on_login(sender, request, user, **kwargs):
    if request is not None and is_restaurant_manager(user):
        _warn_failing(request, _endpoints_of(user))
