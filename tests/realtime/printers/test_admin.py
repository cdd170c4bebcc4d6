"""Station printers in the admin: a manager sees and reprints only their restaurant's."""

from __future__ import annotations

import pytest

from realtime.printers.models import JobState, PrintJob, StationPrinter

from ...orders.test_admin import admin_client

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db]

PRINTERS = "/admin/realtime/stationprinter/"
JOBS = "/admin/realtime/printjob/"


@pytest.fixture
def two_restaurants(floor, other_floor):
    for f, host in ((floor, "192.168.1.50"), (other_floor, "192.168.9.9")):
        f.printer = StationPrinter.objects.create(
            restaurant=f.restaurant, name=f"Grill {f.restaurant.name}", station="grill", host=host
        )
        f.job = PrintJob.objects.create(
            printer=f.printer, event_seq=1, kind="ticket", summary=f"TICKET #1 {f.restaurant.name}",
            data=b"\x1b@x\x1dV\x00", state=JobState.PRINTED,
        )
    return floor, other_floor


def test_a_manager_adds_a_printer_for_a_station(floor):
    response = admin_client(floor.manager).post(
        f"{PRINTERS}add/",
        {"name": "Grill", "station": "grill", "host": "192.168.1.50", "port": 9100, "mode": "always", "is_active": "on"},
    )
    assert response.status_code == 302, response.content
    printer = StationPrinter.objects.get()
    assert printer.restaurant == floor.restaurant and printer.cursor == 0


def test_a_manager_sees_and_reprints_only_their_restaurants(two_restaurants):
    a, b = two_restaurants
    client = admin_client(a.manager)
    assert {p.pk for p in client.get(PRINTERS).context["cl"].result_list} == {a.printer.pk}
    jobs = client.get(JOBS)
    assert {j.pk for j in jobs.context["cl"].result_list} == {a.job.pk}
    assert b.restaurant.name.encode() not in jobs.content
    assert client.get(f"{JOBS}{b.job.pk}/change/").status_code == 302
    client.post(JOBS, {"action": "reprint", "_selected_action": [a.job.pk, b.job.pk]})
    a.job.refresh_from_db()
    b.job.refresh_from_db()
    assert (a.job.state, b.job.state) == (JobState.PENDING, JobState.PRINTED)


def test_a_printer_that_is_down_shows_it(two_restaurants):
    from django.utils import timezone

    a, _ = two_restaurants
    StationPrinter.objects.filter(pk=a.printer.pk).update(
        retry_at=timezone.now(), last_error="ConnectionRefusedError: [Errno 111] Connection refused"
    )
    PrintJob.objects.filter(pk=a.job.pk).update(state=JobState.PENDING)
    page = admin_client(a.manager).get(PRINTERS)
    assert b"DOWN, 1 job(s) waiting: ConnectionRefusedError" in page.content
