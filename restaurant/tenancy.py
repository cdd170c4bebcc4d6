"""Which restaurant a request acts for.

Every API request is scoped to the authenticated user's restaurant. A `restaurantId` in a
request body or query is never read: the restaurant comes from the credentials alone.
"""

import uuid
from dataclasses import dataclass
from functools import lru_cache

from django.contrib.auth import get_user_model
from django.core.cache import cache
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.permissions import BasePermission
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.utils import aware_utcnow as jwt_aware_utcnow

from . import revocation, tenants


class StaffJWTAuthentication(JWTAuthentication):
    """simplejwt's bearer authentication, every check of it, and a token of an ended login
    (its `sid` in restaurant.revocation) refused; in the steady state without a query.

    One cache round trip per request reads the login's revocation, the user's last change
    and the restaurant's version. While nothing the token tells of its user has changed
    since it was issued, the user is built from its claims (`_user_of_claims`) and the
    restaurant comes from the process' rows (restaurant.tenants). Otherwise (a change, a
    token without those claims, the cache down) the user row is read with its restaurant,
    as simplejwt does, and refused when gone, inactive, its password changed, or moved."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user_model = _UsersWithRestaurant(self.user_model)

    def get_validated_token(self, raw_token):
        token = _reverified(raw_token) or super().get_validated_token(raw_token)
        token.cache_read = _read_cache(token)
        if token.cache_read.login_revoked:
            raise InvalidToken("The token's login has ended (logout or revocation).")
        return token

    def get_user(self, validated_token):
        read = getattr(validated_token, "cache_read", None) or _read_cache(validated_token)
        if read.claims_current:
            user = _user_of_claims(validated_token, read.restaurant_version)
            if user is not None:
                return user
        user = super().get_user(validated_token)
        # A token acts for the restaurant it was issued for: once its user moves to another
        # one (a superuser's change) it acts for none, as the sockets of that user close.
        issued_for = validated_token.get("restaurantId", str(user.restaurant_id or "") or None)
        if issued_for != (str(user.restaurant_id) if user.restaurant_id else None):
            raise InvalidToken("The token was issued for another restaurant.")
        return user


def _reverified(raw_token: bytes):
    """The token, if this process has verified it before and it has not expired since.

    A signature and the claims' shapes verify the same way every time for the same bytes and
    keys, so they are checked once per token per process (simplejwt's ~0.4 ms per request);
    the expiry is checked on every use, as simplejwt does. None: not seen yet, or expired
    (simplejwt then checks it again and answers the error it always has)."""
    token_class, payload = _verified(raw_token)
    if token_class is None:
        return None
    token = token_class.__new__(token_class)
    token.token, token.payload = raw_token, dict(payload)
    token.current_time = jwt_aware_utcnow()
    try:
        token.check_exp()
    except TokenError:
        return None
    return token


@lru_cache(maxsize=4096)
def _verified(raw_token: bytes):
    try:
        token = JWTAuthentication().get_validated_token(raw_token)
    except InvalidToken:
        return None, None  # cached too: a bad token is refused by simplejwt each time anyway
    return type(token), dict(token.payload)


@dataclass(frozen=True)
class _CacheRead:
    login_revoked: bool
    claims_current: bool
    restaurant_version: str | None


def _read_cache(token) -> _CacheRead:
    restaurant_id = token.get("restaurantId")
    keys = revocation.cache_keys(token)
    if restaurant_id:
        keys.append(tenants.version_key(restaurant_id))
    try:
        found = cache.get_many(keys)
    except Exception:  # noqa: BLE001 - the cache backend's connection errors
        return _CacheRead(*revocation.unavailable(), None)
    revoked, current = revocation.read(token, found)
    version = found.get(tenants.version_key(restaurant_id)) if restaurant_id else None
    return _CacheRead(revoked, current, version)


# What a token must carry to stand in for its user's row (orders.auth_services.token_claims).
_CLAIMS = ("role", "restaurantId", "name", "email", "superuser")
# The user fields `_user_of_claims` fills from them (any other loads from the database).
_FILLED = frozenset({"id", "email", "name", "role", "restaurant_id", "is_active", "is_superuser"})


def _user_of_claims(token, restaurant_version):
    """The token's user as a row loaded with only what the token tells: `id`, `email`,
    `name`, `role`, `restaurant_id`, `is_active` (any other field read loads from the
    database; a save writes only those). None: the token lacks a claim, or is a superuser's
    (its `role` claim says MANAGER whatever the row's: the row is read, as before)."""
    if any(claim not in token for claim in _CLAIMS) or token["superuser"] is not False:
        return None
    user_model = get_user_model()
    restaurant_id = token["restaurantId"]
    try:
        loaded = {
            "id": uuid.UUID(str(token[jwt_settings.USER_ID_CLAIM])),
            "email": token["email"], "name": token["name"], "role": token["role"],
            "restaurant_id": uuid.UUID(restaurant_id) if restaurant_id else None,
            "is_active": True, "is_superuser": False,
        }
    except (KeyError, ValueError, TypeError, AttributeError):
        return None
    names = _attnames_of_claims(user_model)
    user = user_model.from_db("default", names, [loaded[name] for name in names])
    if restaurant_id:
        restaurant = tenants.restaurant(restaurant_id, restaurant_version)
        if restaurant is None:
            raise InvalidToken("The token's restaurant does not exist.")
        user_model._meta.get_field("restaurant").set_cached_value(user, restaurant)
    return user


@lru_cache(maxsize=None)
def _attnames_of_claims(user_model) -> list[str]:
    """`_FILLED` in the model's field order, as `from_db` takes them."""
    return [f.attname for f in user_model._meta.concrete_fields if f.attname in _FILLED]


class _UsersWithRestaurant:
    """What `JWTAuthentication.get_user` uses of the user model (`objects.get`,
    `DoesNotExist`), with the restaurant joined in."""

    def __init__(self, model):
        self.objects = model.objects.select_related("restaurant")
        self.DoesNotExist = model.DoesNotExist


class IsRestaurantStaff(BasePermission):
    """Authenticated, active, and a member of a restaurant."""

    message = "Your account does not belong to a restaurant."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        return user.restaurant_id is not None


def current_restaurant(request):
    return request.user.restaurant


class RestaurantScopedMixin:
    """Gives a view `self.restaurant`, the caller's restaurant."""

    @property
    def restaurant(self):
        if getattr(self, "swagger_fake_view", False):
            return None  # schema generation: selectors then match nothing
        return current_restaurant(self.request)


class StaffJWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme of `StaffJWTAuthentication`: simplejwt's bearer JWT."""

    target_class = StaffJWTAuthentication


def roles_allowed(*roles: str):
    """A permission class: restaurant staff of one of `roles` (superusers act as managers).

    For reads; changes check the role in `orders.services`, whoever calls them."""

    class HasRole(IsRestaurantStaff):
        message = f"Only {', '.join(roles)} may do this."

        def has_permission(self, request, view):
            if not super().has_permission(request, view):
                return False
            role = "MANAGER" if request.user.is_superuser else request.user.role
            return role in roles

    HasRole.__name__ = "Only" + "Or".join(r.title() for r in roles)
    return HasRole
