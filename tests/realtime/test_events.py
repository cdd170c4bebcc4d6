"""Events of committed changes reach the restaurant's sockets, exactly, in order, once."""

import asyncio
import re

import pytest
from django.db import transaction

from orders import services
from orders.models import ItemStatus, OrderStatus, Role
from realtime.models import OutboxEvent

from ..conftest import Floor
from ..factories import OrderItemFactory
from .conftest import db, ready_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _draft_with_items(floor, count=2):
    order = services.order_create(actor=floor.waiter, table_session=floor.session)
    for n in range(count):
        services.order_item_add(
            actor=floor.waiter, order=order, name=f"Dish {n}", qty=n + 1, unit_price="4.50"
        )
    return order


async def test_confirm_sends_order_new_then_status_changed_with_exact_payloads():
    floor = await db(Floor)()
    order = await db(_draft_with_items)(floor)
    socket, ready = await ready_socket(floor.kitchen)
    assert ready["restaurantId"] == str(floor.restaurant.pk)

    await db(lambda: services.order_confirm(actor=floor.waiter, order=order))()
    new, changed = await socket.events(2)

    assert new["event"] == "order.new"
    assert int(changed["id"]) == int(new["id"]) + 1
    data = new["data"]
    assert set(data) == {"orderId", "restaurantId", "tableSessionId", "status", "items", "createdAt"}
    assert data["orderId"] == str(order.pk)
    assert data["restaurantId"] == str(floor.restaurant.pk)
    assert data["tableSessionId"] == str(floor.session.pk)
    assert data["status"] == "CONFIRMED"
    assert TIMESTAMP.match(data["createdAt"])
    assert len(data["items"]) == 2
    item = data["items"][0]
    assert set(item) == {
        "id", "orderId", "name", "qty", "unitPrice", "status", "notes", "createdAt", "updatedAt"
    }
    assert item["unitPrice"] == "4.50" and item["status"] == "PENDING" and item["notes"] is None

    assert changed["event"] == "order.status.changed"
    assert changed["data"] == {
        "orderId": str(order.pk),
        "restaurantId": str(floor.restaurant.pk),
        "previousStatus": "DRAFT",
        "newStatus": "CONFIRMED",
        "updatedAt": changed["data"]["updatedAt"],
    }
    assert TIMESTAMP.match(changed["data"]["updatedAt"])
    await socket.close()


async def test_item_move_sends_item_event_and_order_event_only_when_order_status_changes():
    floor = await db(Floor)()
    order = await db(_draft_with_items)(floor)
    await db(lambda: services.order_confirm(actor=floor.waiter, order=order))()
    first, second = await db(lambda: list(order.items.order_by("created_at")))()
    socket, _ = await ready_socket(floor.waiter)

    await db(lambda: services.item_set_status(actor=floor.kitchen, item=first, status="IN_PROGRESS"))()
    item_event, order_event = await socket.events(2)
    assert item_event["event"] == "order.item.status.changed"
    assert item_event["data"] == {
        "orderId": str(order.pk), "itemId": str(first.pk), "restaurantId": str(floor.restaurant.pk),
        "previousStatus": "PENDING", "newStatus": "IN_PROGRESS",
        "updatedAt": item_event["data"]["updatedAt"],
    }
    assert order_event["event"] == "order.status.changed"
    assert (order_event["data"]["previousStatus"], order_event["data"]["newStatus"]) == (
        "CONFIRMED", "IN_PROGRESS",
    )

    # Second item starts too: the order stays IN_PROGRESS, so only the item event.
    await db(lambda: services.item_set_status(actor=floor.kitchen, item=second, status="IN_PROGRESS"))()
    (only,) = await socket.events(1)
    assert only["event"] == "order.item.status.changed"
    assert await socket.nothing()
    await socket.close()


