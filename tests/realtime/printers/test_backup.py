"""Backup mode against real presence (markers in Redis, written as a screen's worker writes
them, expiring SCREEN_OFFLINE_SECONDS later) and real acknowledgements: nothing prints while
a station screen is online, the unacknowledged tickets print once it is gone, an
acknowledged one never does, and unreadable presence prints."""

from __future__ import annotations

import time

import pytest

from orders import services
from realtime import screens
from realtime.models import OutboxEvent
from realtime.printers import backup
from realtime.printers.models import JobState, PrintJob, PrintMode

from ...conftest import Floor
from ...orders.test_admin import admin_client
from ...live import free_port
from .conftest import printer_for, running_printers
from .test_worker import _dish, _order

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def _backup_printer(floor, settings, port, station="grill"):
    printer = printer_for(floor, settings, port, station)
    printer.mode = PrintMode.BACKUP
    printer.save(update_fields=["mode"])
    return printer


def _grill_on_backup(settings, listeners):
    """A floor and the listener its grill's backup printer prints to."""
    floor = Floor()
    grill = listeners()
    _backup_printer(floor, settings, grill.port)
    return floor, grill


def _fire(floor, name) -> int:
    """Confirms an order of `name`: the id of its ticket event (`order.new`)."""
    order = services.order_confirm(actor=floor.waiter, order=_order(floor, (_dish(floor, name), {})))
    return OutboxEvent.objects.get(name="order.new", payload__orderId=str(order.pk)).seq


def _stay_online(screen_ids, seconds):
    """The refresher's rounds (realtime.screen_watch) for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        screens.mark_present(screen_ids)
        time.sleep(0.1)


def _wait_state(seq, state, timeout=5.0):
    deadline = time.monotonic() + timeout
    while (job := PrintJob.objects.filter(event_seq=seq).first()) is None or job.state != state:
        assert time.monotonic() < deadline, f"job of event {seq}: {job and job.state}, not {state}"
        time.sleep(0.05)
    return job


def test_nothing_prints_while_a_station_screen_is_online_and_the_unacknowledged_print_once_it_is_gone(
    printer_settings, listeners
):
    printer_settings.SCREEN_OFFLINE_SECONDS = 1
    floor, grill = _grill_on_backup(printer_settings, listeners)
    screen = screens.register(restaurant_id=floor.restaurant.pk, name="Grill 1", station="grill")
    with running_printers():
        drawn = _fire(floor, "Burger")
        missed = _fire(floor, "Steak")
        screens.acknowledge(screen_id=screen.pk, last_event_id=drawn)  # it drew the burger only
        _stay_online([screen.pk], 1.5)
        screens.mark_present([screen.pk])  # a last refresh: online for the checks below
        assert grill.jobs == []
        assert _wait_state(drawn, JobState.ON_SCREEN).note == "acknowledged by a station screen"
        assert PrintJob.objects.get(event_seq=missed).note == backup.WAITING
        health = admin_client(floor.manager).get("/admin/realtime/stationprinter/").content
        assert b"ok, 1 job(s) held while a screen of the station is online" in health
        # The screen stops refreshing (its worker died): its marker expires, the steak prints.
        printed = grill.wait_for(1, timeout=5)
        time.sleep(0.3)
    assert len(printed) == 1 and b"Steak" in printed[0] and b"Burger" not in printed[0]
    job = PrintJob.objects.get(event_seq=missed)
    assert job.state == JobState.PRINTED and job.note == "printed as backup: no screen of the station online"
    assert PrintJob.objects.get(event_seq=drawn).state == JobState.ON_SCREEN


def test_a_screen_of_another_station_or_of_all_stations_does_not_hold_the_paper(printer_settings, listeners):
    floor, grill = _grill_on_backup(printer_settings, listeners)
    others = [
        screens.register(restaurant_id=floor.restaurant.pk, name="Bar", station="bar"),
        screens.register(restaurant_id=floor.restaurant.pk, name="Pass", station=""),
    ]
    screens.mark_present([s.pk for s in others])
    _fire(floor, "Burger")
    with running_printers():
        assert b"Burger" in grill.wait_for(1)[0]


def test_a_screen_that_came_after_the_ticket_is_no_proof_it_was_drawn(printer_settings, listeners):
    floor, grill = _grill_on_backup(printer_settings, listeners)
    seq = _fire(floor, "Burger")
    screen = screens.register(restaurant_id=floor.restaurant.pk, name="Grill 1", station="grill")
    assert screen.last_acked_event_id >= seq  # a new screen starts at the head
    from django.core.cache import cache

    cache.delete(screens.presence_key(screen.pk))  # and is gone at once
    with running_printers():
        assert b"Burger" in grill.wait_for(1)[0]


def test_with_presence_unreadable_the_ticket_prints_and_the_job_says_why(printer_settings, listeners):
    floor, grill = _grill_on_backup(printer_settings, listeners)
    screen = screens.register(restaurant_id=floor.restaurant.pk, name="Grill 1", station="grill")
    seq = _fire(floor, "Burger")
    assert screens.online_ids([screen.pk]) == {screen.pk}
    # The presence cache stops answering (nothing listens where it is).
    printer_settings.CACHES = {"default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }}
    with running_printers():
        assert b"Burger" in grill.wait_for(1)[0]
    job = PrintJob.objects.get(event_seq=seq)
    assert job.state == JobState.PRINTED and job.note == backup.PRESENCE_UNREADABLE


def test_an_acknowledged_ticket_stays_off_paper_until_a_manager_reprints_it(printer_settings, listeners):
    from django.core.cache import cache

    floor, grill = _grill_on_backup(printer_settings, listeners)
    screen = screens.register(restaurant_id=floor.restaurant.pk, name="Grill 1", station="grill")
    seq = _fire(floor, "Burger")
    screens.acknowledge(screen_id=screen.pk, last_event_id=seq)
    cache.delete(screens.presence_key(screen.pk))  # the screen is gone: the ticket still does not print
    with running_printers():
        job = _wait_state(seq, JobState.ON_SCREEN)
        time.sleep(0.5)
        assert grill.jobs == []
        manager = admin_client(floor.manager)
        assert b"acknowledged by a station screen" in manager.get("/admin/realtime/printjob/").content
        manager.post("/admin/realtime/printjob/", {"action": "reprint", "_selected_action": [job.pk]})
        assert grill.wait_for(1)[0] == bytes(job.data)
    assert _wait_state(seq, JobState.PRINTED).note == "printed as backup: no screen of the station online"
