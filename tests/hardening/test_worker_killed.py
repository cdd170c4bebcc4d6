"""A worker killed with SIGKILL while requests are in flight.

Eight POS tablets and kitchen screens keep worker A busy (create, add items, confirm, start
and finish dishes, bump); A is killed mid-flight. Then:

- nothing is half-applied: every order's status is the one derived from its items, and every
  item a tablet was told was added (2xx) is there; nothing appears that nobody asked for;
- nothing is lost: replaying the restaurant's outbox from the first event rebuilds exactly
  the statuses in the database (every committed change has its events, consecutive ids);
- worker B, which stays up, publishes whatever A committed but never published, and a kitchen
  socket on B receives every event, in order, exactly once.

All of it is read once A's database backends are gone: a COMMIT that A sent before it died
still commits after the kill (late, on a loaded machine), so reading earlier could find in
the outbox, read last, an event the tables read just before did not show yet. A is killed at
any moment, and once with a COMMIT held in flight: the test locks the restaurant's row, which
committing a new order or event checks its foreign key against (Django's PostgreSQL foreign
keys are checked at commit).
"""

from __future__ import annotations

import asyncio
import http.client
import os
import signal
import threading
import time
import uuid

import pytest
from django.db import connection, transaction

from orders.models import ItemStatus, Order, OrderItem, OrderStatus, Restaurant
from orders.services import derive_order_status
from realtime.models import OutboxEvent

from ..live import WebServer, database_sessions, wait_sessions_ended
from ..live import test_database_url as database_url_of_the_tests
from .conftest import PASSWORD, ResumingClient

pytestmark = [pytest.mark.django_db(transaction=True)]

TABLETS = 8
# A is killed once the tablets have made this many requests (about 2 s on an idle machine;
# a fixed delay left it "barely busy" on a loaded one).
KILL_AFTER_REQUESTS = 80


class Tablet(threading.Thread):
    """Runs order flows against a server until it stops answering; remembers what it was
    told succeeded."""

    def __init__(self, server, waiter, kitchen, session_id, index):
        super().__init__(daemon=True)
        self.server, self.waiter, self.kitchen = server, waiter, kitchen
        self.session_id, self.index = session_id, index
        self.acked_items: dict[str, set] = {}  # order id -> item ids answered 201
        self.attempted_orders = 0
        self.requests = 0

    def call(self, method, path, body=None, token=None):
        self.requests += 1
        return self.server.request(method, path, body, token or self.waiter)

    def run(self):
        try:
            while True:
                self.flow()
        except (OSError, http.client.HTTPException):
            # The worker is gone: connection refused or reset, or an answer cut off after
            # its headers (http.client.IncompleteRead): not an acknowledgement either way.
            return

    def flow(self):
        self.attempted_orders += 1
        status, order = self.call("POST", "/api/v1/orders", {"tableSessionId": self.session_id})
        assert status == 201, order
        items = self.acked_items.setdefault(order["id"], set())
        for n in range(3):
            status, item = self.call(
                "POST", f"/api/v1/orders/{order['id']}/items",
                {"name": f"Dish {self.index}.{n}", "qty": n + 1, "unitPrice": "3.50"},
            )
            assert status == 201, item
            items.add(item["id"])
        status, body = self.call("POST", f"/api/v1/orders/{order['id']}/confirm")
        assert status == 200, body
        first, *_ = sorted(items)
        for target in ("IN_PROGRESS", "READY"):
            status, body = self.call(
                "POST", f"/api/v1/orders/{order['id']}/items/{first}/status",
                {"status": target}, self.kitchen,
            )
            assert status == 200, body
        status, body = self.call("POST", f"/api/v1/orders/{order['id']}/bump", None, self.kitchen)
        assert status == 200, body


