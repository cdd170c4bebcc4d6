"""The kitchen display page: staff log in with email and password (Django session).

The page itself is static HTML + JS; everything it shows and does goes through the REST API
(session-authenticated, CSRF-protected) and the /ws/events/ WebSocket (session cookie,
same origin).
"""

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import reverse_lazy
from django.views.decorators.http import require_GET

from restaurant import throttling
from restaurant.identity import AccountEmailField

from .models import Role

KITCHEN_ROLES = {Role.KITCHEN, Role.MANAGER}
LOGIN_URL = reverse_lazy("kitchen-login")


def may_use_kitchen(user) -> bool:
    return (
        user.is_authenticated
        and user.is_active
        and user.restaurant_id is not None
        and (user.role in KITCHEN_ROLES or user.is_superuser)
    )


class KitchenAuthenticationForm(AuthenticationForm):
    username = AccountEmailField(label="Email", widget=forms.EmailInput(attrs={"autofocus": True}))
    error_messages = {
        **AuthenticationForm.error_messages,
        # Said to every refused sign-in alike, whatever the reason.
        "invalid_login": "Please enter a correct email and password. The kitchen display is "
        "for kitchen staff and managers.",
    }

    def confirm_login_allowed(self, user):
        # A right password of an account that may not use the kitchen (a waiter's, an
        # inactive one's) answers exactly as a wrong one: no password oracle.
        if not may_use_kitchen(user):
            raise self.get_invalid_login_error()


class KitchenLoginView(auth_views.LoginView):
    template_name = "kitchen/login.html"
    authentication_form = KitchenAuthenticationForm
    redirect_authenticated_user = False

    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except throttling.LockedOut as locked:
            return throttling.locked_out_page(request, locked)

    def form_valid(self, form):
        throttling.forgive(self.request)
        return super().form_valid(form)

    def get_default_redirect_url(self):
        return str(reverse_lazy("kitchen-board"))


class KitchenLogoutView(auth_views.LogoutView):
    next_page = LOGIN_URL


def _content_security_policy(request) -> str:
    host = request.get_host()
    return "; ".join([
        "default-src 'self'",
        f"connect-src 'self' ws://{host} wss://{host}",
        "img-src 'self' data:",
        "style-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ])


@require_GET
@login_required(login_url=LOGIN_URL)
def board(request):
    if not may_use_kitchen(request.user):
        raise PermissionDenied
    response = render(request, "kitchen/board.html", {"restaurant": request.user.restaurant})
    response["Content-Security-Policy"] = _content_security_policy(request)
    return response
