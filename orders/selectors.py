"""Tenant-scoped reads. Every function takes the restaurant; nothing here crosses it.

An object of another restaurant is reported exactly like a missing one (`NotFound`).
"""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Prefetch, QuerySet, Subquery, prefetch_related_objects

from .errors import NotFound
from .models import (
    MenuItem,
    ModifierGroup,
    ModifierOption,
    Order,
    OrderItem,
    Restaurant,
    ScreenDelivery,
    Table,
    TableSession,
    TableSessionStatus,
)


def _get(queryset: QuerySet, what: str, **lookup):
    try:
        return queryset.get(**lookup)
    except (queryset.model.DoesNotExist, ValueError):
        raise NotFound(f"{what} not found.") from None


def table_list(*, restaurant: Restaurant) -> QuerySet[Table]:
    open_session = TableSession.objects.filter(
        table=OuterRef("pk"), status=TableSessionStatus.OPEN
    ).values("pk")[:1]
    return Table.objects.filter(restaurant=restaurant).annotate(
        open_session_id=Subquery(open_session)
    )


def table_ref(*, restaurant: Restaurant, table_id) -> Table:
    """A reference to the restaurant's table, read by nobody yet (`order_ref`)."""
    return Table(pk=_uuid(table_id, "Table"), restaurant=restaurant)


def table_session_list(*, restaurant: Restaurant) -> QuerySet[TableSession]:
    return TableSession.objects.filter(table__restaurant=restaurant).select_related("table")


def table_session_get(*, restaurant: Restaurant, session_id) -> TableSession:
    return _get(table_session_list(restaurant=restaurant), "Table session", pk=session_id)


def menu_item_list(*, restaurant: Restaurant) -> QuerySet[MenuItem]:
    return MenuItem.objects.filter(restaurant=restaurant)


def _modifier_groups():
    options = Prefetch("options", queryset=ModifierOption.objects.order_by("position", "name"))
    return Prefetch(
        "modifier_groups",
        queryset=ModifierGroup.objects.order_by("position", "name").prefetch_related(options),
    )


def menu_with_modifiers(*, restaurant: Restaurant) -> QuerySet[MenuItem]:
    """The menu as `GET /menu-items` shows it: groups and options in order (two queries)."""
    return menu_item_list(restaurant=restaurant).prefetch_related(_modifier_groups())


def menu_item_get(*, restaurant: Restaurant, menu_item_id) -> MenuItem:
    return _get(menu_item_list(restaurant=restaurant), "Menu item", pk=menu_item_id)


def menu_item_ref(*, restaurant: Restaurant, menu_item_id) -> MenuItem:
    """A reference to the restaurant's dish, read by nobody yet (`order_ref`)."""
    return MenuItem(pk=_uuid(menu_item_id, "Menu item"), restaurant=restaurant)


def menu_item_with_modifiers(*, restaurant: Restaurant, menu_item: MenuItem) -> MenuItem:
    """A dish a service just returned, loaded for rendering without reading the dish again:
    its modifier groups (one query; their options, one more, when it has any)."""
    if menu_item.restaurant_id != restaurant.pk:
        raise NotFound("Menu item not found.")
    prefetch_related_objects([menu_item], _modifier_groups())
    return menu_item


def _items_in_order():
    return Prefetch("items", queryset=OrderItem.objects.order_by("created_at", "id"))


def _screen_deliveries():
    """What `seenBy` shows: the screens that acknowledged the order's ticket events."""
    return Prefetch(
        "screen_deliveries",
        queryset=ScreenDelivery.objects.select_related("screen").order_by("seen_at", "id"),
    )


def order_list(*, restaurant: Restaurant) -> QuerySet[Order]:
    return Order.objects.filter(restaurant=restaurant).prefetch_related(
        _items_in_order(), _screen_deliveries()
    )


def order_get(*, restaurant: Restaurant, order_id) -> Order:
    return _get(order_list(restaurant=restaurant), "Order", pk=order_id)


def order_ref(*, restaurant: Restaurant, order_id) -> Order:
    """A reference to the restaurant's order `order_id`, read by nobody yet: what a service
    takes. The service locks the row with the restaurant in its filter (one read), so a
    missing order and another restaurant's are both not found there."""
    return Order(pk=_uuid(order_id, "Order"), restaurant=restaurant)


def _uuid(value, what: str) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"{what} not found.") from None


def order_with_items(
    *, restaurant: Restaurant, order: Order, items: bool = True, screens: bool = True
) -> Order:
    """An order a service just returned, loaded for rendering without reading the order again:
    its items (one query) unless the service returned them with it (a prefetch already done is
    not repeated: Django's `prefetch_related_objects`), and once confirmed the screens of
    `seenBy` (one query). `items`/`screens` False: the caller knows them (none) and does not
    read them."""
    if order.restaurant_id != restaurant.pk:
        raise NotFound("Order not found.")
    lookups = [_items_in_order()] if items else []
    if screens and order.confirmed_at:
        lookups.append(_screen_deliveries())
    prefetch_related_objects([order], *lookups)
    return order


def order_item_ref(*, restaurant: Restaurant, order_id, item_id) -> OrderItem:
    """A reference to an item of the restaurant's order, read by nobody yet (`order_ref`)."""
    return OrderItem(
        pk=_uuid(item_id, "Order item"), order=order_ref(restaurant=restaurant, order_id=order_id)
    )


def table_session_ref(*, restaurant: Restaurant, session_id) -> TableSession:
    """A reference to the restaurant's table session, read by nobody yet (`order_ref`): its
    table is unknown until the service locks it, its restaurant is the one it must be of."""
    return TableSession(pk=_uuid(session_id, "Table session"), table=Table(pk=None, restaurant=restaurant))


def order_item_get(*, restaurant: Restaurant, order_id, item_id) -> OrderItem:
    return _get(
        OrderItem.objects.select_related("order"),
        "Order item",
        pk=item_id,
        order_id=order_id,
        order__restaurant=restaurant,
    )


def kitchen_tickets(*, restaurant: Restaurant) -> QuerySet[Order]:
    """Orders the kitchen is working on, oldest confirmation first."""
    from .services import ACTIVE_ORDER_STATUSES

    return (
        order_list(restaurant=restaurant)
        .filter(status__in=ACTIVE_ORDER_STATUSES)
        .select_related("table_session__table", "created_by")
        .order_by("confirmed_at", "created_at")
    )


def kitchen_ticket_get(*, restaurant: Restaurant, order_id) -> Order:
    """One ticket, whatever its status (a cancelled ticket is still shown, struck through)."""
    return _get(
        order_list(restaurant=restaurant).select_related("table_session__table", "created_by"),
        "Order", pk=order_id,
    )


def menu_stations(*, restaurant: Restaurant) -> list[str]:
    return sorted(
        set(menu_item_list(restaurant=restaurant).exclude(station="").values_list("station", flat=True))
    )


def order_history(*, restaurant: Restaurant, order_id):
    """The order's every change, oldest first; another restaurant's order is not found."""
    from .history import HistoryEntry

    order = _get(Order.objects.filter(restaurant=restaurant), "Order", pk=order_id)
    return HistoryEntry.objects.filter(restaurant_id=restaurant.pk, order_id=order.pk).order_by("id")


def screen_of(*, restaurant: Restaurant, screen_id):
    """The id of the restaurant's screen `screen_id`, or None (absent, malformed, another's)."""
    from .screens import Screen

    if not screen_id or restaurant is None:
        return None
    try:
        return Screen.objects.filter(restaurant=restaurant, pk=screen_id).values_list("pk", flat=True).first()
    except (ValueError, ValidationError):
        return None
