"""Ended logins, refused at once on every channel that carries their tokens.

A login is the `sid` claim its tokens carry (kept through refresh rotation). Ending one
(logout, a reused refresh token) puts `revoked-login:<sid>` in the cache (Redis, shared by
every worker) for as long as any token of that login can live; REST and the sockets check
it with the token's other claims: one cache read per request, no database query added.
Refresh tokens are also blacklisted in the database (orders.auth_services), which stays
the record when the cache is lost.

When the cache is down the check lets tokens through with a warning (like the login
throttle): REST keeps working during a Redis outage; the database checks (user active,
password unchanged, refresh blacklist) still apply.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


def _key(session_id: str) -> str:
    return f"revoked-login:{session_id}"


def revoke_login(session_id: str) -> None:
    lifetime = max(
        settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"], settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]
    )
    try:
        cache.set(_key(session_id), 1, timeout=int(lifetime.total_seconds()) + 60)
    except Exception:  # noqa: BLE001 - the cache backend's connection errors
        logger.warning("login %s not marked revoked: the cache is unavailable", session_id)


def login_revoked(session_id) -> bool:
    if not isinstance(session_id, str) or not session_id:
        return False
    try:
        return cache.get(_key(session_id)) is not None
    except Exception:  # noqa: BLE001
        logger.warning("revoked logins not checked: the cache is unavailable", exc_info=True)
        return False
