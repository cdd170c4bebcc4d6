"""Revoked tokens, refused at once on every channel that carries them, read from the cache
(Redis, shared by every worker) in the one round trip of a request (restaurant.tenancy).

Ended logins. A login is the `sid` claim its tokens carry (kept through refresh rotation).
Ending one (logout, a reused refresh token) puts `revoked-login:<sid>` in the cache for as
long as any token of that login can live. Refresh tokens are also blacklisted in the
database (orders.auth_services), which stays the record when the cache is lost. When the
cache is down this check lets tokens through with a warning (like the login throttle): REST
keeps working during a Redis outage.

Changed users. An access token carries what REST needs of its user (orders.auth_services
`token_claims`), so that a request reads no user row; it may stand in for the row only while
nothing the token tells has changed. A committed change to the user (orders.access: ended
access, a new role or name) puts `user-tokens-outdated:<id>` = the time in the cache; the
user's tokens issued before it (and up to `SETTLING` seconds after) are checked against the
database row as before: refused when the user is gone, inactive, has another password
(its hash's fingerprint, simplejwt's `hash_password` claim) or another restaurant; read
afresh otherwise. That database check also answers for every token when the cache is down
or does not answer, and for tokens issued before `user-tokens-outdated:since`: the time the
cache began holding these marks (set when missing: a flushed or restarted Redis forgets the
marks, so every older token is checked). A mark that cannot be written (Redis unreachable at
the commit) is written by the same process at its next request, and the cache must not
evict keys (Redis' default `noeviction`).
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

# Tokens issued this many seconds after a change are checked against the database too: a
# login or refresh that read the row before the change committed may sign its token after
# the mark was written; and the servers' clocks may differ by a little.
SETTLING = 10
SINCE_KEY = "user-tokens-outdated:since"

_unwritten: set[str] = set()  # users whose mark the cache did not take


def _lifetime() -> int:
    longest = max(
        settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"], settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]
    )
    return int(longest.total_seconds()) + 60


def _key(session_id: str) -> str:
    return f"revoked-login:{session_id}"


def _user_key(user_id) -> str:
    return f"user-tokens-outdated:{user_id}"


def revoke_login(session_id: str) -> None:
    try:
        cache.set(_key(session_id), 1, timeout=_lifetime())
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


def outdate_user_tokens(user_id) -> None:
    """After a committed change to the user: their tokens issued until now are checked
    against the database (the change may have ended their access)."""
    _unwritten.add(str(user_id))
    _write_unwritten()


def _write_unwritten() -> None:
    marks = {_user_key(user_id): time.time() for user_id in list(_unwritten)}
    try:
        cache.set_many(marks, timeout=_lifetime())
    except Exception:  # noqa: BLE001
        logger.error("%d users' changes not marked in the cache yet: it is unavailable", len(marks))
        return
    _unwritten.difference_update(key.rsplit(":", 1)[1] for key in marks)


def cache_keys(token) -> list[str]:
    """What `read` needs from the cache, for one `get_many` with the request's other keys."""
    keys = [SINCE_KEY, _user_key(token.get(settings.SIMPLE_JWT["USER_ID_CLAIM"]))]
    session_id = token.get("sid")
    if isinstance(session_id, str) and session_id:
        keys.append(_key(session_id))
    return keys


def read(token, found: dict) -> tuple[bool, bool]:
    """(the token's login ended, the token's claims may stand in for its user's row), from
    the cache's answer to `cache_keys`."""
    # Marks this process could not write: written now, and no token trusted on a read
    # made before they were.
    pending = bool(_unwritten)
    if pending:
        _write_unwritten()
    session_id = token.get("sid")
    revoked = isinstance(session_id, str) and bool(session_id) and _key(session_id) in found
    since = found.get(SINCE_KEY)
    if since is None:
        try:
            cache.add(SINCE_KEY, time.time(), timeout=None)
        except Exception:  # noqa: BLE001
            pass
        return revoked, False
    changed = found.get(_user_key(token.get(settings.SIMPLE_JWT["USER_ID_CLAIM"])), 0)
    issued = token.get("iat")
    current = isinstance(issued, (int, float)) and issued > max(since, changed) + SETTLING
    return revoked, current and not pending


def unavailable() -> tuple[bool, bool]:
    """`read`'s answer when the cache did not answer: no login known ended, every token
    checked against the database."""
    logger.warning("revoked tokens not read: the cache is unavailable", exc_info=True)
    return False, False
