"""Socket.IO connection state recovery with the real socket.io-client (4.8, npm), against
live web workers: tests/socketio_client/recovery.js drops the Engine.IO connection under a
socket, the test commits events over REST meanwhile, and the socket reconnects.

docs/contract.md, "Socket.IO: connection state recovery": a pid in the CONNECT answer, the event
id as every event's offset, every missed event once and in order with `recovered === true`,
from whichever worker the client reaches, while the outbox keeps the events; a fresh session
past that. And better than socket.io's own on its known failures: recovery several times in
a row (socket.io#4880), a client that had received no event yet (#5538).
"""

from __future__ import annotations

import time

import pytest

from realtime.models import OutboxEvent

from ..conftest import Floor
from ..live import WebServer
from .test_socketio import Probe, curl_flow, expected_events, node_client, tokens  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True)]

TRANSPORTS = [["websocket"], ["polling"]]


@pytest.fixture(scope="module")
def worker(django_db_setup, node_client):  # noqa: F811 - the imported fixture
    server = WebServer("socketio-recovery")
    yield server
    server.stop()


@pytest.fixture
def driver():
    probe = Probe([], script="recovery.js")
    probe.wait(lambda r: r["kind"] == "started", what="recovery.js")
    yield probe
    probe.close()


class Floors:
    def __init__(self):
        self.demo, self.other = Floor("Demo"), Floor("Other")


def _connects(driver, name, count):
    driver.wait(lambda r: len(driver.of(name, "connect")) >= count, what=f"{name} connect #{count}")
    return driver.of(name, "connect")[count - 1]


def _open(driver, name, server, user, transports=("websocket",), **state):
    driver.send(cmd="open", name=name, url=server.base, token=tokens(user).access_token,
                transports=list(transports), **state)
    return _connects(driver, name, 1)


def _drop(driver, name, count=1):
    driver.send(cmd="drop", name=name)
    driver.wait(lambda r: len(driver.of(name, "disconnect")) >= count, what=f"{name} disconnect")
    # engine.close(), as socket.io's docs simulate a lost connection: not a server disconnect
    assert driver.of(name, "disconnect")[-1]["reason"] in ("forced close", "transport close")


def _flow(server, floor):
    waiter, kitchen = tokens(floor.waiter).access_token, tokens(floor.kitchen).access_token
    return expected_events(curl_flow(server, waiter, kitchen, str(floor.session.pk)))


def _events(driver, name, count, timeout=10.0):
    events = driver.events(name, count, timeout)
    time.sleep(0.3)  # nothing more (no duplicate) arrives
    records = driver.of(name, "event")
    assert len(records) == count, [(r["event"], r["offset"]) for r in records]
    return events, [r["offset"] for r in records]


def _ids(floor):
    return [str(seq) for seq in OutboxEvent.objects.filter(restaurant=floor.restaurant)
            .order_by("seq").values_list("seq", flat=True)]


@pytest.mark.parametrize("transports", TRANSPORTS, ids=lambda t: t[0])
def test_missed_events_arrive_once_in_order_on_recovery_twice_in_a_row(worker, driver, transports):
    floor = Floor("A")
    first = _open(driver, "k", worker, floor.kitchen, transports)
    assert first["recovered"] is False and first["pid"]
    ready = driver.first("k", "ready")
    assert ready["data"] == {"restaurantId": str(floor.restaurant.pk), "lastEventId": "0", "recovered": False}
    assert ready["offset"] == "0"  # an offset before any event (socket.io#5538)

    expected = _flow(worker, floor)  # live
    driver.events("k", 4)
    for round_ in (1, 2):  # socket.io#4880: recovery more than once in a row
        _drop(driver, "k", round_)
        expected += _flow(worker, floor) + _flow(worker, floor)  # while away
        driver.send(cmd="reconnect", name="k")
        again = _connects(driver, "k", round_ + 1)
        assert again["recovered"] is True and again["pid"] == first["pid"]
        events, offsets = _events(driver, "k", len(expected))
        assert events == expected and offsets == _ids(floor)  # every one, once, in order
    expected += _flow(worker, floor)  # and live ones after
    events, offsets = _events(driver, "k", len(expected))
    assert events == expected and offsets == _ids(floor)


