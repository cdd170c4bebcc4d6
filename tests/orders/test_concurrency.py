"""Concurrent requests against the real database: exactly one of two racing moves wins.

Needs PostgreSQL (SQLite serialises every write, so it proves nothing here). Each thread has
its own APIClient and its own database connection; a Barrier releases them together.
"""

import queue
import threading
import time

import pytest
from django.db import connection
from rest_framework.test import APIClient

from orders import services
from orders.models import ItemStatus, Order, OrderItem, OrderStatus, Role, TableSession
from tests.conftest import Floor, auth_header
from tests.factories import OrderFactory, OrderItemFactory, TableFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 10
EXTRA_ROUNDS = 5  # races beyond the three the contract names


@pytest.fixture
def tx_floor(transactional_db):
    """Like the shared `floor` fixture, but committed, so that other threads see it."""
    return Floor("Concurrent")


class Racers:
    """Worker threads, each with its own APIClient and database connection, that send POSTs
    together: a Barrier releases them at the same moment.

    The threads live for the whole test (a fresh thread's first request costs a new
    connection and warm-up), and close their connection when it ends.
    """

    def __init__(self, count=2):
        self.count = count
        self.barrier = threading.Barrier(count)
        self.inboxes = [queue.Queue() for _ in range(count)]
        self.results = queue.Queue()
        self.threads = [
            threading.Thread(target=self._work, args=(i,), daemon=True) for i in range(count)
        ]
        for thread in self.threads:
            thread.start()

    def _work(self, index):
        client = APIClient()
        try:
            while (task := self.inboxes[index].get()) is not None:
                headers, url, body = task
                try:
                    client.credentials(**headers)
                    self.barrier.wait(timeout=10)
                    self.results.put((index, client.post(url, body, format="json"), None))
                except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
                    self.barrier.abort()
                    self.results.put((index, None, exc))
        finally:
            connection.close()

    def race(self, *calls):
        """POST each (user, url, body[, headers]) from its own thread at once; responses in
        call order."""
        assert len(calls) == self.count
        for inbox, (user, url, body, *headers) in zip(self.inboxes, calls, strict=True):
            inbox.put(({**auth_header(user), **(headers[0] if headers else {})}, url, body))
        responses = [None] * self.count
        for _ in range(self.count):
            index, response, error = self.results.get(timeout=30)  # a hang means a deadlock
            if error is not None:
                raise error
            responses[index] = response
        return responses

    def stop(self):
        for inbox in self.inboxes:
            inbox.put(None)
        for thread in self.threads:
            thread.join(timeout=10)
        assert not any(t.is_alive() for t in self.threads)


@pytest.fixture
def racers(tx_floor):
    racers = Racers(2)
    yield racers
    racers.stop()


@pytest.fixture
def slow_derivation(monkeypatch):
    """Widen the window between an item's write and its order's re-derivation.

    Without it the two requests rarely overlap inside that window, and an implementation
    that derives the order status from an unlocked, stale view of the items (a lost update)
    would pass by luck. With correct locking the second move waits for the first to commit,
    so the delay changes only timing, never outcomes.
    """
    # Patched where the services call it (orders/services/rules.py re-derives every order).
    original = services.rules.derive_order_status

    def slow(item_statuses):
        statuses = list(item_statuses)
        time.sleep(0.03)
        return original(statuses)

    monkeypatch.setattr(services.rules, "derive_order_status", slow)


def status_url(order, item):
    return f"/api/v1/orders/{order.pk}/items/{item.pk}/status"


def one_won_one_409(responses):
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 409], [(r.status_code, r.content) for r in responses]
    loser = next(r for r in responses if r.status_code == 409)
    assert loser["Content-Type"].startswith("application/problem+json")
    return next(r for r in responses if r.status_code == 200), loser.json()


def test_same_item_moved_twice_at_once_exactly_one_wins(racers, tx_floor):
    for _ in range(ROUNDS):
        order = OrderFactory(table_session=tx_floor.session, status=OrderStatus.CONFIRMED)
        item = OrderItemFactory(order=order, status=ItemStatus.PENDING)
        url = status_url(order, item)
        body = {"status": "IN_PROGRESS"}

        responses = racers.race((tx_floor.kitchen, url, body), (tx_floor.manager, url, body))

        winner, problem = one_won_one_409(responses)
        assert winner.json()["status"] == "IN_PROGRESS"
        assert problem["type"].endswith("/illegal-transition")
        # The loser saw the winner's state: IN_PROGRESS -> IN_PROGRESS.
        assert problem["detail"].count("IN_PROGRESS") >= 2, problem
        item.refresh_from_db()
        order.refresh_from_db()
        assert item.status == ItemStatus.IN_PROGRESS
        assert order.status == OrderStatus.IN_PROGRESS


