"""Unit tests of `orders.services`, called directly (no HTTP)."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from orders import services
from orders.errors import Conflict, Forbidden, IllegalTransition, NotFound
from orders.models import (
    ItemStatus,
    MenuItem,
    Order,
    OrderItem,
    OrderStatus,
    Role,
    TableSession,
    TableSessionStatus,
)
from tests.factories import (
    MenuItemFactory,
    OrderFactory,
    OrderItemFactory,
    TableFactory,
)

PENDING, IN_PROGRESS, READY, SERVED, CANCELLED = (
    "PENDING", "IN_PROGRESS", "READY", "SERVED", "CANCELLED",
)


def make_order(floor, status, item_statuses, **item_kwargs):
    order = OrderFactory(table_session=floor.session, status=status)
    items = [OrderItemFactory(order=order, status=s, **item_kwargs) for s in item_statuses]
    return order, items


def db_state():
    return (
        sorted(Order.objects.values_list("pk", "status", "updated_at", "cancel_reason", "notes")),
        sorted(
            OrderItem.objects.values_list("pk", "status", "qty", "notes", "name", "updated_at")
        ),
        sorted(TableSession.objects.values_list("pk", "status", "closed_at")),
    )


# --- derive_order_status -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "items,expected",
    [
        # any item IN_PROGRESS, or a mix of started and not -> IN_PROGRESS
        ([IN_PROGRESS], "IN_PROGRESS"),
        ([PENDING, IN_PROGRESS], "IN_PROGRESS"),
        ([PENDING, READY], "IN_PROGRESS"),
        ([PENDING, SERVED], "IN_PROGRESS"),
        ([IN_PROGRESS, READY], "IN_PROGRESS"),
        ([IN_PROGRESS, SERVED], "IN_PROGRESS"),
        ([IN_PROGRESS, READY, SERVED], "IN_PROGRESS"),
        ([PENDING, PENDING, READY, SERVED], "IN_PROGRESS"),
        # all READY or SERVED, not all SERVED -> READY
        ([READY], "READY"),
        ([READY, READY], "READY"),
        ([READY, SERVED], "READY"),
        ([SERVED, SERVED, READY], "READY"),
        # all SERVED -> SERVED
        ([SERVED], "SERVED"),
        ([SERVED, SERVED], "SERVED"),
        # all CANCELLED -> CANCELLED
        ([CANCELLED], "CANCELLED"),
        ([CANCELLED, CANCELLED], "CANCELLED"),
        # cancelled items are ignored
        ([CANCELLED, PENDING], "CONFIRMED"),
        ([CANCELLED, IN_PROGRESS], "IN_PROGRESS"),
        ([CANCELLED, IN_PROGRESS, PENDING], "IN_PROGRESS"),
        ([CANCELLED, READY], "READY"),
        ([CANCELLED, READY, SERVED], "READY"),
        ([CANCELLED, SERVED], "SERVED"),
        ([SERVED, CANCELLED, CANCELLED], "SERVED"),
        # nothing started -> still CONFIRMED
        ([PENDING], "CONFIRMED"),
        ([PENDING, PENDING, PENDING], "CONFIRMED"),
    ],
    ids=lambda v: "+".join(v) if isinstance(v, list) else v,
)
def test_derive_order_status(items, expected):
    assert services.derive_order_status(items) == expected
    # Order of the items does not matter.
    assert services.derive_order_status(list(reversed(items))) == expected


# --- the order follows its items ---------------------------------------------------------------

# Each step: (item index, new item status, acting role, expected order status after).
SEQUENCES = {
    "cook-and-serve-both": [
        (0, IN_PROGRESS, Role.KITCHEN, "IN_PROGRESS"),
        (0, READY, Role.KITCHEN, "IN_PROGRESS"),
        (1, IN_PROGRESS, Role.KITCHEN, "IN_PROGRESS"),
        (1, READY, Role.KITCHEN, "READY"),
        (0, SERVED, Role.WAITER, "READY"),
        (1, SERVED, Role.WAITER, "SERVED"),
    ],
    "recalls": [
        (0, IN_PROGRESS, Role.KITCHEN, "IN_PROGRESS"),
        (0, PENDING, Role.KITCHEN, "CONFIRMED"),
        (0, IN_PROGRESS, Role.MANAGER, "IN_PROGRESS"),
        (1, IN_PROGRESS, Role.KITCHEN, "IN_PROGRESS"),
        (0, READY, Role.KITCHEN, "IN_PROGRESS"),
        (1, READY, Role.KITCHEN, "READY"),
        (1, IN_PROGRESS, Role.KITCHEN, "IN_PROGRESS"),
        (1, READY, Role.MANAGER, "READY"),
    ],
    "cancel-every-item": [
        (0, CANCELLED, Role.WAITER, "CONFIRMED"),
        (1, IN_PROGRESS, Role.KITCHEN, "IN_PROGRESS"),
        (1, CANCELLED, Role.WAITER, "CANCELLED"),
    ],
    "cancelled-item-ignored-for-ready-and-served": [
        (0, IN_PROGRESS, Role.KITCHEN, "IN_PROGRESS"),
        (1, CANCELLED, Role.MANAGER, "IN_PROGRESS"),
        (0, READY, Role.KITCHEN, "READY"),
        (0, SERVED, Role.WAITER, "SERVED"),
    ],
}


@pytest.mark.parametrize("steps", SEQUENCES.values(), ids=SEQUENCES.keys())
def test_order_status_follows_item_moves(floor, steps):
    order, items = make_order(floor, OrderStatus.CONFIRMED, [PENDING, PENDING])
    last_updated = Order.objects.get(pk=order.pk).updated_at
    for index, to_status, role, expected_order_status in steps:
        moved = services.item_set_status(
            actor=floor.user(role), item=items[index], status=to_status
        )
        assert moved.status == to_status
        assert OrderItem.objects.get(pk=items[index].pk).status == to_status
        order.refresh_from_db()
        assert order.status == expected_order_status, (index, to_status)
        assert order.updated_at > last_updated
        last_updated = order.updated_at


@pytest.mark.parametrize("final", ["SERVED", "CANCELLED"])
def test_items_of_a_final_order_do_not_move(floor, final):
    statuses = [SERVED, CANCELLED] if final == "SERVED" else [CANCELLED, CANCELLED]
    order, items = make_order(floor, final, statuses)
    before = db_state()
    # No legal move leaves SERVED or CANCELLED, whoever asks.
    for item in items:
        for to_status in (PENDING, IN_PROGRESS, READY):
            with pytest.raises(IllegalTransition):
                services.item_set_status(actor=floor.manager, item=item, status=to_status)
    assert db_state() == before


def test_item_set_status_rejects_an_unknown_status(floor):
    order, (item,) = make_order(floor, OrderStatus.CONFIRMED, [PENDING])
    before = db_state()
    with pytest.raises(ValidationError):
        services.item_set_status(actor=floor.kitchen, item=item, status="COOKED")
    assert db_state() == before


def test_item_set_status_returns_illegal_transition_naming_both_states(floor):
    order, (item,) = make_order(floor, OrderStatus.CONFIRMED, [PENDING])
    with pytest.raises(IllegalTransition) as excinfo:
        services.item_set_status(actor=floor.kitchen, item=item, status=READY)
    assert (excinfo.value.current, excinfo.value.target) == (PENDING, READY)
    assert "PENDING" in excinfo.value.detail and "READY" in excinfo.value.detail


def test_item_set_status_works_from_a_stale_instance(floor):
    """The service re-reads the item under lock: a stale Python object cannot skip a state."""
    order, (item,) = make_order(floor, OrderStatus.CONFIRMED, [PENDING])
    stale = OrderItem.objects.get(pk=item.pk)
    services.item_set_status(actor=floor.kitchen, item=item, status=IN_PROGRESS)
    services.item_set_status(actor=floor.kitchen, item=item, status=READY)
    # `stale` still says PENDING, the database says READY: READY -> CANCELLED is illegal.
    with pytest.raises(IllegalTransition) as excinfo:
        services.item_set_status(actor=floor.waiter, item=stale, status=CANCELLED)
    assert excinfo.value.current == READY
    assert OrderItem.objects.get(pk=item.pk).status == READY


# --- order_cancel -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "order_status,item_statuses",
    [
        ("DRAFT", [PENDING, PENDING]),
        ("CONFIRMED", [PENDING, CANCELLED]),
        ("IN_PROGRESS", [PENDING, IN_PROGRESS, CANCELLED]),
        ("IN_PROGRESS", [IN_PROGRESS, IN_PROGRESS]),
    ],
)
def test_order_cancel_cancels_open_items(floor, order_status, item_statuses):
    order, items = make_order(floor, order_status, item_statuses)
    before = {i.pk: OrderItem.objects.get(pk=i.pk).updated_at for i in items}
    result = services.order_cancel(actor=floor.waiter, order=order, reason="guest left")
    assert result.status == OrderStatus.CANCELLED
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.cancel_reason == "guest left"
    for item, was in zip(items, item_statuses, strict=True):
        item.refresh_from_db()
        assert item.status == CANCELLED
        if was != CANCELLED:
            assert item.updated_at > before[item.pk]
        else:
            assert item.updated_at == before[item.pk]


@pytest.mark.parametrize(
    "order_status,item_statuses",
    [
        ("READY", [READY, READY]),
        ("IN_PROGRESS", [PENDING, READY]),
        ("IN_PROGRESS", [IN_PROGRESS, SERVED]),
    ],
)
def test_order_cancel_refused_once_an_item_is_ready_or_served(floor, order_status, item_statuses):
    order, _ = make_order(floor, order_status, item_statuses)
    before = db_state()
    with pytest.raises(IllegalTransition):
        services.order_cancel(actor=floor.waiter, order=order)
    assert db_state() == before


@pytest.mark.parametrize("final", ["SERVED", "CANCELLED"])
def test_order_cancel_refused_on_a_final_order(floor, final):
    order, _ = make_order(floor, final, [SERVED if final == "SERVED" else CANCELLED])
    before = db_state()
    with pytest.raises(IllegalTransition) as excinfo:
        services.order_cancel(actor=floor.manager, order=order)
    assert (excinfo.value.current, excinfo.value.target) == (final, "CANCELLED")
    assert db_state() == before


# --- order_confirm ------------------------------------------------------------------------------


def test_order_confirm(floor):
    order, _ = make_order(floor, OrderStatus.DRAFT, [PENDING])
    result = services.order_confirm(actor=floor.waiter, order=order)
    assert result.status == OrderStatus.CONFIRMED
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert order.confirmed_at is not None


def test_order_confirm_leaves_the_items_it_fired_loaded_as_stored(floor, django_assert_num_queries):
    order, _ = make_order(floor, OrderStatus.DRAFT, [PENDING, PENDING])
    OrderItemFactory(order=order, course=2)
    result = services.order_confirm(actor=floor.waiter, order=order)
    with django_assert_num_queries(0):  # the answer and order.new reuse them
        held = [(i.pk, i.course, i.fired_at, i.status, i.updated_at) for i in result.items.all()]
    stored = list(
        OrderItem.objects.filter(order=order).order_by("created_at", "id")
        .values_list("pk", "course", "fired_at", "status", "updated_at")
    )
    assert held == stored
    assert [fired is not None for _, course, fired, *_ in held] == [True, True, False]


def test_order_confirm_gives_the_next_ticket_number_of_the_day(floor):
    first, _ = make_order(floor, OrderStatus.DRAFT, [PENDING])
    second, _ = make_order(floor, OrderStatus.DRAFT, [PENDING])
    assert services.order_confirm(actor=floor.waiter, order=first).number == 1
    assert services.order_confirm(actor=floor.waiter, order=second).number == 2
    assert sorted(Order.objects.values_list("number", flat=True)) == [1, 2]


def test_order_confirm_numbers_from_a_bare_reference_and_for_a_superuser_of_another_restaurant(floor, other_floor):
    from tests.factories import UserFactory

    admin = UserFactory(restaurant=other_floor.restaurant, is_superuser=True, role=Role.MANAGER)
    first, _ = make_order(floor, OrderStatus.DRAFT, [PENDING])
    second, _ = make_order(floor, OrderStatus.DRAFT, [PENDING])
    third, _ = make_order(floor, OrderStatus.DRAFT, [PENDING])
    assert services.order_confirm(actor=floor.waiter, order=Order(pk=first.pk)).number == 1
    assert services.order_confirm(actor=admin, order=Order(pk=second.pk)).number == 2
    assert services.order_confirm(actor=admin, order=third).number == 3


def test_order_confirm_rolled_back_gives_its_ticket_number_back(floor):
    first, _ = make_order(floor, OrderStatus.DRAFT, [PENDING])
    second, _ = make_order(floor, OrderStatus.DRAFT, [PENDING])
    with transaction.atomic():
        assert services.order_confirm(actor=floor.waiter, order=first).number == 1
        transaction.set_rollback(True)
    assert services.order_confirm(actor=floor.waiter, order=second).number == 1
    first.refresh_from_db()
    assert (first.status, first.number) == (OrderStatus.DRAFT, None)


def test_order_confirm_never_gives_a_number_again_that_was_given_without_the_counter(floor, other_floor):
    """The previous release, still confirming while a deploy migrates, numbers from the
    orders themselves: the counter then lags behind them, and must not hand those out."""
    first, _ = make_order(floor, OrderStatus.DRAFT, [PENDING])
    second, _ = make_order(floor, OrderStatus.DRAFT, [PENDING])
    day = services.order_confirm(actor=floor.waiter, order=first).service_date
    OrderFactory(table_session=floor.session, status=OrderStatus.CONFIRMED, number=5, service_date=day)
    OrderFactory(table_session=other_floor.session, status=OrderStatus.CONFIRMED, number=9, service_date=day)
    assert services.order_confirm(actor=floor.waiter, order=second).number == 6


def test_a_reference_to_another_restaurants_order_is_not_found_even_for_a_superuser(floor, other_floor):
    from orders import selectors
    from tests.factories import UserFactory

    admin = UserFactory(restaurant=floor.restaurant, is_superuser=True, role=Role.MANAGER)
    order, _ = make_order(other_floor, OrderStatus.DRAFT, [PENDING])
    before = db_state()
    ref = selectors.order_ref(restaurant=floor.restaurant, order_id=order.pk)
    with pytest.raises(NotFound):
        services.order_confirm(actor=admin, order=ref)
    item = order.items.get()
    with pytest.raises(NotFound):
        services.item_set_status(
            actor=admin, status=CANCELLED,
            item=selectors.order_item_ref(restaurant=floor.restaurant, order_id=order.pk, item_id=item.pk),
        )
    with pytest.raises(NotFound):
        services.order_create(
            actor=admin,
            table_session=selectors.table_session_ref(restaurant=floor.restaurant, session_id=other_floor.session.pk),
        )
    assert db_state() == before


def test_item_references_cost_no_query_and_a_missing_item_is_not_found(floor, django_assert_num_queries):
    import uuid

    from orders import selectors

    order, _ = make_order(floor, OrderStatus.CONFIRMED, [PENDING])
    with django_assert_num_queries(0):
        ref = selectors.order_item_ref(restaurant=floor.restaurant, order_id=order.pk, item_id=uuid.uuid4())
        selectors.order_ref(restaurant=floor.restaurant, order_id=order.pk)
        selectors.table_session_ref(restaurant=floor.restaurant, session_id=floor.session.pk)
    with pytest.raises(NotFound):
        services.item_set_status(actor=floor.kitchen, item=ref, status=IN_PROGRESS)


def test_order_confirm_needs_an_item(floor):
    order, _ = make_order(floor, OrderStatus.DRAFT, [])
    with pytest.raises(IllegalTransition):
        services.order_confirm(actor=floor.waiter, order=order)
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT


# --- table sessions -----------------------------------------------------------------------------


def test_table_session_open_twice_is_a_conflict(floor):
    table = TableFactory(restaurant=floor.restaurant)
    first = services.table_session_open(actor=floor.waiter, table=table, guests=2)
    assert first.status == TableSessionStatus.OPEN
    assert first.opened_by == floor.waiter
    with pytest.raises(Conflict):
        services.table_session_open(actor=floor.manager, table=table)
    assert TableSession.objects.filter(table=table).count() == 1


def test_table_session_open_on_a_table_that_has_one_from_the_fixture(floor):
    with pytest.raises(Conflict):
        services.table_session_open(actor=floor.waiter, table=floor.table)
    assert TableSession.objects.filter(table=floor.table).count() == 1


def test_db_rejects_a_second_open_session_even_inserted_directly(floor):
    with pytest.raises(IntegrityError):
        with transaction.atomic():
            TableSession.objects.create(table=floor.table)
    with pytest.raises(IntegrityError):
        with transaction.atomic():
            TableSession.objects.bulk_create([TableSession(table=floor.table)])
    assert TableSession.objects.filter(table=floor.table).count() == 1
    # The constraint is partial: CLOSED sessions of the same table are fine.
    TableSession.objects.create(
        table=floor.table, status=TableSessionStatus.CLOSED, closed_at=timezone.now()
    )
    assert TableSession.objects.filter(table=floor.table).count() == 2


def test_db_rejects_reopening_a_closed_session_when_another_is_open(floor):
    closed = TableSession.objects.create(
        table=floor.table, status=TableSessionStatus.CLOSED, closed_at=timezone.now()
    )
    with pytest.raises(IntegrityError):
        with transaction.atomic():
            TableSession.objects.filter(pk=closed.pk).update(
                status=TableSessionStatus.OPEN, closed_at=None
            )


def test_table_session_can_reopen_after_close(floor):
    services.table_session_close(actor=floor.waiter, session=floor.session)
    again = services.table_session_open(actor=floor.waiter, table=floor.table)
    assert again.status == TableSessionStatus.OPEN
    assert again.pk != floor.session.pk


@pytest.mark.parametrize(
    "order_status,item_statuses",
    [
        ("DRAFT", [PENDING]),
        ("DRAFT", []),
        ("CONFIRMED", [PENDING]),
        ("IN_PROGRESS", [IN_PROGRESS]),
        ("READY", [READY, SERVED]),
    ],
)
def test_table_session_close_refused_while_an_order_is_open(floor, order_status, item_statuses):
    make_order(floor, OrderStatus.SERVED, [SERVED])
    make_order(floor, order_status, item_statuses)
    before = db_state()
    with pytest.raises(Conflict):
        services.table_session_close(actor=floor.waiter, session=floor.session)
    assert db_state() == before


@pytest.mark.parametrize(
    "orders",
    [[], [("SERVED", [SERVED])], [("CANCELLED", [CANCELLED]), ("SERVED", [SERVED, CANCELLED])]],
    ids=["no-orders", "served", "served-and-cancelled"],
)
def test_table_session_close_allowed_when_every_order_is_final(floor, orders):
    for status, item_statuses in orders:
        make_order(floor, status, item_statuses)
    closed = services.table_session_close(actor=floor.manager, session=floor.session)
    assert closed.status == TableSessionStatus.CLOSED
    floor.session.refresh_from_db()
    assert floor.session.status == TableSessionStatus.CLOSED
    assert floor.session.closed_at is not None


def test_table_session_close_twice_is_illegal(floor):
    services.table_session_close(actor=floor.waiter, session=floor.session)
    with pytest.raises(IllegalTransition):
        services.table_session_close(actor=floor.waiter, session=floor.session)


def test_order_create_on_a_closed_session_is_a_conflict(floor):
    services.table_session_close(actor=floor.waiter, session=floor.session)
    with pytest.raises(Conflict):
        services.order_create(actor=floor.waiter, table_session=floor.session)
    assert not Order.objects.exists()


# --- order_item_add ----------------------------------------------------------------------------


def test_order_item_add_from_menu_copies_name_price_and_station(floor):
    menu_item = MenuItemFactory(
        restaurant=floor.restaurant, name="Ribeye", price=Decimal("24.90"), station="grill"
    )
    order, _ = make_order(floor, OrderStatus.DRAFT, [])
    item = services.order_item_add(actor=floor.waiter, order=order, menu_item=menu_item, qty=2)
    item.refresh_from_db()
    assert (item.name, item.unit_price, item.station, item.menu_item_id) == (
        "Ribeye", Decimal("24.90"), "grill", menu_item.pk,
    )
    assert item.status == PENDING

    # A later menu edit does not rewrite what was ordered.
    MenuItem.objects.filter(pk=menu_item.pk).update(
        price=Decimal("99.00"), name="Ribeye XL", station="bar"
    )
    menu_item.refresh_from_db()
    menu_item.price = Decimal("30.00")
    menu_item.save()
    item.refresh_from_db()
    assert (item.name, item.unit_price, item.station) == ("Ribeye", Decimal("24.90"), "grill")
    order.refresh_from_db()
    assert order.total == Decimal("49.80")


def test_order_item_add_free_form(floor):
    order, _ = make_order(floor, OrderStatus.DRAFT, [])
    item = services.order_item_add(
        actor=floor.manager, order=order, name="Special", unit_price=Decimal("7.25"), qty=3
    )
    item.refresh_from_db()
    assert (item.name, item.unit_price, item.station, item.menu_item_id) == (
        "Special", Decimal("7.25"), "", None,
    )


def test_order_item_add_free_form_needs_name_and_price(floor):
    order, _ = make_order(floor, OrderStatus.DRAFT, [])
    with pytest.raises(ValidationError):
        services.order_item_add(actor=floor.waiter, order=order, name="Special", qty=1)
    with pytest.raises(ValidationError):
        services.order_item_add(actor=floor.waiter, order=order, unit_price=Decimal("1"), qty=1)
    assert not order.items.exists()


def test_order_item_add_inactive_menu_item_is_a_conflict(floor):
    menu_item = MenuItemFactory(restaurant=floor.restaurant, active=False)
    order, _ = make_order(floor, OrderStatus.DRAFT, [])
    with pytest.raises(Conflict):
        services.order_item_add(actor=floor.waiter, order=order, menu_item=menu_item, qty=1)
    assert not order.items.exists()


def test_order_item_add_menu_item_of_another_restaurant_is_not_found(floor, other_floor):
    order, _ = make_order(floor, OrderStatus.DRAFT, [])
    with pytest.raises(NotFound):
        services.order_item_add(
            actor=floor.waiter, order=order, menu_item=other_floor.menu_item, qty=1
        )
    assert not order.items.exists()


# --- tenant isolation: an actor of another restaurant gets NotFound from every service ----------


def _svc_table_session_open(floor):
    table = TableFactory(restaurant=floor.restaurant)
    return lambda actor: services.table_session_open(actor=actor, table=table)


def _svc_table_session_close(floor):
    return lambda actor: services.table_session_close(actor=actor, session=floor.session)


def _svc_order_create(floor):
    return lambda actor: services.order_create(actor=actor, table_session=floor.session)


def _svc_order_item_add(floor):
    order, _ = make_order(floor, OrderStatus.DRAFT, [])
    return lambda actor: services.order_item_add(
        actor=actor, order=order, name="X", unit_price=Decimal("1.00"), qty=1
    )


def _svc_order_item_add_menu(floor):
    order, _ = make_order(floor, OrderStatus.DRAFT, [])
    return lambda actor: services.order_item_add(
        actor=actor, order=order, menu_item=floor.menu_item, qty=1
    )


def _svc_order_item_update(floor):
    _, (item,) = make_order(floor, OrderStatus.DRAFT, [PENDING])
    return lambda actor: services.order_item_update(actor=actor, item=item, qty=5)


def _svc_order_item_remove(floor):
    _, (item,) = make_order(floor, OrderStatus.DRAFT, [PENDING])
    return lambda actor: services.order_item_remove(actor=actor, item=item)


def _svc_order_confirm(floor):
    order, _ = make_order(floor, OrderStatus.DRAFT, [PENDING])
    return lambda actor: services.order_confirm(actor=actor, order=order)


def _svc_order_cancel(floor):
    order, _ = make_order(floor, OrderStatus.CONFIRMED, [PENDING])
    return lambda actor: services.order_cancel(actor=actor, order=order)


def _svc_item_set_status_kitchen(floor):
    _, (item,) = make_order(floor, OrderStatus.CONFIRMED, [PENDING])
    return lambda actor: services.item_set_status(actor=actor, item=item, status=IN_PROGRESS)


def _svc_item_set_status_floor(floor):
    _, (item,) = make_order(floor, OrderStatus.READY, [READY])
    return lambda actor: services.item_set_status(actor=actor, item=item, status=SERVED)


SERVICE_CALLS = {
    "table_session_open": _svc_table_session_open,
    "table_session_close": _svc_table_session_close,
    "order_create": _svc_order_create,
    "order_item_add": _svc_order_item_add,
    "order_item_add_menu": _svc_order_item_add_menu,
    "order_item_update": _svc_order_item_update,
    "order_item_remove": _svc_order_item_remove,
    "order_confirm": _svc_order_confirm,
    "order_cancel": _svc_order_cancel,
    "item_set_status_kitchen": _svc_item_set_status_kitchen,
    "item_set_status_floor": _svc_item_set_status_floor,
}


# Roles that may make each call in their own restaurant.
ALLOWED_ROLES = {
    "table_session_open": {Role.MANAGER, Role.WAITER},
    "table_session_close": {Role.MANAGER, Role.WAITER},
    "order_create": {Role.MANAGER, Role.WAITER},
    "order_item_add": {Role.MANAGER, Role.WAITER},
    "order_item_add_menu": {Role.MANAGER, Role.WAITER},
    "order_item_update": {Role.MANAGER, Role.WAITER},
    "order_item_remove": {Role.MANAGER, Role.WAITER},
    "order_confirm": {Role.MANAGER, Role.WAITER},
    "order_cancel": {Role.MANAGER, Role.WAITER},
    "item_set_status_kitchen": {Role.MANAGER, Role.KITCHEN},
    "item_set_status_floor": {Role.MANAGER, Role.WAITER},
}
ALL_ROLES = [Role.MANAGER, Role.WAITER, Role.KITCHEN]


@pytest.mark.parametrize(
    "name,role",
    [(n, r) for n in SERVICE_CALLS for r in ALL_ROLES if r in ALLOWED_ROLES[n]],
)
def test_actor_of_another_restaurant_gets_not_found(floor, other_floor, name, role):
    call = SERVICE_CALLS[name](floor)
    before = db_state()
    with pytest.raises(NotFound):
        call(other_floor.user(role))
    assert db_state() == before


@pytest.mark.parametrize(
    "name,role",
    [(n, r) for n in SERVICE_CALLS for r in ALL_ROLES if r not in ALLOWED_ROLES[n]],
)
def test_outsider_with_a_wrong_role_learns_nothing(floor, other_floor, name, role):
    """Refused either way; a Forbidden decided on the role alone reveals no object."""
    call = SERVICE_CALLS[name](floor)
    before = db_state()
    with pytest.raises((NotFound, Forbidden)):
        call(other_floor.user(role))
    assert db_state() == before


@pytest.mark.parametrize("name", SERVICE_CALLS.keys())
def test_every_service_call_works_for_the_restaurant_manager(floor, name):
    SERVICE_CALLS[name](floor)(floor.manager)


# --- roles --------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "name,role",
    [(n, r) for n in SERVICE_CALLS for r in ALL_ROLES if r not in ALLOWED_ROLES[n]],
)
def test_role_forbidden(floor, name, role):
    call = SERVICE_CALLS[name](floor)
    before = db_state()
    with pytest.raises(Forbidden):
        call(floor.user(role))
    assert db_state() == before


# --- edits only while DRAFT ---------------------------------------------------------------------

NON_DRAFT = {
    "CONFIRMED": [PENDING],
    "IN_PROGRESS": [IN_PROGRESS],
    "READY": [READY],
    "SERVED": [SERVED],
    "CANCELLED": [CANCELLED],
}


@pytest.mark.parametrize(
    "status,edit",
    # Adding is also allowed after sending, as an add-on (tests/orders/test_kitchen_rules.py).
    [(s, e) for s in NON_DRAFT for e in ["update", "remove"]]
    + [(s, e) for s in ["SERVED", "CANCELLED"] for e in ["add", "add_menu"]],
)
def test_item_edits_only_while_draft(floor, status, edit):
    order, (item,) = make_order(floor, status, NON_DRAFT[status])
    before = db_state()
    with pytest.raises(Conflict):
        if edit == "add":
            services.order_item_add(
                actor=floor.waiter, order=order, name="Late", unit_price=Decimal("1.00"), qty=1
            )
        elif edit == "add_menu":
            services.order_item_add(
                actor=floor.waiter, order=order, menu_item=floor.menu_item, qty=1
            )
        elif edit == "update":
            services.order_item_update(actor=floor.waiter, item=item, qty=9, notes="more")
        else:
            services.order_item_remove(actor=floor.waiter, item=item)
    assert db_state() == before


def test_item_edits_while_draft(floor):
    order, (free, menu) = make_order(floor, OrderStatus.DRAFT, [PENDING, PENDING])
    OrderItem.objects.filter(pk=menu.pk).update(menu_item=floor.menu_item)
    menu.refresh_from_db()

    updated = services.order_item_update(
        actor=floor.waiter, item=free, qty=4, notes="no onions", name="Renamed",
        unit_price=Decimal("3.00"),
    )
    updated.refresh_from_db()
    assert (updated.qty, updated.notes, updated.name, updated.unit_price) == (
        4, "no onions", "Renamed", Decimal("3.00"),
    )
    # Copied-from-menu fields cannot be changed on the order.
    with pytest.raises(ValidationError):
        services.order_item_update(actor=floor.waiter, item=menu, unit_price=Decimal("0.01"))
    services.order_item_update(actor=floor.waiter, item=menu, qty=2)
    services.order_item_remove(actor=floor.waiter, item=updated)
    assert list(order.items.values_list("pk", "qty")) == [(menu.pk, 2)]


# --- totals and database constraints ------------------------------------------------------------


def test_order_total_excludes_cancelled_items(floor):
    order = OrderFactory(table_session=floor.session, status=OrderStatus.IN_PROGRESS)
    OrderItemFactory(order=order, qty=2, unit_price=Decimal("10.00"), status=IN_PROGRESS)
    OrderItemFactory(order=order, qty=1, unit_price=Decimal("5.50"), status=SERVED)
    OrderItemFactory(order=order, qty=3, unit_price=Decimal("7.00"), status=CANCELLED)
    order = Order.objects.get(pk=order.pk)
    assert order.total == Decimal("25.50")

    response = floor.client(Role.WAITER).get(f"/api/v1/orders/{order.pk}")
    assert response.status_code == 200, response.content
    assert response.json()["total"] == "25.50"


def test_order_total_of_an_all_cancelled_order_is_zero(floor):
    order, _ = make_order(floor, OrderStatus.CANCELLED, [CANCELLED, CANCELLED])
    assert Order.objects.get(pk=order.pk).total == Decimal("0.00")


@pytest.mark.parametrize(
    "model,field",
    [("order", "status"), ("item", "status"), ("session", "status"), ("user", "role")],
)
def test_db_check_constraint_rejects_an_invalid_value_written_by_update(floor, model, field):
    order, (item,) = make_order(floor, OrderStatus.CONFIRMED, [PENDING])
    queryset = {
        "order": Order.objects.filter(pk=order.pk),
        "item": OrderItem.objects.filter(pk=item.pk),
        "session": TableSession.objects.filter(pk=floor.session.pk),
        "user": type(floor.waiter).objects.filter(pk=floor.waiter.pk),
    }[model]
    before = list(queryset.values_list(field, flat=True))
    with pytest.raises(IntegrityError):
        with transaction.atomic():
            queryset.update(**{field: "BOGUS"})
    assert list(queryset.values_list(field, flat=True)) == before


def test_db_check_constraints_reject_non_positive_qty_and_negative_price(floor):
    _, (item,) = make_order(floor, OrderStatus.DRAFT, [PENDING])
    for change in ({"qty": 0}, {"unit_price": Decimal("-0.01")}):
        with pytest.raises(IntegrityError):
            with transaction.atomic():
                OrderItem.objects.filter(pk=item.pk).update(**change)


def test_db_accepts_every_valid_status(floor):
    order, (item,) = make_order(floor, OrderStatus.CONFIRMED, [PENDING])
    for value in OrderStatus.values:
        Order.objects.filter(pk=order.pk).update(status=value)
    for value in ItemStatus.values:
        OrderItem.objects.filter(pk=item.pk).update(status=value)
