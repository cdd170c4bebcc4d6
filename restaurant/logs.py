"""Logging: one traceable line per API request, and no secret ever written.

- `RequestLogMiddleware` logs each HTTP request once: method, path (never the query string),
  status, duration, and the user and restaurant ids it acted for. It is the only request
  line: `make run` serves without uvicorn's access log, and Django's own per-response
  warnings (`django.request`, "Not Found: …") are left to errors (settings.LOGGING).
- `RedactSecrets`, a filter on the log handlers, blanks tokens, passwords and Authorization
  headers in any record, whoever logged it.
- `scrub_daphne_access_log()` does the same for daphne's access log, which is written
  straight to a stream (not through `logging`) and prints URLs with their query strings.
"""

from __future__ import annotations

import logging
import re
import time

from django.utils.functional import empty

logger = logging.getLogger("restaurant.requests")

REDACTED = "[redacted]"
# Query and form parameters whose values are credentials.
_SECRET_NAMES = (
    r"token|access_?token|accessToken|refresh_?token|refreshToken|jwt|auth|password|"
    r"passwd|secret|sessionid|csrfmiddlewaretoken|api_?key"
)
_PATTERNS = [
    # A JWT anywhere: three base64url parts, the first a JSON header ("eyJ").
    (re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]*"), REDACTED),
    # Authorization: Bearer <x> / Basic <x>, in any case.
    (re.compile(r"(?i)\b(bearer|basic)\s+[^\s\"',;]+"), rf"\1 {REDACTED}"),
    (re.compile(r"(?i)(authorization\"?\s*[:=]\s*\"?)[^\"\n,}]+"), rf"\1{REDACTED}"),
    # name=value in query strings and forms; "name": "value" in JSON.
    (re.compile(rf"(?i)\b({_SECRET_NAMES})=[^&\s\"']*"), rf"\1={REDACTED}"),
    (re.compile(rf"(?i)(\"({_SECRET_NAMES})\"\s*:\s*\")[^\"]*"), rf"\1{REDACTED}"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites each record's message (and traceback text) with secrets blanked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is logged as it is
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class RequestIds(logging.Filter):
    """Django's own request records (`django.request`: "Not Found: /api/...") carry the
    request: add the user and restaurant ids to them too."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if request is not None and hasattr(request, "path") and not getattr(record, "_ids_added", False):
            user_id, restaurant_id = _ids(request)
            record.msg = f"{record.getMessage()} userId={user_id} restaurantId={restaurant_id}"
            record.args = None
            record._ids_added = True
        return True


def scrub_daphne_access_log() -> None:
    """Daphne's access log prints each request's URI, query string included (a token sent as
    `?token=` would land in the log): redact its entries."""
    try:
        from daphne.access import AccessLogGenerator
    except ImportError:  # not served by daphne
        return
    original = AccessLogGenerator.write_entry
    if getattr(original, "redacts", False):
        return

    def write_entry(self, host, date, request, *args, **kwargs):
        return original(self, host, date, redact(request), *args, **kwargs)

    write_entry.redacts = True
    AccessLogGenerator.write_entry = write_entry


def _ids(request) -> tuple[str, str]:
    """The user and restaurant a request acted for, without a database query of its own: a
    session user nobody looked at stays unknown (the lazy object is left unevaluated)."""
    user = request.__dict__.get("user")
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is empty or wrapped is None or not getattr(wrapped, "is_authenticated", False):
        return "-", "-"
    return str(wrapped.pk), str(getattr(wrapped, "restaurant_id", None) or "-")


class RequestLogMiddleware:
    """`api request method=POST path=/api/v1/orders status=201 durationMs=12.3
    userId=… restaurantId=…`, one line per request: `api request` for the REST API,
    `http request` for everything else Django serves (admin, kitchen page, static files)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        user_id, restaurant_id = _ids(request)
        logger.info(
            "%s request method=%s path=%s status=%s durationMs=%.1f userId=%s restaurantId=%s",
            "api" if request.path.startswith("/api/") else "http",
            request.method, request.path, response.status_code,
            (time.perf_counter() - started) * 1000, user_id, restaurant_id,
        )
        return response