def test_same_item_ready_versus_cancel_exactly_one_wins(racers, tx_floor):
    """Kitchen marks READY while the waiter cancels the item: one of the two, never both."""
    for _ in range(EXTRA_ROUNDS):
        order = OrderFactory(table_session=tx_floor.session, status=OrderStatus.IN_PROGRESS)
        item = OrderItemFactory(order=order, status=ItemStatus.IN_PROGRESS)
        url = status_url(order, item)

        ready, cancel = racers.race(
            (tx_floor.kitchen, url, {"status": "READY"}),
            (tx_floor.waiter, url, {"status": "CANCELLED"}),
        )

        one_won_one_409([ready, cancel])
        item.refresh_from_db()
        order.refresh_from_db()
        if ready.status_code == 200:
            assert (item.status, order.status) == (ItemStatus.READY, OrderStatus.READY)
        else:
            assert (item.status, order.status) == (ItemStatus.CANCELLED, OrderStatus.CANCELLED)


@pytest.mark.parametrize(
    "order_status,from_status,to_status,role,expected_order",
    [
        ("CONFIRMED", "PENDING", "IN_PROGRESS", Role.KITCHEN, "IN_PROGRESS"),
        # The lost-update case: each move alone leaves the order IN_PROGRESS (one item still
        # cooking); only a derivation that sees both moves yields READY.
        ("IN_PROGRESS", "IN_PROGRESS", "READY", Role.KITCHEN, "READY"),
        ("READY", "READY", "SERVED", Role.WAITER, "SERVED"),
    ],
)
def test_different_items_of_one_order_moved_at_once(
    racers, tx_floor, slow_derivation, order_status, from_status, to_status, role, expected_order
):
    user = tx_floor.user(role)
    for _ in range(ROUNDS):
        order = OrderFactory(table_session=tx_floor.session, status=order_status)
        first = OrderItemFactory(order=order, status=from_status)
        second = OrderItemFactory(order=order, status=from_status)
        body = {"status": to_status}

        responses = racers.race(
            (user, status_url(order, first), body), (user, status_url(order, second), body)
        )

        assert [r.status_code for r in responses] == [200, 200], [
            r.content for r in responses
        ]
        assert set(
            OrderItem.objects.filter(order=order).values_list("status", flat=True)
        ) == {to_status}
        order.refresh_from_db()
        assert order.status == expected_order


def test_double_confirm_exactly_one_wins(racers, tx_floor):
    for _ in range(ROUNDS):
        order = OrderFactory(table_session=tx_floor.session, status=OrderStatus.DRAFT)
        OrderItemFactory(order=order)
        url = f"/api/v1/orders/{order.pk}/confirm"

        responses = racers.race((tx_floor.waiter, url, {}), (tx_floor.manager, url, {}))

        winner, problem = one_won_one_409(responses)
        assert winner.json()["status"] == "CONFIRMED"
        assert problem["type"].endswith("/illegal-transition")
        assert problem["detail"].count("CONFIRMED") >= 2, problem
        order.refresh_from_db()
        assert order.status == OrderStatus.CONFIRMED
        assert order.confirmed_at is not None


def test_confirm_versus_cancel_of_a_draft_order(racers, tx_floor):
    """Either it was confirmed and then cancelled, or cancelled and the confirm refused."""
    for _ in range(EXTRA_ROUNDS):
        order = OrderFactory(table_session=tx_floor.session, status=OrderStatus.DRAFT)
        OrderItemFactory(order=order)

        confirm, cancel = racers.race(
            (tx_floor.waiter, f"/api/v1/orders/{order.pk}/confirm", {}),
            (tx_floor.manager, f"/api/v1/orders/{order.pk}/cancel", {}),
        )

        assert cancel.status_code == 200, cancel.content
        assert confirm.status_code in (200, 409), confirm.content
        order.refresh_from_db()
        assert order.status == OrderStatus.CANCELLED
        assert set(order.items.values_list("status", flat=True)) == {ItemStatus.CANCELLED}


def test_two_sessions_opened_on_one_table_at_once(racers, tx_floor):
    for _ in range(EXTRA_ROUNDS):
        table = TableFactory(restaurant=tx_floor.restaurant)
        url = f"/api/v1/tables/{table.pk}/sessions"

        responses = racers.race((tx_floor.waiter, url, {}), (tx_floor.manager, url, {}))

        codes = sorted(r.status_code for r in responses)
        assert codes == [201, 409], [(r.status_code, r.content) for r in responses]
        assert TableSession.objects.filter(table=table, status="OPEN").count() == 1


def test_orders_are_not_lost_when_created_concurrently(racers, tx_floor):
    before = Order.objects.count()
    body = {"tableSessionId": str(tx_floor.session.pk)}
    responses = racers.race(
        (tx_floor.waiter, "/api/v1/orders", body), (tx_floor.manager, "/api/v1/orders", body)
    )
    assert [r.status_code for r in responses] == [201, 201]
    assert Order.objects.count() == before + 2


# --- Kitchen operations -----------------------------------------------------------------------