def _replay_outbox(restaurant_id):
    """Rebuild order and item statuses from the events alone, checking each transition
    starts from the status the previous events left."""
    orders, items = {}, {}
    events = list(OutboxEvent.objects.filter(restaurant_id=restaurant_id).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    for event in events:
        data = event.payload
        if event.name == "order.new":
            for item in data["items"]:
                items[item["id"]] = item["status"]
            orders[data["orderId"]] = OrderStatus.DRAFT
        elif event.name == "order.status.changed":
            assert orders.get(data["orderId"], OrderStatus.DRAFT) == data["previousStatus"], data
            orders[data["orderId"]] = data["newStatus"]
        elif event.name == "order.item.status.changed":
            assert items.get(data["itemId"], ItemStatus.PENDING) == data["previousStatus"], data
            items[data["itemId"]] = data["newStatus"]
    return orders, items, len(events)


async def in_thread(query):
    """`query()` in a worker thread (database calls block), whose connection is given back at
    the end: left open it would keep the test database from being dropped."""
    def run():
        try:
            return query()
        finally:
            connection.close()
    return await asyncio.to_thread(run)


class RowHold(threading.Thread):
    """Holds `SELECT ... FOR UPDATE` on a row until released."""

    def __init__(self, model, pk):
        super().__init__(daemon=True)
        self.model, self.pk = model, pk
        self.locked, self.released = threading.Event(), threading.Event()
        self.backend_pid = None

    def run(self):
        try:
            with transaction.atomic():
                self.model.objects.select_for_update().get(pk=self.pk)
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    self.backend_pid = cursor.fetchone()[0]
                self.locked.set()
                self.released.wait(60)
        finally:
            connection.close()


def _wait_for_commit_blocked_by(hold: RowHold, application_name, timeout=15.0) -> None:
    """Until one of the named connections has sent COMMIT and waits on the held row."""
    deadline = time.monotonic() + timeout
    while not any(
        s["query"] == "COMMIT" and hold.backend_pid in s["blocked_by"]
        for s in database_sessions(application_name)
    ):
        assert time.monotonic() < deadline, database_sessions(application_name)
        time.sleep(0.01)


def _committed(restaurant_id) -> tuple[int, int]:
    return (
        Order.objects.filter(restaurant_id=restaurant_id).count(),
        OutboxEvent.objects.filter(restaurant_id=restaurant_id).count(),
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's backends")
@pytest.mark.parametrize("commit_in_flight", [False, True], ids=["anywhere", "commit-in-flight"])
def test_worker_killed_mid_flight_leaves_no_half_change_and_loses_no_event(
    live_floor, commit_in_flight
):
    floor = live_floor
    restaurant = floor.restaurant.pk
    sweep = {"OUTBOX_SWEEP_INTERVAL": "0.5", "OUTBOX_SWEEP_GRACE": "0.5", "WS_HEARTBEAT_INTERVAL": "0.5"}
    # A's connections carry a name of their own: the test waits for their backends to end.
    named = f"worker-killed-{uuid.uuid4().hex[:8]}"
    worker_a = WebServer("worker-killed", DATABASE_URL=database_url_of_the_tests(named), **sweep)
    worker_b = None
    hold = RowHold(Restaurant, restaurant)
    try:
        worker_b = WebServer("worker-survivor", **sweep)
        waiter = worker_a.login(floor.waiter.email, PASSWORD)
        kitchen = worker_a.login(floor.kitchen.email, PASSWORD)

        async def scenario():
            client = ResumingClient(worker_b.ws_url, kitchen)
            await client.connect()
            start = client.last_event_id
            tablets = [
                Tablet(worker_a, waiter, kitchen, str(floor.session.pk), i) for i in range(TABLETS)
            ]
            for tablet in tablets:
                tablet.start()
            deadline = time.monotonic() + 60
            while sum(t.requests for t in tablets) < KILL_AFTER_REQUESTS:
                assert all(t.is_alive() for t in tablets), "a tablet stopped before the kill"
                assert time.monotonic() < deadline, "the worker was barely busy"
                await asyncio.sleep(0.05)
            if commit_in_flight:
                hold.start()
                assert await asyncio.to_thread(hold.locked.wait, 10)
                await in_thread(lambda: _wait_for_commit_blocked_by(hold, named))
            os.kill(worker_a.pid, signal.SIGKILL)
            for tablet in tablets:
                await asyncio.to_thread(tablet.join, 30)
                assert not tablet.is_alive()
            if commit_in_flight:
                # The tablets saw A die, yet its COMMIT is still to land: reading now (as this
                # test once did) reads a database that is still changing.
                pending = await in_thread(lambda: database_sessions(named))
                assert any(s["query"] == "COMMIT" for s in pending), pending
                before = await in_thread(lambda: _committed(restaurant))
                hold.released.set()
            # Whatever A's backends were doing has now committed or rolled back.
            await in_thread(lambda: wait_sessions_ended(named))
            if commit_in_flight:  # not vacuous: something did commit after the kill
                after = await in_thread(lambda: _committed(restaurant))
                assert after != before, "the COMMIT in flight did not land after the kill"
            head = await in_thread(
                lambda: OutboxEvent.objects.filter(restaurant_id=restaurant).count()
            )
            await client.read_until(head, timeout=30)
            await client.close()
            return tablets, start, head, client

        tablets, start, head, client = asyncio.run(scenario())
        assert worker_a.proc.wait(5) == -signal.SIGKILL
        assert sum(t.requests for t in tablets) >= KILL_AFTER_REQUESTS, "the worker was barely busy"

        # Nothing half-applied.
        db_orders = {str(o.pk): o for o in Order.objects.filter(restaurant_id=restaurant)}
        db_items = {str(i.pk): i for i in OrderItem.objects.filter(order__restaurant_id=restaurant)}
        for order in db_orders.values():
            statuses = [i.status for i in db_items.values() if i.order_id == order.pk]
            if order.status != OrderStatus.DRAFT:
                assert statuses and order.status == derive_order_status(statuses), (order, statuses)
        acked = {i for t in tablets for ids in t.acked_items.values() for i in ids}
        assert acked <= db_items.keys()  # every item a tablet was told about is there
        assert len(db_orders) <= sum(t.attempted_orders for t in tablets)
        for tablet in tablets:
            for order_id, ids in tablet.acked_items.items():
                if order_id in db_orders:
                    in_db = {k for k, i in db_items.items() if str(i.order_id) == order_id}
                    assert ids <= in_db and len(in_db) - len(ids) <= 1, (order_id, ids, in_db)

        # Nothing lost: the outbox alone rebuilds every status the database holds.
        orders, items, count = _replay_outbox(restaurant)
        assert any(i.status != ItemStatus.PENDING for i in db_items.values()), "no item moved"
        for order_id, order in db_orders.items():
            if order.status != OrderStatus.DRAFT:
                assert orders[order_id] == order.status, (order_id, orders.get(order_id), order.status)
        for item_id, item in db_items.items():
            if db_orders[str(item.order_id)].status != OrderStatus.DRAFT:
                assert items[item_id] == item.status, (item_id, items.get(item_id), item.status)

        # Worker B published everything A left behind, and its socket got all of it, in order.
        deadline = time.monotonic() + 10
        while OutboxEvent.objects.filter(restaurant_id=restaurant, published_at__isnull=True).exists():
            assert time.monotonic() < deadline, "events left unpublished"
            time.sleep(0.25)
        assert client.last_event_id == head == count
        assert client.received == head - start
    finally:
        hold.released.set()
        if hold.ident is not None:
            hold.join(10)  # its lock would hold up the test database's flush
        worker_a.stop()
        if worker_b is not None:
            worker_b.stop()