def test_a_client_that_saw_no_event_yet_recovers(worker, driver):
    floor = Floor("A")
    _open(driver, "k", worker, floor.kitchen)
    driver.first("k", "ready")
    _drop(driver, "k")
    expected = _flow(worker, floor)
    driver.send(cmd="reconnect", name="k")
    assert _connects(driver, "k", 2)["recovered"] is True
    assert _events(driver, "k", 4) == (expected, _ids(floor))


def test_bogus_pid_or_offset_gets_a_fresh_session_that_still_gets_live_events(worker, driver):
    floor = Floor("A")
    expected = _flow(worker, floor)
    for name, state in [("bogus", {"pid": "not-a-pid", "offset": "0"}),
                        ("future", {"offset": "999999"}), ("garbage", {"offset": "-1; drop"})]:
        if "pid" not in state:  # a real pid of this restaurant, with an offset it never had
            _open(driver, f"{name}-seed", worker, floor.kitchen)
            state["pid"] = driver.of(f"{name}-seed", "connect")[0]["pid"]
        connected = _open(driver, name, worker, floor.kitchen, **state)
        assert connected["recovered"] is False and connected["pid"] != state["pid"], (name, connected)
    live = _flow(worker, floor)
    for name in ("bogus", "future", "garbage"):
        assert _events(driver, name, 4) == (live, _ids(floor)[4:])  # none of the old, the new once
    assert expected != live


def test_another_restaurant_never_recovers_into_demos_events(worker, driver):
    floors = Floors()
    demo = _open(driver, "demo", worker, floors.demo.kitchen)
    offset = driver.first("demo", "ready")["offset"]
    _drop(driver, "demo")
    _flow(worker, floors.demo)  # Demo's events, missed by the Demo client

    # A client of another restaurant presents Demo's pid and offset.
    other = _open(driver, "other", worker, floors.other.kitchen, pid=demo["pid"], offset=offset)
    assert other["recovered"] is False and other["pid"] != demo["pid"]
    assert driver.first("other", "ready")["data"]["restaurantId"] == str(floors.other.restaurant.pk)
    own = _flow(worker, floors.other)
    assert _events(driver, "other", 4)[0] == own  # its own events only, none of Demo's

    # Demo's own client still recovers Demo's.
    driver.send(cmd="reconnect", name="demo")
    assert _connects(driver, "demo", 2)["recovered"] is True
    assert [e for e, _ in _events(driver, "demo", 4)[0]] == [e for e, _ in own]


def test_past_the_outbox_a_fresh_session(worker, driver):
    floor = Floor("A")
    _open(driver, "k", worker, floor.kitchen)
    driver.first("k", "ready")
    _drop(driver, "k")
    _flow(worker, floor)
    OutboxEvent.objects.filter(restaurant=floor.restaurant, seq=1).delete()  # pruned
    driver.send(cmd="reconnect", name="k")
    assert _connects(driver, "k", 2)["recovered"] is False
    assert driver.of("k", "event") == []  # a fresh session replays nothing; it reloads over REST
    live = _flow(worker, floor)
    assert _events(driver, "k", 4)[0] == live


@pytest.mark.redis
def test_recovery_on_the_other_of_two_workers(node_client, driver):  # noqa: F811
    floor = Floor("A")
    worker_a, worker_b = WebServer("socketio-recovery-a"), WebServer("socketio-recovery-b")
    try:
        first = _open(driver, "k", worker_a, floor.kitchen)
        expected = _flow(worker_a, floor)
        driver.events("k", 4)
        _drop(driver, "k")
        expected += _flow(worker_a, floor) + _flow(worker_b, floor)
        driver.send(cmd="reconnect", name="k", url=worker_b.base)  # no sticky sessions
        again = _connects(driver, "k", 2)
        assert again["recovered"] is True and again["pid"] == first["pid"]
        expected += _flow(worker_a, floor)  # live, caused on the other worker
        assert _events(driver, "k", 16) == (expected, _ids(floor))
    finally:
        worker_a.stop()
        worker_b.stop()
