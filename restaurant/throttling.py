"""Anti-automation for every password surface: the API login, the kitchen login, the admin
login and the admin's password change.

Two counters in the cache (Redis in production, shared by every worker): one per account
(its `account_key`, so every spelling of one email is one account, known or not) and one per
client address (`client_address`). An attempt is *counted before the password is checked*:
each counter is one atomic Redis INCR, so of any number of parallel guesses only the first
`limit` are checked; the rest are refused without touching the password hasher. A surface
that lets the user in gives the attempt back (`forgive`), so staff signing in are never
counted, only failures and attempts still in flight.

A window (the rate's period, e.g. a minute) opens at a counter's first attempt; a locked-out
caller waits until it ends, which `Retry-After` says. Unknown and known accounts are
counted and refused alike, before any database lookup.

Why not django-axes (with its cache handler): it records a failure after the password was
checked (the `user_login_failed` signal) and checks the lockout only before, so N parallel
guesses are all checked; its cache handler's first increment races (jazzband/django-axes
#1144); and it knows nothing of DRF or JWT views. What is needed here is a reservation made
before the check, which is a dozen lines over the cache's atomic `incr`.

When the cache is down, attempts go on uncounted, with a warning: staff must still be able to
sign in during a Redis outage (docs/reliability.md).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from . import password_checks
from .identity import account_key

logger = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class LockedOut(Exception):
    """Too many attempts for this account or from this address; retry after `retry_after` s."""

    def __init__(self, retry_after: int):
        super().__init__(f"locked out for {retry_after} s")
        self.retry_after = retry_after

    @property
    def message(self) -> str:
        return f"Too many sign-in attempts. Try again in {self.retry_after} seconds."


def parse_rate(rate: str) -> tuple[int, int]:
    """"10/min" -> (10, 60): DRF's rate notation."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period.strip()[0]]


def client_address(request) -> str:
    """The address the request came from, `X-Forwarded-For` read only behind proxies we trust.

    With `TRUSTED_PROXY_COUNT` = N > 0, each of the N proxies appended the address it got the
    request from; the client is the entry the outermost one wrote, N from the right. Entries
    further left are whatever the client sent. With 0 (the default) the header is ignored.
    """
    remote = request.META.get("REMOTE_ADDR") or ""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops <= 0:
        return remote
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [a for a in forwarded if a]
    return forwarded[-min(hops, len(forwarded))] if forwarded else remote


def _digest(value: str) -> str:
    # A key may not hold every character an email or header can (NUL, lone surrogates).
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:40]


@dataclass
class _Attempt:
    keys: list[str] = field(default_factory=list)


def _count(key: str, window: int, now: float) -> int:
    """One more attempt in the window that the key's first attempt opened: SET NX with the
    window as lifetime, then INCR, each atomic in Redis."""
    for _ in range(2):
        if cache.add(key, 0, timeout=window):
            cache.set(key + ":since", now, timeout=window)
        try:
            return cache.incr(key)
        except ValueError:  # the window ended between the two calls: open the next one
            continue
    return 1


def reserve(request, email: str) -> None:
    """Count one attempt at `email` from this request's address, before checking it.

    Raises `LockedOut` when either counter is over its limit (the attempt stays counted)."""
    now = time.time()
    attempt = _Attempt()
    retry_after = 0
    counters = (
        ("account", account_key(email), settings.LOGIN_THROTTLE_ACCOUNT),
        ("address", client_address(request), settings.LOGIN_THROTTLE_ADDRESS),
    )
    try:
        for scope, ident, rate in counters:
            limit, window = parse_rate(rate)
            key = f"login-attempts:{scope}:{_digest(ident)}"
            count = _count(key, window, now)
            attempt.keys.append(key)
            if count > limit:
                started = cache.get(key + ":since") or now
                retry_after = max(retry_after, math.ceil(started + window - now), 1)
    except Exception:  # noqa: BLE001 - the cache backend's connection errors
        logger.warning("login attempt not counted: the cache is unavailable", exc_info=True)
        return
    request._login_attempt = attempt
    if retry_after:
        raise LockedOut(retry_after)


def forgive(request) -> None:
    """The attempt this request reserved let the user in: give it back to both counters."""
    attempt = getattr(request, "_login_attempt", None)
    if attempt is None:
        return
    request._login_attempt = None
    for key in attempt.keys:
        try:
            cache.decr(key)
        except Exception:  # noqa: BLE001 - expired meanwhile, or the cache is away
            pass


class LoginThrottleBackend(ModelBackend):
    """Django's ModelBackend behind `reserve`: every `authenticate(request, ...)` that names
    an account, whichever surface calls it, is counted before the password is checked.

    ModelBackend itself stays listed after it in AUTHENTICATION_BACKENDS, only so that
    sessions that name it (signed in before this backend existed) stay signed in: a refused
    counted attempt raises PermissionDenied, which stops Django from checking the password
    again with the next backend."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        email = username if username is not None else kwargs.get("email")
        # One turn (restaurant.password_checks) for the counting and the check: an attempt
        # is counted when it is checked, not while it waits behind a shift's other logins.
        with password_checks.turn():
            if request is None or not isinstance(email, str):
                return super().authenticate(request, username=username, password=password, **kwargs)
            reserve(request, email)
            user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            raise PermissionDenied  # authenticate() answers None, sends user_login_failed
        return user


def locked_out_page(request, locked: LockedOut):
    """What an HTML surface (kitchen, admin) answers a locked-out attempt: 429 and a page."""
    response = render(
        request, "locked_out.html", {"message": locked.message, "back": request.path}, status=429
    )
    response["Retry-After"] = str(locked.retry_after)
    return response
