"""Which restaurant a request acts for.

Every API request is scoped to the authenticated user's restaurant. A `restaurantId` in a
request body or query is never read: the restaurant comes from the credentials alone.
"""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.permissions import BasePermission
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken

from .revocation import login_revoked


class StaffJWTAuthentication(JWTAuthentication):
    """simplejwt's bearer authentication, every check of it, with the user's restaurant
    loaded in the same query: every API request needs it (`current_restaurant`); and a token
    of an ended login (its `sid` in restaurant.revocation) refused."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user_model = _UsersWithRestaurant(self.user_model)

    def get_validated_token(self, raw_token):
        token = super().get_validated_token(raw_token)
        if login_revoked(token.get("sid")):
            raise InvalidToken("The token's login has ended (logout or revocation).")
        return token

    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        # A token acts for the restaurant it was issued for: once its user moves to another
        # one (a superuser's change) it acts for none, as the sockets of that user close.
        issued_for = validated_token.get("restaurantId", str(user.restaurant_id or "") or None)
        if issued_for != (str(user.restaurant_id) if user.restaurant_id else None):
            raise InvalidToken("The token was issued for another restaurant.")
        return user


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