async def test_socket_of_one_restaurant_never_receives_anothers_events():
    floor_a, floor_b = await db(Floor)("A"), await db(Floor)("B")
    order_b = await db(_draft_with_items)(floor_b)
    socket_a, _ = await ready_socket(floor_a.kitchen)
    socket_b, _ = await ready_socket(floor_b.kitchen)

    await db(lambda: services.order_confirm(actor=floor_b.waiter, order=order_b))()
    assert [e["event"] for e in await socket_b.events(2)] == ["order.new", "order.status.changed"]
    assert await socket_a.nothing(1.0)
    # Resuming from 0 replays only A's own (empty) log.
    await socket_a.send({"type": "resume", "lastEventId": "0"})
    assert await socket_a.nothing(0.5)
    await socket_a.close()
    await socket_b.close()


async def test_rolled_back_change_emits_nothing():
    floor = await db(Floor)()
    order = await db(_draft_with_items)(floor)
    socket, _ = await ready_socket(floor.kitchen)

    def confirm_then_fail():
        with transaction.atomic():
            services.order_confirm(actor=floor.waiter, order=order)
            raise RuntimeError("payment terminal crashed")

    with pytest.raises(RuntimeError):
        await db(confirm_then_fail)()
    assert await socket.nothing(1.0)
    assert await db(lambda: OutboxEvent.objects.count())() == 0
    order.refresh_from_db
    assert await db(lambda: type(order).objects.get(pk=order.pk).status)() == OrderStatus.DRAFT
    await socket.close()


async def test_change_made_in_the_admin_emits_the_same_events(client):
    floor = await db(Floor)()
    order = await db(_draft_with_items)(floor)
    await db(lambda: services.order_confirm(actor=floor.waiter, order=order))()
    item = await db(lambda: order.items.order_by("created_at").first())()
    socket, _ = await ready_socket(floor.kitchen)

    def admin_action():
        client.force_login(floor.manager)
        return client.post(
            "/admin/orders/orderitem/",
            {"action": "move_to_in_progress", "_selected_action": [str(item.pk)]},
        )

    response = await db(admin_action)()
    assert response.status_code == 302
    item_event, order_event = await socket.events(2)
    assert item_event["event"] == "order.item.status.changed"
    assert item_event["data"]["itemId"] == str(item.pk)
    assert order_event["data"]["newStatus"] == "IN_PROGRESS"
    await socket.close()


async def test_change_made_outside_services_emits_events_too():
    floor = await db(Floor)()
    order = await db(lambda: floor.order(status=OrderStatus.CONFIRMED, items=1))()
    item = await db(lambda: order.items.get())()
    socket, _ = await ready_socket(floor.kitchen)

    def shell_edit():
        fresh = type(item).objects.get(pk=item.pk)
        fresh.status = ItemStatus.IN_PROGRESS
        fresh.save()

    await db(shell_edit)()
    (event,) = await socket.events(1)
    assert event["data"]["previousStatus"] == "PENDING"
    assert event["data"]["newStatus"] == "IN_PROGRESS"
    await socket.close()


async def test_events_arrive_in_commit_order_with_consecutive_ids():
    floor = await db(Floor)()
    orders = [await db(_draft_with_items)(floor) for _ in range(5)]
    socket, ready = await ready_socket(floor.kitchen)
    for order in orders:
        await db(lambda o=order: services.order_confirm(actor=floor.waiter, order=o))()
    received = await socket.events(10)
    ids = [int(e["id"]) for e in received]
    assert ids == list(range(int(ready["lastEventId"]) + 1, int(ready["lastEventId"]) + 11))
    assert [e["data"]["orderId"] for e in received[::2]] == [str(o.pk) for o in orders]
    await socket.close()


