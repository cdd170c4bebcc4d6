"""The order and item state machines, driven by hypothesis through `orders.services`.

A reference model, written from docs/contract.md (not from services.py), predicts the outcome of
each move: who may make it, which statuses follow, which events it produces. Random sequences
of moves by random actors (each role, and a stranger from another restaurant) run against the
real services; after every step:

- the order status is `derive_order_status` of its items (confirmed orders), and every status
  in the database is the model's;
- each order's total (as the API renders it) is the sum of its non-cancelled lines, each
  qty × (price + its modifiers' deltas);
- no held item (course not fired) and no item with unacknowledged allergies was ever
  started; fired courses, acknowledgements, void reasons, priorities and the dish's 86 state
  are the model's;
- the restaurant's outbox holds exactly the events the committed moves should have produced,
  in order, with consecutive ids and the right payloads; a refused move produced nothing, and
  no event ever lands in another restaurant.

Kitchen moves (docs/contract.md, "Kitchen operations"): add-ons after sending (with courses,
declared allergies, free-form modifiers, and a dish counted down portion by portion), fire,
acknowledge, void with a reason, priority and 86.

The concurrent variant (PostgreSQL) adds steps where two screens move items of one order at
the same moment, each from the status it saw: when both target the same item exactly one
wins; the events follow the commit order.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.db import connection
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from orders import services
from orders.api.serializers import OrderSerializer
from orders.errors import (
    AllergyUnacknowledged,
    Conflict,
    CourseHeld,
    DomainError,
    Forbidden,
    IllegalTransition,
    InvalidInput,
    ItemUnavailable,
    NotFound,
)
from orders.models import ItemStatus as I
from orders.models import MenuItem, Order, OrderItem
from orders.models import OrderStatus as O
from orders.models import Role
from orders.history import HistoryEntry, replay_item_statuses
from realtime.models import OutboxEvent

from ..conftest import Floor

# --- The reference model, from docs/contract.md -----------------------------------------------------

KITCHEN_MOVES = {(I.PENDING, I.IN_PROGRESS), (I.IN_PROGRESS, I.READY),
                 (I.IN_PROGRESS, I.PENDING), (I.READY, I.IN_PROGRESS)}
FLOOR_MOVES = {(I.READY, I.SERVED), (I.PENDING, I.CANCELLED), (I.IN_PROGRESS, I.CANCELLED)}
ACTIVE = {O.CONFIRMED, O.IN_PROGRESS, O.READY}
FINAL = {O.SERVED, O.CANCELLED}
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def contract_status(item_statuses) -> str:
    """docs/contract.md's derivation, restated: cancelled items ignored; any started and not all
    done -> IN_PROGRESS; all READY or SERVED -> READY, all SERVED -> SERVED."""
    live = [s for s in item_statuses if s != I.CANCELLED]
    if not live:
        return O.CANCELLED
    if all(s == I.SERVED for s in live):
        return O.SERVED
    if all(s in (I.READY, I.SERVED) for s in live):
        return O.READY
    if any(s != I.PENDING for s in live):
        return O.IN_PROGRESS
    return O.CONFIRMED


def move_refusal(role, order_status, current, target, line=None):
    """The exception a single item move must raise, or None when it is allowed."""
    pair = (current, target)
    if pair not in KITCHEN_MOVES | FLOOR_MOVES or order_status not in ACTIVE:
        return IllegalTransition
    allowed = {Role.KITCHEN, Role.MANAGER} if pair in KITCHEN_MOVES else {Role.WAITER, Role.MANAGER}
    if role not in allowed:
        return Forbidden
    if line is not None and pair == (I.PENDING, I.IN_PROGRESS):
        return start_refusal(line)
    return None


def start_refusal(line):
    """Nothing starts before its course is fired, nor with unacknowledged allergies."""
    if not line.fired:
        return CourseHeld
    if line.allergies and not line.acked:
        return AllergyUnacknowledged
    return None


@dataclass
class Line:
    id: str
    name: str
    qty: int
    price: Decimal
    status: str = I.PENDING
    course: int = 1
    fired: bool = False
    allergies: tuple = ()
    acked: bool = False
    deltas: Decimal = Decimal("0.00")  # Σ priceDelta of its modifiers
    dish: bool = False  # the counted menu dish, not free-form
    void_reason: str = ""

    @property
    def live(self):
        return self.status != I.CANCELLED


@dataclass
class ModelOrder:
    id: str
    status: str = O.DRAFT
    priority: str = "NORMAL"
    lines: dict = field(default_factory=dict)  # id -> Line, in the order they were added

    def item_statuses(self):
        return [line.status for line in self.lines.values()]

    def fires_at_once(self, course):
        """An add-on fires at once when its course already did, or when it is the lowest."""
        live = [line for line in self.lines.values() if line.live]
        return any(l.course == course and l.fired for l in live) or all(course <= l.course for l in live)


@dataclass
class Dish:
    """The 86 state of the one menu dish the machine orders."""

    available: bool = True
    remaining: int | None = None


UNSET = "unset"


class Expect:
    """The events a committed step must have produced, built while applying it to the model."""

    def __init__(self, restaurant_id):
        self.restaurant_id = restaurant_id
        self.events = []

    def item_moved(self, order: ModelOrder, line: Line, target):
        self.events.append(("order.item.status.changed", {
            "orderId": order.id, "itemId": line.id, "restaurantId": self.restaurant_id,
            "previousStatus": line.status, "newStatus": target,
        }))
        line.status = target
        if order.status in ACTIVE:
            self.order_became(order, contract_status(order.item_statuses()))

    def dish_changed(self, machine, dish: Dish, available, remaining):
        if (available, remaining) != (dish.available, dish.remaining):
            dish.available, dish.remaining = available, remaining
            self.events.append(("menu.item.availability.changed", {
                "menuItemId": machine.dish_id, "restaurantId": self.restaurant_id,
                "available": available, "remaining": remaining,
            }))

    def portions(self, machine, dish: Dish, taken: int):
        """A counted dish loses (or, removed from a draft, gets back) portions; it is
        unavailable exactly while none are left."""
        if dish.remaining is None or taken == 0:
            return
        remaining = dish.remaining - taken
        available = dish.available
        if remaining == 0:
            available = False
        elif dish.remaining == 0 and not dish.available:
            available = True
        self.dish_changed(machine, dish, available, remaining)

    def order_became(self, order: ModelOrder, status):
        if status != order.status:
            self.events.append(("order.status.changed", {
                "orderId": order.id, "restaurantId": self.restaurant_id,
                "previousStatus": order.status, "newStatus": status,
            }))
            order.status = status


# --- The machine -----------------------------------------------------------------------------

ROLES = [Role.MANAGER, Role.WAITER, Role.KITCHEN, "STRANGER"]
EXAMPLES = 25
STEPS = 30


class OrderStateMachine(RuleBasedStateMachine):
    floor: Floor

    @initialize(auto_fire=st.booleans())
    def setup(self, auto_fire):
        self.floor = Floor("Model")
        # The restaurant's "fire next course automatically", on in some runs.
        self.auto_fire = auto_fire
        self.floor.restaurant.auto_fire_next_course = auto_fire
        self.floor.restaurant.save()
        for role in (Role.MANAGER, Role.WAITER, Role.KITCHEN):
            self.floor.user(role).refresh_from_db()
        self.stranger = Floor("Stranger").waiter
        self.restaurant_id = str(self.floor.restaurant.pk)
        self.orders: dict[str, ModelOrder] = {}
        self.events_seen = 0
        self.steps = 0
        self.dish = Dish()
        self.dish_id = str(self.floor.menu_item.pk)
        self.dish_price = self.floor.menu_item.price
        # Start with a confirmed order of three starters, a main (course 2, held) and a
        # starter with a declared allergy, so that item moves, fire and acknowledge have
        # work to do.
        waiter = self.floor.waiter
        order = services.order_create(actor=waiter, table_session=self.floor.session)
        model = self.orders[str(order.pk)] = ModelOrder(str(order.pk))
        for n, (course, allergies) in enumerate([(1, ()), (1, ()), (1, ()), (2, ()), (1, ("milk",))]):
            item = services.order_item_add(
                actor=waiter, order=order, qty=n + 1, name=f"Starter {n}", unit_price=Decimal("4.50"),
                course=course, allergies=list(allergies),
            )
            model.lines[str(item.pk)] = Line(
                str(item.pk), item.name, n + 1, Decimal("4.50"), course=course, allergies=allergies,
                fired=course == 1,
            )
        services.order_confirm(actor=waiter, order=order)
        expect = Expect(self.restaurant_id)
        expect.events.append(("order.new", {"orderId": model.id}))
        expect.order_became(model, O.CONFIRMED)
        # And a small one, a starter and a held main: a few moves reach the automatic firing.
        order = services.order_create(actor=waiter, table_session=self.floor.session)
        model = self.orders[str(order.pk)] = ModelOrder(str(order.pk))
        for course in (1, 2):
            item = services.order_item_add(
                actor=waiter, order=order, qty=1, name=f"Course {course}", unit_price=Decimal("6.00"),
                course=course,
            )
            model.lines[str(item.pk)] = Line(
                str(item.pk), item.name, 1, Decimal("6.00"), course=course, fired=course == 1
            )
        services.order_confirm(actor=waiter, order=order)
        expect.events.append(("order.new", {"orderId": model.id}))
        expect.order_became(model, O.CONFIRMED)
        self.check_events(expect.events)

    # helpers

    def item_moved(self, expect, order: ModelOrder, line: Line, target):
        """A single move (not a bump or a whole-order cancel), then the restaurant's automatic
        firing: once every live item of the courses before the lowest held one is SERVED."""
        expect.item_moved(order, line, target)
        if not (self.auto_fire and target in (I.SERVED, I.CANCELLED) and order.status in ACTIVE):
            return
        live = [l for l in order.lines.values() if l.live]
        held = [l for l in live if not l.fired]
        if not held:
            return
        following = min(l.course for l in held)
        if all(l.status == I.SERVED for l in live if l.course < following):
            fired = [l for l in held if l.course == following]
            expect.events.append(("order.course.fired", {
                "orderId": order.id, "restaurantId": self.restaurant_id, "course": following,
                "itemIds": [l.id for l in fired],
            }))
            for l in fired:
                l.fired = True

    def actor(self, role):
        return self.stranger if role == "STRANGER" else self.floor.user(role)

    def attempt(self, expected_refusal, call, apply):
        """Run a service call; a predicted refusal must happen (and change nothing), a
        predicted success must commit, and produce exactly the events `apply` predicts."""
        self.steps += 1
        try:
            result = call()
        except (DomainError, ValidationError) as refused:
            assert expected_refusal is not None, f"refused, but the contract allows it: {refused!r}"
            assert isinstance(refused, expected_refusal), (refused, expected_refusal)
            self.check_events([])
            return None
        assert expected_refusal is None, f"allowed, but the contract says {expected_refusal.__name__}"
        expect = Expect(self.restaurant_id)
        apply(expect, result)
        self.check_events(expect.events)
        return result

    def check_events(self, expected):
        new = list(
            OutboxEvent.objects.filter(restaurant_id=self.restaurant_id, seq__gt=self.events_seen)
            .order_by("seq")
        )
        assert [e.seq for e in new] == list(range(self.events_seen + 1, self.events_seen + 1 + len(new)))
        assert [e.name for e in new] == [name for name, _ in expected], (
            [(e.name, e.payload) for e in new], expected,
        )
        for event, (name, payload) in zip(new, expected):
            for key, value in payload.items():
                if key == "items":  # each item: the fields the model knows, in order
                    assert [{k: i[k] for k in value[0]} for i in event.payload[key]] == value, event.payload
                else:
                    assert event.payload[key] == value, (name, key, event.payload, payload)
            stamp = next(event.payload[k] for k in ("updatedAt", "createdAt", "firedAt", "acknowledgedAt")
                         if k in event.payload)
            assert ISO_MS.match(stamp), event.payload
        self.events_seen += len(new)

    def pick(self, data, what):
        # A draw of one shape whatever the list's length: the concurrent machine's state
        # depends on which screen won a race, and hypothesis refuses ("flaky strategy") draws
        # whose shape changes between replays of the same choices.
        return what[data.draw(st.integers(0, 2**16)) % len(what)]

    # rules

    @rule(role=st.sampled_from(ROLES))
    def create_order(self, role):
        refusal = NotFound if role == "STRANGER" else (Forbidden if role == Role.KITCHEN else None)

        def apply(expect, order):
            self.orders[str(order.pk)] = ModelOrder(str(order.pk))

        self.attempt(
            refusal,
            lambda: services.order_create(actor=self.actor(role), table_session=self.floor.session),
            apply,
        )

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), role=st.sampled_from(ROLES), qty=st.integers(1, 5),
          cents=st.integers(0, 5000), course=st.integers(1, 3), allergic=st.booleans(),
          delta_cents=st.sampled_from([None, 0, 150]), from_dish=st.booleans())
    def add_item(self, data, role, qty, cents, course, allergic, delta_cents, from_dish):
        """A line while DRAFT, or an add-on on a sent order: free-form or the counted dish,
        with a course, maybe a declared allergy and a free-form priced modifier."""
        drafts = [o for o in self.orders.values() if o.status == O.DRAFT]
        order = self.pick(data, drafts + list(self.orders.values()))
        price = self.dish_price if from_dish else Decimal(cents) / 100
        modifiers = [] if delta_cents is None else [{"name": "extra", "price_delta": Decimal(delta_cents) / 100}]
        deltas = sum((m["price_delta"] for m in modifiers), Decimal("0.00"))
        dish = self.dish
        refusal = (
            Forbidden if role == Role.KITCHEN else NotFound if role == "STRANGER"
            else Conflict if order.status not in ACTIVE | {O.DRAFT}
            else ItemUnavailable if from_dish and (
                not dish.available or (dish.remaining is not None and qty > dish.remaining))
            else None
        )
        allergies = ["milk"] if allergic else []

        def apply(expect, item):
            line = order.lines[str(item.pk)] = Line(
                str(item.pk), item.name, qty, price, course=course, allergies=tuple(allergies),
                deltas=deltas, dish=from_dish,
                fired=order.status != O.DRAFT and order.fires_at_once(course),
            )
            if order.status != O.DRAFT:
                expect.events.append(("order.items.added", {
                    "orderId": order.id, "restaurantId": self.restaurant_id,
                    "items": [{"id": line.id, "qty": qty, "course": course, "allergies": allergies,
                               "station": "grill" if from_dish else ""}],
                }))
            if from_dish:
                expect.portions(self, dish, qty)
            if order.status in ACTIVE:
                expect.order_became(order, contract_status(order.item_statuses()))

        kwargs = (
            {"menu_item": MenuItem(pk=self.dish_id)} if from_dish
            else {"name": f"Dish {len(order.lines)}", "unit_price": price}
        )
        self.attempt(
            refusal,
            lambda: services.order_item_add(
                actor=self.actor(role), order=Order(pk=order.id), qty=qty, course=course,
                allergies=allergies, modifiers=modifiers, **kwargs,
            ),
            apply,
        )

    def lines(self, predicate=lambda order: True):
        return [(o, line) for o in self.orders.values() if predicate(o) for line in o.lines.values()]

    @precondition(lambda self: any(o.lines for o in self.orders.values()))
    @rule(data=st.data(), role=st.sampled_from(ROLES), qty=st.integers(1, 9))
    def change_qty(self, data, role, qty):
        order, line = self.pick(data, self.lines())
        more = qty - line.qty
        dish = self.dish
        refusal = (
            NotFound if role == "STRANGER" else Forbidden if role == Role.KITCHEN
            else Conflict if order.status != O.DRAFT
            else ItemUnavailable if line.dish and more > 0 and (
                not dish.available or (dish.remaining is not None and more > dish.remaining))
            else None
        )

        def apply(expect, item):
            if line.dish:
                expect.portions(self, dish, more)
            line.qty = qty

        self.attempt(
            refusal,
            lambda: services.order_item_update(
                actor=self.actor(role), item=OrderItem.objects.get(pk=line.id), qty=qty
            ),
            apply,
        )

    @precondition(lambda self: any(o.lines for o in self.orders.values()))
    @rule(data=st.data(), role=st.sampled_from(ROLES))
    def remove_item(self, data, role):
        order, line = self.pick(data, self.lines())
        refusal = (
            NotFound if role == "STRANGER" else Forbidden if role == Role.KITCHEN
            else Conflict if order.status != O.DRAFT else None
        )

        def apply(expect, _):
            if line.dish:
                expect.portions(self, self.dish, -line.qty)
            del order.lines[line.id]

        self.attempt(
            refusal,
            lambda: services.order_item_remove(
                actor=self.actor(role), item=OrderItem.objects.get(pk=line.id)
            ),
            apply,
        )

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), role=st.sampled_from(ROLES))
    def confirm(self, data, role):
        drafts = [o for o in self.orders.values() if o.status == O.DRAFT and o.lines]
        order = self.pick(data, drafts + list(self.orders.values()))
        refusal = (
            Forbidden if role == Role.KITCHEN
            else NotFound if role == "STRANGER"
            else IllegalTransition if order.status != O.DRAFT or not order.lines else None
        )

        def apply(expect, _):
            expect.events.append(("order.new", {
                "orderId": order.id, "restaurantId": self.restaurant_id,
                "tableSessionId": str(self.floor.session.pk), "status": O.CONFIRMED,
                "items": [
                    {"id": line.id, "orderId": order.id, "name": line.name, "qty": line.qty,
                     "unitPrice": f"{line.price:.2f}", "status": I.PENDING}
                    for line in order.lines.values()
                ],
            }))
            expect.order_became(order, O.CONFIRMED)
            lowest = min(line.course for line in order.lines.values())
            for line in order.lines.values():
                line.fired = line.course == lowest

        self.attempt(
            refusal,
            lambda: services.order_confirm(actor=self.actor(role), order=Order(pk=order.id)),
            apply,
        )

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), role=st.sampled_from(ROLES))
    def cancel_order(self, data, role):
        order = self.pick(data, list(self.orders.values()))
        done = any(s in (I.READY, I.SERVED) for s in order.item_statuses())
        refusal = (
            Forbidden if role == Role.KITCHEN
            else NotFound if role == "STRANGER"
            else IllegalTransition if order.status in FINAL or done else None
        )

        def apply(expect, _):
            for line in order.lines.values():
                # Each open item is cancelled (its event), then the order (one event).
                if line.status != I.CANCELLED:
                    expect.events.append(("order.item.status.changed", {
                        "orderId": order.id, "itemId": line.id, "restaurantId": self.restaurant_id,
                        "previousStatus": line.status, "newStatus": I.CANCELLED,
                    }))
                    line.status = I.CANCELLED
            expect.order_became(order, O.CANCELLED)

        self.attempt(
            refusal,
            lambda: services.order_cancel(actor=self.actor(role), order=Order(pk=order.id)),
            apply,
        )

    @precondition(lambda self: any(o.lines for o in self.orders.values()))
    @rule(data=st.data(), role=st.sampled_from(ROLES))
    def move_item(self, data, role):
        # Lines of orders with a held course count twice: their moves lead to firings.
        held = self.lines(lambda o: any(l.live and not l.fired for l in o.lines.values()))
        order, line = self.pick(data, self.lines() + held)
        # Mostly a move the graph has from here (by some role), sometimes any status.
        nearby = [t for (f, t) in sorted(KITCHEN_MOVES | FLOOR_MOVES) if f == line.status]
        target = self.pick(data, nearby + list(I))
        with_reason = data.draw(st.booleans())  # drawn always, for the same reason as `pick`
        reason = "sent back" if target == I.CANCELLED and with_reason else ""
        refusal = NotFound if role == "STRANGER" else move_refusal(role, order.status, line.status, target, line)

        def apply(expect, _):
            if target == I.CANCELLED:
                line.void_reason = reason
            self.item_moved(expect, order, line, target)

        self.attempt(
            refusal,
            lambda: services.item_set_status(
                actor=self.actor(role), item=OrderItem(pk=line.id, order_id=order.id), status=target,
                reason=reason,
            ),
            apply,
        )

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), role=st.sampled_from(ROLES))
    def bump(self, data, role):
        """Kitchen bump: every PENDING/IN_PROGRESS item to READY, step by step, all or none."""
        order = self.pick(data, list(self.orders.values()))
        cooking = [l for l in self._in_db_order(order) if l.status in (I.PENDING, I.IN_PROGRESS) and l.fired]
        refusal = (
            NotFound if role == "STRANGER"
            else Conflict if not cooking
            else IllegalTransition if order.status not in ACTIVE
            else Forbidden if role == Role.WAITER
            else AllergyUnacknowledged if any(
                l.status == I.PENDING and start_refusal(l) for l in cooking)
            else None
        )

        def apply(expect, _):
            for line in cooking:
                if line.status == I.PENDING:
                    expect.item_moved(order, line, I.IN_PROGRESS)
                expect.item_moved(order, line, I.READY)

        self.attempt(
            refusal,
            lambda: services.order_bump(actor=self.actor(role), order=Order(pk=order.id)),
            apply,
        )

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), role=st.sampled_from(ROLES))
    def recall(self, data, role):
        order = self.pick(data, list(self.orders.values()))
        ready = [l for l in self._in_db_order(order) if l.status == I.READY]
        refusal = (
            NotFound if role == "STRANGER"
            else Conflict if not ready
            else IllegalTransition if order.status not in ACTIVE
            else Forbidden if role == Role.WAITER else None
        )

        def apply(expect, _):
            for line in ready:
                expect.item_moved(order, line, I.IN_PROGRESS)

        self.attempt(
            refusal,
            lambda: services.order_recall(actor=self.actor(role), order=Order(pk=order.id)),
            apply,
        )

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), role=st.sampled_from(ROLES), course=st.integers(1, 3))
    def fire(self, data, role, course):
        # Mostly a course that is held somewhere, sometimes any.
        held_somewhere = list(dict.fromkeys(  # in the order they were made (ids are random)
            (o.id, l.course) for o in self.orders.values() for l in o.lines.values()
            if l.live and not l.fired
        ))
        order_id, course = self.pick(data, held_somewhere + [(o, course) for o in self.orders])
        order = self.orders[order_id]
        held = [l for l in order.lines.values() if l.live and l.course == course and not l.fired]
        refusal = (
            NotFound if role == "STRANGER"
            else Conflict if order.status not in ACTIVE or not held else None
        )

        def apply(expect, _):
            expect.events.append(("order.course.fired", {
                "orderId": order.id, "restaurantId": self.restaurant_id, "course": course,
                "itemIds": [l.id for l in held],
            }))
            for line in held:
                line.fired = True

        self.attempt(
            refusal,
            lambda: services.order_fire_course(actor=self.actor(role), order=Order(pk=order.id), course=course),
            apply,
        )

    @precondition(lambda self: any(o.lines for o in self.orders.values()))
    @rule(data=st.data(), role=st.sampled_from(ROLES))
    def acknowledge_allergy(self, data, role):
        allergic = self.lines(lambda o: True)
        order, line = self.pick(data, [p for p in allergic if p[1].allergies] or allergic)
        refusal = (  # the order is locked with the tenancy filter first: a stranger learns nothing
            NotFound if role == "STRANGER"
            else Forbidden if role == Role.WAITER
            else Conflict if order.status not in ACTIVE or not line.allergies or line.acked
            or not line.live else None
        )

        def apply(expect, _):
            expect.events.append(("order.item.allergy.acknowledged", {
                "orderId": order.id, "itemId": line.id, "restaurantId": self.restaurant_id,
                "allergies": list(line.allergies), "acknowledgedBy": str(self.actor(role).pk),
            }))
            line.acked = True

        self.attempt(
            refusal,
            lambda: services.item_acknowledge_allergy(
                actor=self.actor(role), item=OrderItem(pk=line.id, order_id=order.id)
            ),
            apply,
        )

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), role=st.sampled_from(ROLES), priority=st.sampled_from(["NORMAL", "RUSH"]))
    def set_priority(self, data, role, priority):
        order = self.pick(data, list(self.orders.values()))
        refusal = NotFound if role == "STRANGER" else Conflict if order.status in FINAL else None

        def apply(expect, _):
            if priority != order.priority:
                expect.events.append(("order.priority.changed", {
                    "orderId": order.id, "restaurantId": self.restaurant_id, "priority": priority,
                }))
                order.priority = priority

        self.attempt(
            refusal,
            lambda: services.order_set_priority(actor=self.actor(role), order=Order(pk=order.id), priority=priority),
            apply,
        )

    @rule(role=st.sampled_from(ROLES), available=st.booleans(),
          remaining=st.sampled_from([UNSET, None, 0, 1, 2, 3]))
    def eighty_six(self, role, available, remaining):
        """86 the dish, bring it back, or set its countdown (docs/contract.md, "Menu")."""
        dish = self.dish
        left = dish.remaining if remaining == UNSET else remaining
        # Another restaurant's dish is not found, whoever asks (the service locks it with the
        # tenancy filter before the role check, as every other write here).
        refusal = NotFound if role == "STRANGER" else Forbidden if role == Role.WAITER else None
        if refusal is None and available and left == 0:
            # An available dish has portions left: an explicit 0 is refused, and a dish whose
            # countdown ran out comes back uncounted.
            refusal = InvalidInput if remaining != UNSET else None
            left = None

        def apply(expect, _):
            expect.dish_changed(self, dish, available and left != 0, left)

        kwargs = {} if remaining == UNSET else {"remaining": remaining}
        self.attempt(
            refusal,
            lambda: services.menu_item_set_availability(
                actor=self.actor(role), menu_item=MenuItem(pk=self.dish_id), available=available, **kwargs
            ),
            apply,
        )

    def _in_db_order(self, order: ModelOrder):
        """Bump and recall walk items by (created_at, id): ask the database for that order."""
        ids = OrderItem.objects.filter(order_id=order.id).order_by("created_at", "id").values_list("pk", flat=True)
        return [order.lines[str(pk)] for pk in ids]

    # invariants, after every step

    @invariant()
    def database_matches_the_model(self):
        if not hasattr(self, "orders"):
            return
        db_orders = {str(o.pk): o for o in Order.objects.filter(restaurant=self.floor.restaurant)}
        assert db_orders.keys() == self.orders.keys()
        for order_id, model in self.orders.items():
            db_order = db_orders[order_id]
            items = {str(i.pk): i for i in OrderItem.objects.filter(order_id=order_id)}
            assert items.keys() == model.lines.keys()
            statuses = [i.status for i in items.values()]
            assert db_order.status == model.status, (db_order.status, model)
            if db_order.status != O.DRAFT:
                assert db_order.status == services.derive_order_status(statuses)
                assert db_order.status == contract_status(statuses)
            assert db_order.priority == model.priority
            for item_id, line in model.lines.items():
                item = items[item_id]
                assert (item.status, item.qty, item.course) == (line.status, line.qty, line.course)
                assert (item.fired_at is not None, item.void_reason) == (line.fired, line.void_reason)
                assert (item.allergy_acknowledged_at is not None) == line.acked
            total = sum(
                ((line.price + line.deltas) * line.qty for line in model.lines.values()
                 if line.status != I.CANCELLED),
                Decimal("0.00"),
            )
            assert OrderSerializer(db_order).data["total"] == f"{total:.2f}"
        dish = MenuItem.objects.get(pk=self.dish_id)
        assert (dish.available, dish.remaining) == (self.dish.available, self.dish.remaining)

    @invariant()
    def nothing_started_before_its_course_fired_or_its_allergies_were_read(self):
        if not hasattr(self, "orders"):
            return
        started = OrderItem.objects.filter(
            order__restaurant=self.floor.restaurant, status__in=[I.IN_PROGRESS, I.READY, I.SERVED]
        )
        assert not started.filter(fired_at__isnull=True).exists()
        assert not started.exclude(allergies=[]).filter(allergy_acknowledged_at__isnull=True).exists()

    @invariant()
    def events_are_exactly_the_committed_moves(self):
        if not hasattr(self, "orders"):
            return
        events = OutboxEvent.objects.filter(restaurant_id=self.restaurant_id)
        assert events.count() == self.events_seen
        assert not OutboxEvent.objects.filter(restaurant_id=self.stranger.restaurant_id).exists()

    @invariant()
    def history_replays_to_every_item_status_and_equals_the_event_log(self):
        """Replaying each order's history gives every item's status; its item moves are the
        `order.item.status.changed` events, one for one, in order; refusals wrote nothing."""
        if not hasattr(self, "orders"):
            return
        moves = {}
        events = OutboxEvent.objects.filter(
            restaurant_id=self.restaurant_id, name="order.item.status.changed"
        ).order_by("seq")
        for event in events:
            data = event.payload
            moves.setdefault(data["orderId"], []).append(
                (data["itemId"], data["previousStatus"], data["newStatus"])
            )
        for order_id in self.orders:
            entries = list(HistoryEntry.objects.filter(order_id=order_id).order_by("id"))
            statuses = {
                str(pk): status
                for pk, status in OrderItem.objects.filter(order_id=order_id).values_list("pk", "status")
            }
            assert {str(k): v for k, v in replay_item_statuses(entries).items()} == statuses
            history_moves = [
                (str(e.item_id), e.from_value, e.to_value) for e in entries if e.action == "item.status"
            ]
            assert history_moves == moves.get(order_id, [])
        assert not HistoryEntry.objects.filter(restaurant_id=self.stranger.restaurant_id).exists()


HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    derandomize=True,
    deadline=None,
    database=None,
    # No shrinking: it can take minutes against a database; the failing run's steps are
    # printed as they are.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def test_random_moves_by_random_roles_keep_every_invariant(db):
    run_state_machine_as_test(OrderStateMachine, settings=HYPOTHESIS)


# --- Concurrent moves (PostgreSQL) -------------------------------------------------------------


class ConcurrentOrderStateMachine(OrderStateMachine):
    """Adds steps where two screens move items of one order at once."""

    @rule(data=st.data())
    def two_screens_at_once(self, data):
        # Always enabled (a precondition on a race's outcome would make hypothesis' rule
        # choice flaky); without an active order it does nothing.
        active = [o for o in self.orders.values() if o.status in ACTIVE and o.lines]
        if not active:
            return
        order = self.pick(data, active)
        lines = list(order.lines.values())
        moves = []
        for _ in range(2):
            line = self.pick(data, lines)
            role = self.pick(data, [Role.MANAGER, Role.WAITER, Role.KITCHEN])
            legal = [t for t in I if move_refusal(role, order.status, line.status, t, line) is None]
            target = self.pick(data, legal or list(I))
            moves.append((line, role, target, line.status))

        outcomes = [None, None]
        barrier = threading.Barrier(2)

        def screen(index):
            line, role, target, seen = moves[index]
            try:
                barrier.wait(timeout=10)
                services.item_set_status(
                    actor=self.actor(role), item=OrderItem(pk=line.id, order_id=order.id),
                    status=target, expected_status=seen,
                )
                outcomes[index] = "ok"
            except DomainError as refused:
                outcomes[index] = refused
            finally:
                connection.close()

        threads = [threading.Thread(target=screen, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        self.steps += 1

        winners = [i for i in range(2) if outcomes[i] == "ok"]
        for i in range(2):
            line, role, target, seen = moves[i]
            if move_refusal(role, order.status, seen, target, line) is not None:
                assert i not in winners, (moves[i], outcomes[i])
        same_item = moves[0][0] is moves[1][0]
        if same_item:
            legal = [i for i in range(2) if move_refusal(moves[i][1], order.status, moves[i][3], moves[i][2], moves[i][0]) is None]
            if legal:
                assert len(winners) == 1, (moves, outcomes)  # exactly one screen wins
                loser = 1 - winners[0]
                if loser in legal:
                    assert isinstance(outcomes[loser], IllegalTransition), outcomes  # 409
        # The events follow the commit order: the item events say which move committed first.
        new = list(OutboxEvent.objects.filter(
            restaurant_id=self.restaurant_id, seq__gt=self.events_seen,
            name="order.item.status.changed",
        ).order_by("seq").values_list("payload", flat=True))
        committed = sorted(winners, key=lambda i: [
            (p["itemId"], p["newStatus"]) for p in new
        ].index((moves[i][0].id, moves[i][2])))
        expect = Expect(self.restaurant_id)
        for i in committed:
            line, role, target, seen = moves[i]
            self.item_moved(expect, order, line, target)
        self.check_events(expect.events)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_moves_keep_every_invariant():
    run_state_machine_as_test(
        ConcurrentOrderStateMachine,
        settings=settings(HYPOTHESIS, max_examples=20, stateful_step_count=25),
    )
