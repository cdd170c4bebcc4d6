"""RFC 9457 problem details: the one place errors become responses.

Domain errors (`orders.errors`), DRF's exceptions, Django's validation errors and database
outages all end here. Views catch nothing.
"""

from __future__ import annotations

import logging
import sys
from http import HTTPStatus

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError, InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from orders.errors import DomainError

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "/problems/"

# slug -> (title, what it means for a client). Served at /problems/<slug>.
PROBLEM_TYPES: dict[str, tuple[str, str]] = {
    "validation-error": (
        "Invalid request",
        "The body, query or path did not validate. `errors` maps each field to its messages.",
    ),
    "malformed-request": ("Malformed request", "The body is not valid JSON or is too large."),
    "unauthenticated": (
        "Authentication required",
        "No valid credentials: the access token is missing, expired, revoked or malformed.",
    ),
    "forbidden": ("Not allowed for your role", "Your role may not do this action."),
    "not-found": (
        "Not found",
        "Nothing with that id exists in your restaurant.",
    ),
    "method-not-allowed": ("Method not allowed", "This path does not accept that method."),
    "not-acceptable": ("Not acceptable", "Ask for application/json."),
    "unsupported-media-type": ("Unsupported media type", "Send application/json."),
    "illegal-transition": (
        "Illegal state transition",
        "The object is not in a state from which that move is allowed; `detail` names both "
        "states. Reload it and try again if another screen moved it first.",
    ),
    "conflict": ("Conflict with the current state", "The current state does not allow this."),
    "item-unavailable": (
        "Item unavailable",
        "The dish or a chosen option is 86'd (unavailable), or fewer portions are left than "
        "the quantity asked for. Nothing was added.",
    ),
    "course-held": (
        "Course held",
        "The item's course has not been fired yet (`firedAt` is null): fire the course "
        "(`POST /orders/{id}/fire`) before starting it. `detail` names both states.",
    ),
    "allergy-unacknowledged": (
        "Allergy not acknowledged",
        "The guest declared allergies for this item: a cook must acknowledge them "
        "(`POST /orders/{id}/items/{itemId}/acknowledge-allergy`) before it can start.",
    ),
    "order-limit-exceeded": (
        "Order limit exceeded",
        "The change would take the order past its bounds (lines per order, order total); "
        "nothing was changed. Split the order.",
    ),
    "unprocessable": ("Request cannot be processed", "The request is well formed but refused."),
    "idempotency-key-reused": (
        "Idempotency key reused",
        "This Idempotency-Key was already used with a different request. Use a new key for "
        "a new request.",
    ),
    "throttled": ("Too many requests", "Slow down; `Retry-After` says when to try again."),
    "service-unavailable": (
        "Service unavailable",
        "A dependency (the database) is down. Retry after `Retry-After` seconds.",
    ),
    "server-error": ("Internal server error", "Something failed on our side; it is logged."),
}

_DRF_SLUGS = {
    exceptions.ValidationError: "validation-error",
    exceptions.ParseError: "malformed-request",
    exceptions.NotAuthenticated: "unauthenticated",
    exceptions.AuthenticationFailed: "unauthenticated",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not-found",
    exceptions.MethodNotAllowed: "method-not-allowed",
    exceptions.NotAcceptable: "not-acceptable",
    exceptions.UnsupportedMediaType: "unsupported-media-type",
    exceptions.Throttled: "throttled",
}


