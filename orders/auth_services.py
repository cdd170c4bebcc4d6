"""Issuing and revoking tokens: login, refresh (rotating), logout."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import BlacklistMixin, RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch, get_md5_hash_password

from restaurant import revocation, throttling

from .errors import Unauthenticated
from .models import User
from .services import role_of
from .signals import tokens_revoked

_BAD_CREDENTIALS = "Email or password is incorrect."
_BAD_REFRESH = "The refresh token is invalid, expired, revoked or already used."


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User
    token_type: str = "Bearer"


def token_claims(user: User) -> dict:
    """What a token tells of its user besides `userId` and the password's fingerprint: the
    reference backend's `role` and `restaurantId`, and what REST reads of the acting user
    (history's actor name), so that a request reads no user row while none of it changed
    (restaurant.tenancy, restaurant.revocation)."""
    return {
        "role": role_of(user),
        "restaurantId": str(user.restaurant_id) if user.restaurant_id else None,
        "name": user.name,
        "email": user.email,
        "superuser": user.is_superuser,
    }


def _issue(user: User, session_id: str | None = None) -> TokenPair:
    # Token's own `for_user` (the user id and password fingerprint claims), not the blacklist
    # app's, which stores the token at once: stored here with every claim instead, one insert
    # rather than an insert and an update.
    refresh = super(BlacklistMixin, RefreshToken).for_user(user)
    # `sid` names the login: it survives rotation, and logout ends that login's sockets.
    refresh["sid"] = session_id or uuid.uuid4().hex
    for claim, value in token_claims(user).items():
        refresh[claim] = value
    # The stored token names its login, so that a login's whole family can be found and
    # ended (`end_login`). The fields are those the blacklist app's `for_user` stores.
    OutstandingToken.objects.create(
        user=user, jti=refresh[jwt_settings.JTI_CLAIM], token=str(refresh),
        created_at=refresh.current_time, expires_at=datetime_from_epoch(refresh["exp"]),
    )
    return TokenPair(
        access_token=str(refresh.access_token),
        refresh_token=str(refresh),
        expires_in=int(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()),
        user=user,
    )


def login(*, request, email: str, password: str) -> TokenPair:
    # Unknown email, wrong password and inactive account answer alike (ModelBackend also runs
    # the hasher for unknown emails, so timing does not tell them apart either). The backend
    # counts the attempt first and raises `LockedOut` past the limit (restaurant.throttling).
    # The check runs outside the transaction: it may wait its turn behind other logins
    # (restaurant.password_checks), and a transaction would hold a connection meanwhile.
    user = authenticate(request, email=email, password=password)
    if user is None:
        raise Unauthenticated(_BAD_CREDENTIALS)
    throttling.forgive(request)
    with transaction.atomic():
        return _issue(user)


class _Reused(Unauthenticated):
    """A refresh token that was already rotated or revoked came back: its login is stolen."""

    def __init__(self, user_id, session_id):
        super().__init__(_BAD_REFRESH)
        self.user_id, self.session_id = user_id, session_id


class _PresentedRefreshToken(RefreshToken):
    """A refresh token as presented: signature, expiry and type verified; the blacklist is
    checked by `_lock_outstanding`, under the row lock, where a reuse is told apart."""

    def check_blacklist(self):
        pass


def _lock_outstanding(token: str) -> tuple[RefreshToken, OutstandingToken]:
    try:
        refresh = _PresentedRefreshToken(token)
        jti = refresh[jwt_settings.JTI_CLAIM]
    except (TokenError, KeyError):
        raise Unauthenticated(_BAD_REFRESH) from None
    # Locked so that two concurrent refreshes with one token cannot both succeed.
    outstanding = (
        OutstandingToken.objects.select_for_update(of=("self",)).filter(jti=jti).first()
    )
    if outstanding is None:
        raise Unauthenticated(_BAD_REFRESH)
    if BlacklistedToken.objects.filter(token=outstanding).exists():
        raise _Reused(outstanding.user_id, refresh.get("sid"))
    if revocation.login_revoked(refresh.get("sid")):
        raise Unauthenticated(_BAD_REFRESH)
    return refresh, outstanding


@transaction.atomic
def end_login(*, user_id, session_id: str | None) -> None:
    """End one login everywhere: every refresh token of its family blacklisted, its access
    tokens refused by REST (restaurant.revocation) and its sockets closed, once committed."""
    if session_id:
        family = OutstandingToken.objects.filter(
            user_id=user_id, blacklistedtoken__isnull=True, expires_at__gt=timezone.now()
        )
        for outstanding in family:
            if RefreshToken(outstanding.token, verify=False).get("sid") == session_id:
                BlacklistedToken.objects.get_or_create(token=outstanding)
        transaction.on_commit(lambda: revocation.revoke_login(session_id))
    if user_id is not None:
        tokens_revoked.send(sender=User, user_id=user_id, session_id=session_id)


def _refuse_reuse(function):
    """Reuse of a rotated refresh token ends its whole login (OAuth 2.0 Security BCP 4.14):
    the thief's newer token and the victim's stop working alike, and both log in again."""

    def guarded(**kwargs):
        try:
            return function(**kwargs)
        except _Reused as reused:  # the rolled-back transaction is over: end it in a new one
            end_login(user_id=reused.user_id, session_id=reused.session_id)
            raise Unauthenticated(_BAD_REFRESH) from None

    return guarded


@_refuse_reuse
@transaction.atomic
def token_refresh(*, refresh_token: str) -> TokenPair:
    refresh, outstanding = _lock_outstanding(refresh_token)
    user = User.objects.filter(pk=outstanding.user_id).first()
    if (
        user is None
        or not user.is_active
        or refresh.get(jwt_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password)
    ):
        raise Unauthenticated(_BAD_REFRESH)
    BlacklistedToken.objects.create(token=outstanding)
    return _issue(user, session_id=refresh.get("sid"))


@_refuse_reuse
@transaction.atomic
def logout(*, refresh_token: str) -> None:
    """End the login of a refresh token."""
    refresh, outstanding = _lock_outstanding(refresh_token)
    BlacklistedToken.objects.create(token=outstanding)
    end_login(user_id=outstanding.user_id, session_id=refresh.get("sid"))