async def test_resume_replays_missed_events_once_in_order_then_live():
    floor = await db(Floor)()
    orders = [await db(_draft_with_items)(floor, 1) for _ in range(4)]
    other = await db(Floor)("B")
    other_order = await db(_draft_with_items)(other, 1)

    socket, ready = await ready_socket(floor.kitchen)
    base = int(ready["lastEventId"])
    await db(lambda: services.order_confirm(actor=floor.waiter, order=orders[0]))()
    await db(lambda: services.order_confirm(actor=floor.waiter, order=orders[1]))()
    first = await socket.events(4)
    assert [int(e["id"]) for e in first] == [base + 1, base + 2, base + 3, base + 4]
    last_seen = first[2]["id"]  # pretend the last one was lost with the connection
    await socket.close()

    await db(lambda: services.order_confirm(actor=floor.waiter, order=orders[2]))()
    await db(lambda: services.order_confirm(actor=other.waiter, order=other_order))()

    socket, ready = await ready_socket(floor.kitchen, last_event_id=last_seen)
    assert int(ready["lastEventId"]) == base + 6
    replayed = await socket.events(3)
    assert [int(e["id"]) for e in replayed] == [base + 4, base + 5, base + 6]
    assert all(e["data"]["restaurantId"] == str(floor.restaurant.pk) for e in replayed)
    assert await socket.nothing(0.5)

    await db(lambda: services.order_confirm(actor=floor.waiter, order=orders[3]))()
    live = await socket.events(2)
    assert [int(e["id"]) for e in live] == [base + 7, base + 8]
    assert await socket.nothing(0.5)
    await socket.close()


async def test_resume_older_than_retention_gets_resync(settings):
    floor = await db(Floor)()
    for _ in range(3):
        order = await db(_draft_with_items)(floor, 1)
        await db(lambda o=order: services.order_confirm(actor=floor.waiter, order=o))()

    def prune_all():
        from django.core.management import call_command

        OutboxEvent.objects.update(published_at=OutboxEvent.objects.values("created_at")[:1])
        call_command("prune_events", older_than_hours=0)

    await db(prune_all)()
    socket, ready = await ready_socket(floor.kitchen, last_event_id=1)
    assert (await socket.receive())["type"] == "resync"
    await socket.close()

    # An id from the future (another database) also means: reload everything.
    socket, _ = await ready_socket(floor.kitchen, last_event_id=999)
    assert (await socket.receive())["type"] == "resync"
    await socket.close()


async def test_gap_in_live_stream_is_filled_from_the_log():
    """A message the channel layer dropped is recovered when the next one arrives."""
    floor = await db(Floor)()
    orders = [await db(_draft_with_items)(floor, 1) for _ in range(2)]
    socket, ready = await ready_socket(floor.kitchen)
    base = int(ready["lastEventId"])

    from realtime import handover

    def dropped(event):
        # Marked published without being handed to anyone: as if the layer dropped it.
        OutboxEvent.objects.filter(pk=event.pk).update(published_at=event.created_at)

    real_committed = handover.committed
    handover.committed = dropped
    try:
        await db(lambda: services.order_confirm(actor=floor.waiter, order=orders[0]))()
        # Nothing is published for them; the next event (or a heartbeat naming the new
        # head, whichever comes first) makes the socket fill the gap from the log.
    finally:
        handover.committed = real_committed
    await db(lambda: services.order_confirm(actor=floor.waiter, order=orders[1]))()
    received = await socket.events(4)
    assert [int(e["id"]) for e in received] == [base + 1, base + 2, base + 3, base + 4]
    await socket.close()


async def test_waiter_and_kitchen_roles_both_receive(floor_roles=(Role.WAITER, Role.MANAGER)):
    floor = await db(Floor)()
    order = await db(_draft_with_items)(floor, 1)
    sockets = [(await ready_socket(floor.user(role)))[0] for role in floor_roles]
    await db(lambda: services.order_confirm(actor=floor.waiter, order=order))()
    for socket in sockets:
        assert [e["event"] for e in await socket.events(2)] == ["order.new", "order.status.changed"]
        await socket.close()


async def test_events_of_one_order_item_added_in_draft_are_not_sent():
    floor = await db(Floor)()
    socket, _ = await ready_socket(floor.kitchen)
    await db(_draft_with_items)(floor, 2)
    await db(lambda: OrderItemFactory(order=floor.order()))()
    assert await socket.nothing(0.7)
    await socket.close()