def problem(
    status: int, slug: str, detail: str, *, errors: dict | None = None, title: str | None = None
) -> dict:
    body = {
        "type": TYPE_BASE + slug,
        "title": title or PROBLEM_TYPES.get(slug, (HTTPStatus(status).phrase,))[0],
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return body


def problem_response(status: int, slug: str, detail: str, **kwargs) -> Response:
    headers = kwargs.pop("headers", None)
    return Response(
        problem(status, slug, detail, **kwargs),
        status=status,
        headers=headers,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def _flatten(detail) -> str:
    """One readable sentence out of DRF's (possibly nested) error detail."""
    if isinstance(detail, dict):
        if "detail" in detail:
            return _flatten(detail["detail"])
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return " ".join(_flatten(d) for d in detail)
    return str(detail)


def _field_errors(detail) -> dict:
    if isinstance(detail, dict):
        return {key: value if isinstance(value, list) else [value] for key, value in detail.items()}
    return {"non_field_errors": detail if isinstance(detail, list) else [detail]}


def _django_validation_errors(exc: DjangoValidationError) -> dict:
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if key == "__all__" else key): messages
            for key, messages in exc.message_dict.items()
        }
    return {"non_field_errors": exc.messages}


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return problem_response(exc.status, exc.slug, exc.detail, errors=exc.errors, title=exc.title)
    if isinstance(exc, DjangoValidationError):
        return problem_response(
            400, "validation-error", "The request did not validate.",
            errors=_django_validation_errors(exc),
        )
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.warning("database unavailable: %s", exc.__class__.__name__)
        return problem_response(
            503, "service-unavailable", "The database is unavailable; try again shortly.",
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, DataError):
        # Validation should have caught it; never answer bad input with a 500.
        logger.warning("value refused by the database: %s", exc)
        return problem_response(400, "validation-error", "A value is out of range.")
    if isinstance(exc, IntegrityError):
        logger.warning("integrity error reached the API: %s", exc)
        return problem_response(409, "conflict", "The change conflicts with the current state.")
    if isinstance(exc, SuspiciousOperation):
        return problem_response(400, "malformed-request", str(exc) or "Malformed request.")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    slug = next((s for cls, s in _DRF_SLUGS.items() if isinstance(exc, cls)), None)
    status = response.status_code
    if isinstance(exc, exceptions.ValidationError):
        body = problem(
            status, "validation-error", "The request did not validate.",
            errors=_field_errors(exc.detail),
        )
    elif isinstance(exc, exceptions.Throttled):
        body = problem(
            status, "throttled",
            f"Too many requests; try again in {exc.wait:.0f} seconds."
            if exc.wait is not None else "Too many requests.",
        )
    elif isinstance(exc, exceptions.ParseError):
        body = problem(status, "malformed-request", _flatten(exc.detail))
    else:
        body = problem(status, slug or "server-error", _flatten(exc.detail))
    response.data = body
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def _wants_html(request) -> bool:
    return not request.path.startswith("/api/") and "text/html" in request.headers.get(
        "Accept", ""
    )


def _plain_problem(request, status: int, slug: str, detail: str):
    return JsonResponse(
        problem(status, slug, detail), status=status, content_type=PROBLEM_CONTENT_TYPE
    )


def handler400(request, exception=None):
    return _plain_problem(request, 400, "malformed-request", "Malformed request.")


def handler403(request, exception=None):
    return _plain_problem(request, 403, "forbidden", "You may not do this.")


def handler404(request, exception=None):
    if _wants_html(request):
        return render(request, "404.html", status=404)
    return _plain_problem(request, 404, "not-found", "Nothing here.")


_DATABASE_DOWN_HTML = (
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>Service unavailable</title></head><body><h1>Service unavailable</h1>"
    "<p>The database is unavailable. This page will work again shortly: reload it.</p>"
    "</body></html>"
)


def _database_unavailable(request):
    logger.warning("database unavailable: %s", sys.exc_info()[0].__name__)
    if _wants_html(request):
        response = HttpResponse(_DATABASE_DOWN_HTML, status=503)
    else:
        response = _plain_problem(
            request, 503, "service-unavailable", "The database is unavailable; try again shortly."
        )
    response["Retry-After"] = "5"
    return response


def handler500(request):
    # Outside DRF (a middleware, the kitchen page, the admin) a database outage reaches
    # Django's last resort; it is called while the exception is being handled.
    if isinstance(sys.exc_info()[1], (OperationalError, InterfaceError)):
        return _database_unavailable(request)
    if _wants_html(request):
        return render(request, "500.html", status=500)
    return _plain_problem(request, 500, "server-error", "Internal server error.")


def problem_type_page(request, slug):
    if slug not in PROBLEM_TYPES:
        return handler404(request)
    title, description = PROBLEM_TYPES[slug]
    return render(
        request, "problem_type.html", {"slug": slug, "title": title, "description": description}
    )
