"""Django admin for restaurant staff, one module per area; `site` is the admin site."""

from . import menu, orders, restaurants, users  # noqa: F401  (registers the model admins)
from .site import RestaurantAdminSite, TenantScopedAdmin, is_restaurant_manager, run_service, site

__all__ = ["RestaurantAdminSite", "TenantScopedAdmin", "is_restaurant_manager", "run_service", "site"]
