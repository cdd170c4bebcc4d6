"""Who did what: orders.history, written by the services in the change's transaction."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders import services
from orders.errors import DomainError
from orders.history import HistoryEntry, replay_item_statuses
from orders.models import ItemStatus as I
from orders.models import OrderItem, Role

from ..conftest import Floor


def _order_with_two_courses(floor):
    waiter = floor.waiter
    order = services.order_create(actor=waiter, table_session=floor.session)
    starter = services.order_item_add(actor=waiter, order=order, qty=1, menu_item=floor.menu_item)
    main = services.order_item_add(
        actor=waiter, order=order, qty=2, name="Main", unit_price=Decimal("9.00"), course=2,
        allergies=["milk"],
    )
    services.order_confirm(actor=waiter, order=order)
    return order, starter, main


def _actions(order):
    return [
        (e.action, e.actor_role, e.from_value, e.to_value)
        for e in HistoryEntry.objects.filter(order_id=order.pk).order_by("id")
    ]


def test_every_change_is_recorded_with_its_actor_and_role(floor):
    order, starter, main = _order_with_two_courses(floor)
    services.order_set_priority(actor=floor.kitchen, order=order, priority="RUSH")
    services.item_set_status(actor=floor.kitchen, item=starter, status=I.IN_PROGRESS)
    services.item_set_status(actor=floor.kitchen, item=starter, status=I.READY)
    services.item_set_status(actor=floor.waiter, item=starter, status=I.SERVED)
    services.order_fire_course(actor=floor.waiter, order=order, course=2)
    services.item_acknowledge_allergy(actor=floor.kitchen, item=main)
    services.item_set_status(actor=floor.manager, item=main, status=I.CANCELLED, reason="burnt")

    assert _actions(order) == [
        ("order.created", "WAITER", "", "DRAFT"),
        ("item.added", "WAITER", "", "PENDING"),
        ("item.added", "WAITER", "", "PENDING"),
        ("order.confirmed", "WAITER", "DRAFT", "CONFIRMED"),
        ("priority", "KITCHEN", "NORMAL", "RUSH"),
        ("item.status", "KITCHEN", "PENDING", "IN_PROGRESS"),
        ("item.status", "KITCHEN", "IN_PROGRESS", "READY"),
        ("item.status", "WAITER", "READY", "SERVED"),
        ("course.fired", "WAITER", "", "2"),
        ("allergy.acknowledged", "KITCHEN", "", "milk"),
        ("item.status", "MANAGER", "PENDING", "CANCELLED"),
    ]
    void = HistoryEntry.objects.filter(order_id=order.pk).last()
    assert (void.reason, void.item_id, void.actor_id) == ("burnt", main.pk, floor.manager.pk)


def test_cancelling_an_order_records_each_item_and_the_order(floor):
    order, starter, main = _order_with_two_courses(floor)
    services.order_cancel(actor=floor.waiter, order=order, reason="left")
    assert _actions(order)[-3:] == [
        ("item.status", "WAITER", "PENDING", "CANCELLED"),
        ("item.status", "WAITER", "PENDING", "CANCELLED"),
        ("order.cancelled", "WAITER", "CONFIRMED", "CANCELLED"),
    ]
    assert HistoryEntry.objects.filter(order_id=order.pk).last().reason == "left"


def test_automatic_firing_is_recorded_without_an_actor(floor):
    floor.restaurant.auto_fire_next_course = True
    floor.restaurant.save()
    floor.waiter.refresh_from_db()
    floor.kitchen.refresh_from_db()
    order, starter, main = _order_with_two_courses(floor)
    for status, actor in ((I.IN_PROGRESS, floor.kitchen), (I.READY, floor.kitchen), (I.SERVED, floor.waiter)):
        services.item_set_status(actor=actor, item=starter, status=status)
    fired = HistoryEntry.objects.get(order_id=order.pk, action="course.fired")
    assert (fired.actor_id, fired.actor_role, fired.to_value) == (None, "", "2")


def test_an_aborted_transaction_leaves_no_history_row(floor):
    order, starter, _ = _order_with_two_courses(floor)
    before = HistoryEntry.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.item_set_status(actor=floor.kitchen, item=starter, status=I.IN_PROGRESS)
        services.order_set_priority(actor=floor.waiter, order=order, priority="RUSH")
        assert HistoryEntry.objects.count() == before + 2
        raise RuntimeError("the request failed after the services ran")
    assert HistoryEntry.objects.count() == before
    starter.refresh_from_db()
    assert starter.status == I.PENDING


def test_a_refused_change_writes_nothing(floor):
    order, starter, _ = _order_with_two_courses(floor)
    before = HistoryEntry.objects.count()
    with pytest.raises(DomainError):
        services.item_set_status(actor=floor.waiter, item=starter, status=I.IN_PROGRESS)  # 403
    with pytest.raises(DomainError):
        services.item_set_status(actor=floor.kitchen, item=starter, status=I.SERVED)  # 409
    assert HistoryEntry.objects.count() == before


@pytest.mark.postgres
def test_the_database_refuses_to_update_or_delete_history(floor):
    _order_with_two_courses(floor)
    entry = HistoryEntry.objects.first()
    for statement in (
        lambda: HistoryEntry.objects.filter(pk=entry.pk).update(actor_name="someone else"),
        lambda: HistoryEntry.objects.filter(pk=entry.pk).delete(),
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            statement()
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    assert HistoryEntry.objects.get(pk=entry.pk).actor_name == entry.actor_name


@override_settings(HISTORY_RETENTION_DAYS=30)
def test_prune_history_deletes_only_entries_past_the_retention(floor):
    order, *_ = _order_with_two_courses(floor)
    HistoryEntry.objects.create(
        at=timezone.now() - timedelta(days=31), restaurant_id=floor.restaurant.pk,
        order_id=order.pk, action="order.created",
    )
    kept = HistoryEntry.objects.filter(at__gte=timezone.now() - timedelta(days=1)).count()
    call_command("prune_history")
    assert HistoryEntry.objects.count() == kept
    if connection.vendor == "postgresql":  # the flag lasted only for the prune's transaction
        with pytest.raises(DatabaseError), transaction.atomic():
            HistoryEntry.objects.all().delete()


def test_get_history_renders_the_contract_shape_and_is_404_across_restaurants(floor, other_floor):
    order, starter, _ = _order_with_two_courses(floor)
    services.item_set_status(actor=floor.kitchen, item=starter, status=I.IN_PROGRESS)
    response = floor.client(Role.MANAGER).get(f"/api/v1/orders/{order.pk}/history")
    assert response.status_code == 200
    body = response.json()
    assert body[0]["action"] == "order.created"
    assert body[-1] == {
        "at": body[-1]["at"], "action": "item.status",
        "actor": {"id": str(floor.kitchen.pk), "name": floor.kitchen.name, "role": "KITCHEN"},
        "screenId": None, "itemId": str(starter.pk), "from": "PENDING", "to": "IN_PROGRESS",
        "reason": None,
    }
    assert body[-1]["at"].endswith("Z")
    assert other_floor.client(Role.MANAGER).get(f"/api/v1/orders/{order.pk}/history").status_code == 404


MOVES = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.sampled_from([I.PENDING, I.IN_PROGRESS, I.READY, I.SERVED, I.CANCELLED]),
        st.sampled_from([Role.WAITER, Role.KITCHEN, Role.MANAGER]),
        st.booleans(),  # inside a transaction that then aborts
    ),
    max_size=25,
)


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(moves=MOVES, cancel_at_end=st.booleans())
def test_replaying_the_history_reproduces_every_items_status(db, moves, cancel_at_end):
    floor = Floor("Replay")
    waiter = floor.waiter
    order = services.order_create(actor=waiter, table_session=floor.session)
    items = [
        services.order_item_add(actor=waiter, order=order, qty=1, name=f"Dish {n}", unit_price=Decimal("3.00"))
        for n in range(3)
    ]
    services.order_confirm(actor=waiter, order=order)
    for index, status, role, aborted in moves:
        try:
            with transaction.atomic():
                services.item_set_status(actor=floor.user(role), item=items[index], status=status)
                if aborted:
                    raise RuntimeError("rolled back")
        except (DomainError, RuntimeError):
            pass
    if cancel_at_end:
        try:
            services.order_cancel(actor=waiter, order=order)
        except DomainError:
            pass
    replayed = replay_item_statuses(HistoryEntry.objects.filter(order_id=order.pk).order_by("id"))
    assert replayed == dict(OrderItem.objects.filter(order=order).values_list("pk", "status"))


def test_the_admins_order_page_shows_the_history(floor):
    from django.test import Client
    from django.utils.html import escape

    order, starter, _ = _order_with_two_courses(floor)
    services.item_set_status(actor=floor.manager, item=starter, status=I.CANCELLED, reason="dropped it")
    client = Client()
    client.force_login(floor.manager)
    page = client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert 'class="order-history"' in page
    assert "item.status" in page and "PENDING → CANCELLED" in page and "dropped it" in page
    assert escape(f"{floor.waiter.name} (WAITER)") in page and "order.confirmed" in page


def test_a_change_made_from_a_kitchen_screen_names_the_screen(floor, other_floor):
    from orders.screens import Screen

    order, starter, _ = _order_with_two_courses(floor)
    grill = Screen.objects.create(restaurant=floor.restaurant, name="Grill 1", station="grill")
    theirs = Screen.objects.create(restaurant=other_floor.restaurant, name="Grill 1", station="grill")
    cook = floor.client(Role.KITCHEN)
    url = f"/api/v1/orders/{order.pk}/items/{starter.pk}/status"
    assert cook.post(url, {"status": "IN_PROGRESS"}, HTTP_X_KITCHEN_SCREEN=str(grill.pk)).status_code == 200
    assert cook.post(url, {"status": "READY"}, HTTP_X_KITCHEN_SCREEN=str(theirs.pk)).status_code == 200
    assert cook.post(url, {"status": "IN_PROGRESS"}, HTTP_X_KITCHEN_SCREEN="not-a-uuid").status_code == 200
    screens = list(HistoryEntry.objects.filter(order_id=order.pk, action="item.status").values_list("screen_id", flat=True))
    assert screens == [grill.pk, None, None]
    body = floor.client(Role.MANAGER).get(f"/api/v1/orders/{order.pk}/history").json()
    assert body[-3]["screenId"] == str(grill.pk)
