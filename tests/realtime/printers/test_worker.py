"""A TCP listener on loopback as the printer: fired tickets, held courses, add-ons and voids
arrive as well-formed ESC/POS jobs; a printer that is down is retried and blocks nothing."""

from __future__ import annotations

import time

import pytest

from orders import services
from orders.models import ItemStatus, MenuItem
from realtime.printers.models import JobKind, JobState, PrintJob

from ...conftest import Floor
from .conftest import printer_for, running_printers

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

INIT = b"\x1b@"
CUT = b"\x1dV\x00"


def _dish(floor, name, station="grill", course=1):
    return MenuItem.objects.create(restaurant=floor.restaurant, name=name, price="9.00", station=station, course=course)


def _order(floor, *lines):
    order = services.order_create(actor=floor.waiter, table_session=floor.session)
    for menu_item, extra in lines:
        services.order_item_add(actor=floor.waiter, order=order, menu_item=menu_item, qty=extra.pop("qty", 1), **extra)
    return order


def test_a_fired_ticket_prints_number_table_waiter_course_items_modifiers_and_allergies(
    printer_settings, listeners
):
    floor = Floor()
    floor.waiter.name = "Ana"
    floor.waiter.save()
    grill, bar = listeners(), listeners()
    printer_for(floor, printer_settings, grill.port, "grill")
    printer_for(floor, printer_settings, bar.port, "bar")
    order = _order(
        floor,
        (_dish(floor, "Burger"), {"qty": 2, "modifiers": [{"name": "no onion"}], "allergies": ["gluten", "milk"]}),
        (_dish(floor, "Steak"), {"notes": "rare"}),
        (_dish(floor, "Mojito", station="bar"), {}),
    )
    order = services.order_confirm(actor=floor.waiter, order=order)
    with running_printers():
        job = grill.wait_for(1)[0]
        bar_job = bar.wait_for(1)[0]
        time.sleep(0.3)
    assert len(grill.jobs) == 1
    assert job.startswith(INIT) and job.endswith(CUT)
    for text in (f"TICKET #{order.number}", floor.table.name, "Ana", "Course 1", "2 x Burger",
                 "+ no onion", "1 x Steak", "note: rare"):
        assert text.encode() in job, text
    allergy = job.index(b" ALLERGY: GLUTEN, MILK ")
    assert b"\x1bE\x01" in job[allergy - 40:allergy] and b"\x1dB\x01" in job[allergy - 40:allergy]  # bold, inverted
    assert b"Mojito" not in job and b"Mojito" in bar_job and b"Burger" not in bar_job
    assert PrintJob.objects.filter(state=JobState.PRINTED).count() == 2


def test_held_courses_print_when_fired_add_ons_and_voids_as_change_slips(printer_settings, listeners):
    floor = Floor()
    grill = listeners()
    printer_for(floor, printer_settings, grill.port)
    order = _order(floor, (_dish(floor, "Soup"), {}), (_dish(floor, "Lamb", course=2), {}))
    order = services.order_confirm(actor=floor.waiter, order=order)
    with running_printers():
        first = grill.wait_for(1)[0]
        assert b"Soup" in first and b"Lamb" not in first
        services.order_fire_course(actor=floor.waiter, order=order, course=2)
        second = grill.wait_for(2)[1]
        assert b"Course 2" in second and b"Lamb" in second and b"Soup" not in second
        extra = services.order_item_add(actor=floor.waiter, order=order, menu_item=_dish(floor, "Fries"), qty=1)
        add_on = grill.wait_for(3)[2]
        assert add_on.startswith(INIT) and add_on.endswith(CUT)
        assert f"ADD-ON #{order.number}".encode() in add_on and b"Fries" in add_on
        services.item_set_status(actor=floor.waiter, item=extra, status=ItemStatus.CANCELLED, reason="guest left")
        void = grill.wait_for(4)[3]
        assert f"VOID #{order.number}".encode() in void and b"VOID 1 x Fries" in void and b"reason: guest left" in void
    kinds = list(PrintJob.objects.order_by("event_seq").values_list("kind", flat=True))
    assert kinds == [JobKind.TICKET, JobKind.TICKET, JobKind.ADD_ON, JobKind.VOID]


def test_a_printer_that_is_down_is_retried_and_blocks_no_other(printer_settings, listeners):
    floor = Floor()
    from ...live import free_port

    down_port = free_port()
    down = printer_for(floor, printer_settings, down_port, "grill", name="grill printer")
    bar = listeners()
    printer_for(floor, printer_settings, bar.port, "bar")
    order = _order(floor, (_dish(floor, "Burger"), {}), (_dish(floor, "Mojito", station="bar"), {}))
    services.order_confirm(actor=floor.waiter, order=order)
    with running_printers():
        bar.wait_for(1, timeout=5)
        deadline = time.monotonic() + 10
        # The bar's job may be taken before the grill's is even queued: wait for both.
        while (PrintJob.objects.filter(printer=down).values_list("attempt_count", flat=True).first() or 0) < 2:
            assert time.monotonic() < deadline, "the job was not retried"
            time.sleep(0.05)
        job = PrintJob.objects.get(printer=down)
        assert job.state == JobState.PENDING and "ConnectionRefusedError" in job.last_error
        grill = listeners(down_port)  # the printer comes back
        printed = grill.wait_for(1)[0]
    assert b"Burger" in printed
    assert PrintJob.objects.get(printer=down).state == JobState.PRINTED


def test_a_job_that_cannot_print_is_given_up_on_and_the_next_goes_on(printer_settings, listeners):
    from datetime import timedelta

    from ...live import free_port

    printer_settings.PRINTER_GIVE_UP = timedelta(seconds=0.3)
    floor = Floor()
    down = printer_for(floor, printer_settings, free_port())
    for name in ("Soup", "Salad"):
        services.order_confirm(actor=floor.waiter, order=_order(floor, (_dish(floor, name), {})))
    with running_printers():
        deadline = time.monotonic() + 10
        while PrintJob.objects.filter(printer=down, state=JobState.FAILED).count() < 2:
            assert time.monotonic() < deadline, "the jobs were not given up on"
            time.sleep(0.05)
    first, second = PrintJob.objects.filter(printer=down).order_by("event_seq")
    assert first.attempt_count >= 2 and first.last_attempt_at <= second.first_attempt_at


def test_the_procfile_printers_process_prints_and_exits_with_once(printer_settings, listeners):
    import subprocess
    import sys

    from ...live import procfile_command, server_env

    floor = Floor()
    grill = listeners()
    printer_for(floor, printer_settings, grill.port)
    services.order_confirm(actor=floor.waiter, order=_order(floor, (_dish(floor, "Burger"), {})))
    command = procfile_command("printers")
    assert command[:3] == ["python", "manage.py", "print_tickets"], command
    env = server_env(PRINTER_ALLOW_LOOPBACK=1, PRINTER_PORTS=str(grill.port))
    done = subprocess.run([sys.executable, *command[1:], "--once"], env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert b"Burger" in grill.wait_for(1)[0]
