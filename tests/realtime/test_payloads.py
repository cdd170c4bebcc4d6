"""The events' payloads, pinned key by key and byte by byte, without the REST serializers.

realtime.payloads builds them from the models; the frames here are the exact text a socket
receives live (the hand-over's layer message), so a change of key order, of a key's name
or of a value's format fails here, whatever the REST API does.
"""

import json
from datetime import UTC

import pytest

from orders import history, services
from orders.history import Action
from orders.models import ItemStatus, Order, OrderItem
from realtime import handover, kitchen_payloads, kitchen_receivers, payloads
from realtime.messages import wire_frame

pytestmark = pytest.mark.django_db(transaction=True)


def _ts(value) -> str:
    """ISO-8601 UTC, milliseconds, `Z`: written here on purpose, not imported."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
def sent(monkeypatch):
    """The frames of committed events, as the hand-over encodes them for every socket."""
    frames = []
    monkeypatch.setattr(handover, "committed", lambda event: frames.append(
        (event.seq, event.name, wire_frame(event.seq, event.name, event.payload))
    ))
    return frames


def _order(floor):
    order = services.order_create(actor=floor.waiter, table_session=floor.session)
    services.order_item_add(actor=floor.waiter, order=order, name="Hamburguesa", qty=2, unit_price="15.5")
    services.order_item_add(actor=floor.waiter, order=order, name="Sopa", qty=1, unit_price="4",
                            notes="sin cebolla")
    return order


def test_confirm_frames_are_byte_for_byte_the_contracts(floor, sent):
    order = _order(floor)
    services.order_confirm(actor=floor.waiter, order=order)
    order.refresh_from_db()
    burger, soup = OrderItem.objects.filter(order=order).order_by("created_at", "id")
    r, o, s = str(floor.restaurant.pk), str(order.pk), str(floor.session.pk)

    def item(line, name, qty, price, notes):
        return (
            f'{{"id":"{line.pk}","orderId":"{o}","name":"{name}","qty":{qty},"unitPrice":"{price}",'
            f'"status":"PENDING","notes":{notes},"createdAt":"{_ts(line.created_at)}",'
            f'"updatedAt":"{_ts(line.updated_at)}"}}'
        )

    (seq_new, new_name, new), (seq_changed, changed_name, changed) = sent
    assert (new_name, changed_name) == ("order.new", "order.status.changed")
    assert new == (
        f'{{"type":"event","id":"{seq_new}","event":"order.new","data":{{"orderId":"{o}",'
        f'"restaurantId":"{r}","tableSessionId":"{s}","status":"CONFIRMED","items":['
        + item(burger, "Hamburguesa", 2, "15.50", "null") + ","
        + item(soup, "Sopa", 1, "4.00", '"sin cebolla"')
        + f'],"createdAt":"{_ts(order.created_at)}"}}}}'
    )
    assert changed == (
        f'{{"type":"event","id":"{seq_changed}","event":"order.status.changed","data":{{'
        f'"orderId":"{o}","restaurantId":"{r}","previousStatus":"DRAFT","newStatus":"CONFIRMED",'
        f'"updatedAt":"{_ts(order.updated_at)}"}}}}'
    )
    assert seq_changed == seq_new + 1


def test_item_move_frame_is_byte_for_byte_the_contracts(floor, sent):
    order = _order(floor)
    services.order_confirm(actor=floor.waiter, order=order)
    burger = OrderItem.objects.filter(order=order).order_by("created_at", "id").first()
    del sent[:]
    services.item_set_status(actor=floor.kitchen, item=burger, status=ItemStatus.IN_PROGRESS)
    burger.refresh_from_db()
    order.refresh_from_db()
    r, o = str(floor.restaurant.pk), str(order.pk)
    (seq_item, _, moved), (seq_order, _, derived) = sent
    assert moved == (
        f'{{"type":"event","id":"{seq_item}","event":"order.item.status.changed","data":{{'
        f'"orderId":"{o}","itemId":"{burger.pk}","restaurantId":"{r}","previousStatus":"PENDING",'
        f'"newStatus":"IN_PROGRESS","updatedAt":"{_ts(burger.updated_at)}"}}}}'
    )
    assert derived == (
        f'{{"type":"event","id":"{seq_order}","event":"order.status.changed","data":{{'
        f'"orderId":"{o}","restaurantId":"{r}","previousStatus":"CONFIRMED","newStatus":"IN_PROGRESS",'
        f'"updatedAt":"{_ts(order.updated_at)}"}}}}'
    )


def test_payload_values_are_plain_json_types(floor):
    order = _order(floor)
    line = OrderItem.objects.filter(order=order).first()
    data = payloads.item(line)
    assert [type(data[key]) for key in data] == [str, str, str, int, str, str, type(None), str, str]
    assert json.loads(json.dumps(data)) == data
    assert payloads.money("15.5") == "15.50" and payloads.money("0") == "0.00"


def test_payloads_do_not_use_the_rest_serializers():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(payloads))
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    } | {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not any(name.startswith(("orders.api", "rest_framework", "djangorestframework")) for name in imported)


def test_pickup_called_reads_nothing_its_writer_loaded(floor, monkeypatch, django_assert_num_queries):
    # history.write hands the caller's order to the entry's receivers: loaded with its session
    # and table, the payload reads no row again; without them, it reads them as before.
    order = Order.objects.select_related("table_session__table").get(pk=_order(floor).pk)
    handed = []
    monkeypatch.setattr(kitchen_receivers.payloads, "pickup_called", lambda entry: handed.append(entry) or {})
    history.write(order=order, actor=floor.kitchen, action=Action.PICKUP_CALLED, to_value=order.status)
    (entry,) = handed
    assert entry.written_for is order
    monkeypatch.undo()
    entry.written_for = None
    read = kitchen_payloads.pickup_called(entry)
    assert read["tableName"] == floor.session.table.name and read["calledBy"] == str(floor.kitchen.pk)
    entry.written_for = order
    with django_assert_num_queries(0):
        assert kitchen_payloads.pickup_called(entry) == read
    entry.written_for = Order.objects.get(pk=order.pk)  # its table not loaded: read with it
    with django_assert_num_queries(1):
        assert kitchen_payloads.pickup_called(entry) == read