@pytest.fixture
def slow_confirm(monkeypatch):
    """Widen the window between a confirm's lock of its order and its save (a confirm checks
    the actor's role right after the lock), and record how many confirms were inside it at
    once: racing confirms of different orders hold different locks, so they overlap there."""
    from orders.services import ordering

    original, inside, peaks, guard = ordering._require_role, [0], [], threading.Lock()

    def slow(actor, allowed, action):
        with guard:
            inside[0] += 1
            peaks.append(inside[0])
        # Long enough that the racers' threads all arrive inside it on a loaded machine too
        # (at 0.05 s a CI run under load saw only 12 of 24 at once).
        time.sleep(0.2)
        with guard:
            inside[0] -= 1
        return original(actor, allowed, action)

    monkeypatch.setattr(ordering, "_require_role", slow)
    return peaks


def _confirm_at_once(racers, floor, rounds):
    """`rounds` times, as many orders of one restaurant as there are racers confirmed at
    once; every response's ticket number, in order of the rounds."""
    numbers = []
    for _ in range(rounds):
        orders = [OrderFactory(table_session=floor.session) for _ in range(racers.count)]
        for order in orders:
            OrderItemFactory(order=order)
        users = [floor.waiter, floor.manager]
        responses = racers.race(*(
            (users[k % 2], f"/api/v1/orders/{order.pk}/confirm", {}) for k, order in enumerate(orders)
        ))
        assert [r.status_code for r in responses] == [200] * racers.count, [
            (r.status_code, r.content) for r in responses if r.status_code != 200
        ]
        numbers += sorted(r.json()["number"] for r in responses)
    return numbers


def test_two_confirms_at_once_never_share_a_ticket_number(racers, tx_floor, slow_confirm):
    """Two different orders confirmed at the same moment take consecutive numbers."""
    numbers = _confirm_at_once(racers, tx_floor, ROUNDS)
    assert numbers == list(range(1, 2 * ROUNDS + 1))
    assert max(slow_confirm) == 2, slow_confirm  # the race did happen


RUSH = 24  # more confirms at once than a retry on the number's collision could ever absorb


@pytest.fixture
def pool_for_the_rush(transactional_db):
    """A connection pool as large as the rush (the default one holds fewer: the racers beyond
    it would wait for a connection, and be answered 503, instead of racing)."""
    pool = connection.settings_dict["OPTIONS"].get("pool")
    if not isinstance(pool, dict):
        yield  # no pool: every thread opens its own connection
        return
    size = pool.get("max_size")

    def renew(max_size):
        connection.close()
        connection.close_pool()
        pool["max_size"] = max_size

    renew(RUSH + 4)
    try:
        yield
    finally:
        renew(size)


def test_a_rush_of_confirms_all_get_consecutive_ticket_numbers(tx_floor, pool_for_the_rush, slow_confirm):
    """A dinner rush: many waiters confirm orders of one restaurant at the same moment. Each
    gets the day's next number, none a 409 to try again; the numbers are gapless."""
    racers = Racers(RUSH)
    try:
        numbers = _confirm_at_once(racers, tx_floor, 2)
    finally:
        racers.stop()
    assert numbers == list(range(1, 2 * RUSH + 1))
    assert max(slow_confirm) > RUSH // 2, slow_confirm  # they were in flight together
    stored = Order.objects.filter(restaurant=tx_floor.restaurant, number__isnull=False)
    assert sorted(stored.values_list("number", flat=True)) == numbers


def test_two_adds_racing_for_the_last_portion_exactly_one_wins(racers, tx_floor):
    dish = tx_floor.menu_item
    for _ in range(ROUNDS):
        dish.refresh_from_db()
        services.menu_item_set_availability(actor=tx_floor.kitchen, menu_item=dish, available=True, remaining=1)
        orders = [OrderFactory(table_session=tx_floor.session) for _ in range(2)]
        body = {"menuItemId": str(dish.pk), "qty": 1}

        responses = racers.race(
            (tx_floor.waiter, f"/api/v1/orders/{orders[0].pk}/items", body),
            (tx_floor.manager, f"/api/v1/orders/{orders[1].pk}/items", body),
        )

        codes = sorted(r.status_code for r in responses)
        assert codes == [201, 409], [(r.status_code, r.content) for r in responses]
        loser = next(r for r in responses if r.status_code == 409).json()
        assert loser["type"].endswith("/item-unavailable"), loser
        dish.refresh_from_db()
        assert (dish.available, dish.remaining) == (False, 0)
        assert OrderItem.objects.filter(order__in=orders).count() == 1


def test_one_idempotency_key_sent_twice_at_once_runs_once(racers, tx_floor):
    # The second insert of the key waits on the unique index for the first request to commit,
    # then finds its record and replays its answer.
    body = {"tableSessionId": str(tx_floor.session.pk)}
    for round_ in range(ROUNDS):
        key = {"HTTP_IDEMPOTENCY_KEY": f"race-{round_}"}
        before = Order.objects.filter(table_session=tx_floor.session).count()

        responses = racers.race(
            (tx_floor.waiter, "/api/v1/orders", body, key), (tx_floor.waiter, "/api/v1/orders", body, key)
        )

        assert [r.status_code for r in responses] == [201, 201], [r.content for r in responses]
        assert sorted(r.get("Idempotent-Replayed", "") for r in responses) == ["", "true"]
        assert responses[0].json() == responses[1].json()
        assert Order.objects.filter(table_session=tx_floor.session).count() == before + 1