async def test_events_committed_here_reach_local_sockets_without_the_channel_layer(monkeypatch):
    """The local fast path: this worker's sockets get an event it committed straight away;
    the channel layer's copy, when it comes back, is dropped by id."""
    from channels.layers import get_channel_layer

    floor = await db(Floor)()
    order = await db(_draft_with_items)(floor, 1)
    socket, ready = await ready_socket(floor.kitchen)
    base = int(ready["lastEventId"])

    layer = get_channel_layer()
    real_group_send = layer.group_send
    held = []

    async def slow_layer(group, message):
        if message.get("type") == "outbox.event":
            held.append((group, message))  # Redis lagging: nothing arrives this way yet
            return
        await real_group_send(group, message)

    monkeypatch.setattr(layer, "group_send", slow_layer)
    await db(lambda: services.order_confirm(actor=floor.waiter, order=order))()
    new, changed = await socket.events(2)
    assert [int(new["id"]), int(changed["id"])] == [base + 1, base + 2]
    assert [e["event"] for e in (new, changed)] == ["order.new", "order.status.changed"]

    for _ in range(100):  # the sender task publishes them meanwhile
        if len(held) == 2:
            break
        await asyncio.sleep(0.02)
    assert [m["id"] for _, m in held] == [base + 1, base + 2]
    for group, message in held:
        await real_group_send(group, message)  # the layer's late copies
    assert await socket.nothing(0.5)
    # Published: the sweep has nothing left to send.
    assert not await db(lambda: OutboxEvent.objects.filter(published_at__isnull=True).exists())()
    await socket.close()


async def test_a_new_event_name_needs_only_record_to_reach_live_sockets_and_replay():
    """What later features rely on: `events.record()` inside the change's transaction is all
    a new event needs; the stream, both transports and replay take any name."""
    from realtime import events

    floor = await db(Floor)()
    live, ready = await ready_socket(floor.kitchen)
    base = int(ready["lastEventId"])

    def change():
        with transaction.atomic():
            events.record(floor.restaurant.pk, "kitchen.test.fired", {"course": 2})

    await db(change)()
    (event,) = await live.events(1)
    assert (event["event"], event["data"], int(event["id"])) == ("kitchen.test.fired", {"course": 2}, base + 1)
    await live.close()

    replayed, _ = await ready_socket(floor.kitchen, last_event_id=base)
    (again,) = await replayed.events(1)
    assert again == event
    await replayed.close()


async def test_an_event_recorded_in_a_rolled_back_transaction_goes_nowhere():
    from realtime import events

    floor = await db(Floor)()
    live, _ = await ready_socket(floor.kitchen)

    def change():
        with transaction.atomic():
            events.record(floor.restaurant.pk, "kitchen.test.fired", {"course": 2})
            transaction.set_rollback(True)

    await db(change)()
    assert await live.nothing(0.5)
    await live.close()


async def test_events_recorded_together_take_consecutive_ids_in_order_the_first_ones_too():
    """`record_many`: one statement bumps the sequence and writes the rows (the first events
    of a restaurant create its sequence row); ids follow the order given, rows keep it."""
    from realtime import events
    from realtime.models import EventSequence

    floor = await db(Floor)()
    live, _ = await ready_socket(floor.kitchen)

    def change():
        with transaction.atomic():
            first = events.record_many(floor.restaurant.pk, [("kitchen.test.a", {"n": 1}), ("kitchen.test.b", {"n": 2})])
            second = events.record_many(floor.restaurant.pk, [("kitchen.test.c", {"n": [3]})])
            third = events.record(floor.restaurant.pk, "kitchen.test.d", {})
        return [(e.pk, e.seq, e.name, e.payload) for e in [*first, *second, third]]

    returned = await db(change)()
    stored = await db(lambda: list(
        OutboxEvent.objects.filter(restaurant=floor.restaurant).order_by("seq").values_list("pk", "seq", "name", "payload")
    ))()
    assert returned == stored
    assert [(seq, name, payload) for _, seq, name, payload in stored] == [
        (1, "kitchen.test.a", {"n": 1}), (2, "kitchen.test.b", {"n": 2}),
        (3, "kitchen.test.c", {"n": [3]}), (4, "kitchen.test.d", {}),
    ]
    assert [pk for pk, *_ in stored] == sorted(pk for pk, *_ in stored)
    assert await db(lambda: EventSequence.objects.get(restaurant=floor.restaurant).last_id)() == 4
    received = await live.events(4)
    assert [(int(e["id"]), e["event"]) for e in received] == [(seq, name) for _, seq, name, _ in stored]
    await live.close()
