"""WebSocket authentication, in the handshake (ASGI middleware) or by a first message.

Credentials: `Authorization: Bearer <access token>`, or the Django session cookie of a
same-site page, or (browsers without either) `{"type": "auth", "token": ...}` as the first
message. Never a token in the URL.

Origins: a handshake whose `Origin` is not allowed is refused before it is accepted. A
cookie only counts when an allowed Origin came with it (no cross-site socket hijacking);
clients that send no Origin (POS apps, scripts) must authenticate by token.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.db import DatabaseError
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from restaurant.tenancy import StaffJWTAuthentication

URL_TOKEN_PARAMS = {"token", "access_token", "accessToken", "jwt", "auth"}


class AuthRefused(Exception):
    def __init__(self, reason: str, *, retryable: bool = False):
        super().__init__(reason)
        self.reason = reason
        # Not the client's fault (the database is down): it should retry, not log in again.
        self.retryable = retryable


SERVICE_UNAVAILABLE = "Service unavailable; retry"


@dataclass(frozen=True)
class SocketIdentity:
    user_id: str
    restaurant_id: str
    role: str
    method: str  # "token" or "cookie"
    expires_at: float | None  # epoch seconds; None: lives as long as the session
    session_id: str | None  # the login (token family) it belongs to


def _authenticate_token_sync(raw: str) -> SocketIdentity:
    # REST's authentication, every check of it: a token of an ended login is refused too.
    authenticator = StaffJWTAuthentication()
    try:
        token = authenticator.get_validated_token(raw.encode() if isinstance(raw, str) else raw)
        user = authenticator.get_user(token)
    except (InvalidToken, TokenError, AuthenticationFailed):
        raise AuthRefused("Invalid token") from None
    except DatabaseError:
        raise AuthRefused(SERVICE_UNAVAILABLE, retryable=True) from None
    except Exception:  # noqa: BLE001 - malformed claims of a validly signed token, etc.
        raise AuthRefused("Invalid token") from None
    if user.restaurant_id is None:
        raise AuthRefused("Account has no restaurant")
    return SocketIdentity(
        user_id=str(user.pk),
        restaurant_id=str(user.restaurant_id),
        role=user.role,
        method="token",
        expires_at=float(token["exp"]),
        session_id=token.get("sid"),
    )


authenticate_token = database_sync_to_async(_authenticate_token_sync)


def session_login_id(session_key: str) -> str:
    """The `session_id` of the sockets a Django session opened: the session key itself is a
    credential and never leaves the process, a digest of it names the login."""
    return "session:" + hashlib.sha256(session_key.encode()).hexdigest()[:32]


def _session_expires_at(session) -> float:
    """When the Django session ends (epoch seconds): its row's `expire_date` for the database
    backends, else the expiry the session itself computes."""
    get_model_class = getattr(session, "get_model_class", None)
    if get_model_class is not None:
        expire_date = (
            get_model_class().objects.filter(session_key=session.session_key)
            .values_list("expire_date", flat=True).first()
        )
        if expire_date is not None:
            return expire_date.timestamp()
    return session.get_expiry_date().timestamp()


def _identity_from_session_sync(user, session) -> SocketIdentity | None:
    if not (user and user.is_authenticated and user.is_active and user.restaurant_id):
        return None
    session_key = getattr(session, "session_key", None)
    if not session_key:
        return None
    try:
        expires_at = _session_expires_at(session)
    except DatabaseError:
        return None
    return SocketIdentity(
        user_id=str(user.pk),
        restaurant_id=str(user.restaurant_id),
        role=user.role,
        method="cookie",
        # The consumer closes the socket when the session expires; signing out (any
        # `logout()`) closes it through `session_id` (realtime.receivers).
        expires_at=expires_at,
        session_id=session_login_id(session_key),
    )


identity_from_session = database_sync_to_async(_identity_from_session_sync)


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def origin_allowed(origin: str, host: str | None) -> bool:
    allowed = settings.WS_ALLOWED_ORIGINS
    if "*" in allowed or origin in allowed:
        return True
    # Same origin: the page was served by this host (the kitchen display).
    return host is not None and urlsplit(origin).netloc.lower() == host.lower()


class OriginAndTokenMiddleware:
    """Puts `scope["identity"]` (or `scope["auth_error"]`) for the consumer to act on."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        origin = _header(scope, b"origin")
        if origin is not None and not origin_allowed(origin, _header(scope, b"host")):
            return await WebsocketDenier()(scope, receive, send)
        scope = dict(scope, identity=None, auth_error=None, last_event_id=_header(scope, b"last-event-id"))
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        authorization = _header(scope, b"authorization")
        if URL_TOKEN_PARAMS & query.keys():
            scope["auth_error"] = "Tokens in the URL are not accepted"
        elif authorization is not None:
            scheme, _, raw = authorization.partition(" ")
            if scheme.lower() != "bearer" or not raw.strip():
                scope["auth_error"] = "Invalid token"
            else:
                try:
                    scope["identity"] = await authenticate_token(raw.strip())
                except AuthRefused as refused:
                    scope["auth_error"] = refused.reason
                    scope["auth_retryable"] = refused.retryable
        elif origin is not None:
            # A browser: its session cookie counts, since the Origin was checked above.
            scope["identity"] = await identity_from_session(scope.get("user"), scope.get("session"))
        return await self.app(scope, receive, send)


def websocket_auth_stack(app):
    return AuthMiddlewareStack(OriginAndTokenMiddleware(app))
