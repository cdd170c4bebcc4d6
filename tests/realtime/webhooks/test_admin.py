"""Webhooks in the admin: a secret shown once, URL checks, replay of one delivery and from an
event id, the failing mark, and tenancy (a manager sees only their restaurant's)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from orders.models import Role
from realtime.models import OutboxEvent
from realtime.webhooks.models import DeliveryState, WebhookDelivery, WebhookEndpoint

from ...conftest import Floor
from ...orders.test_admin import admin_client
from .conftest import confirm_orders, running_worker, subscribe

ENDPOINTS = "/admin/realtime/webhookendpoint/"
DELIVERIES = "/admin/realtime/webhookdelivery/"

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def messages_of(response) -> list[str]:
    return [str(m.message) for m in response.context["messages"]]


def endpoint_form(**fields) -> dict:
    return {"url": "https://hooks.example.com/in", "description": "Loyalty", "events": ["order.new"],
            "is_active": "on", **fields}


@pytest.mark.django_db
def test_a_manager_adds_an_endpoint_and_sees_its_secret_only_once(floor):
    confirm_orders(floor, 1)
    client = admin_client(floor.manager)
    response = client.post(f"{ENDPOINTS}add/", endpoint_form(), follow=True)
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.restaurant == floor.restaurant and endpoint.events == ["order.new"]
    assert endpoint.cursor == 2  # events from now on
    assert endpoint.secret.startswith("whsec_")
    assert any(endpoint.secret in message for message in messages_of(response))
    page = client.get(f"{ENDPOINTS}{endpoint.pk}/change/")
    assert page.status_code == 200
    assert endpoint.secret.encode() not in page.content
    assert endpoint.secret[:10].encode() in page.content


@pytest.mark.django_db
def test_a_new_secret_is_shown_once_and_used_from_then_on(floor):
    endpoint = subscribe(floor, "https://hooks.example.com/in")
    old = endpoint.secret
    response = admin_client(floor.manager).post(
        ENDPOINTS, {"action": "new_secret", "_selected_action": [endpoint.pk]}, follow=True
    )
    endpoint.refresh_from_db()
    assert endpoint.secret != old
    assert any(endpoint.secret in message for message in messages_of(response))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://hooks.example.com/in", "HTTPS is required"),
        ("https://10.0.0.7/in", "10.0.0.7 is a private address"),
        ("https://169.254.169.254/", "cloud metadata address"),
    ],
)
def test_the_form_refuses_plain_http_and_literal_private_addresses(floor, settings, url, error):
    settings.WEBHOOK_REQUIRE_HTTPS = True
    response = admin_client(floor.manager).post(f"{ENDPOINTS}add/", endpoint_form(url=url))
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_saving_an_endpoint_leaves_the_workers_state_alone(floor):
    """The object a form edits was read before the worker last wrote (its lease renewed,
    its cursor moved): saving it writes the manager's fields only."""
    from realtime.webhooks import services as webhook_services

    stale = WebhookEndpoint.objects.get(pk=subscribe(floor, "https://hooks.example.com/in").pk)
    retry_at = timezone.now() + timedelta(seconds=30)
    WebhookEndpoint.objects.filter(pk=stale.pk).update(
        cursor=7, retry_at=retry_at, lease_owner="worker-1", lease_until=retry_at
    )
    stale.description = "Renamed"
    webhook_services.endpoint_save(actor=floor.manager, endpoint=stale, was_active=True)
    endpoint = WebhookEndpoint.objects.get(pk=stale.pk)
    assert endpoint.description == "Renamed"
    assert (endpoint.cursor, endpoint.retry_at, endpoint.lease_owner) == (7, retry_at, "worker-1")


# --- Tenancy ----------------------------------------------------------------------------------


@pytest.fixture
def two_restaurants(floor, other_floor):
    for f, name in ((floor, "Alpha loyalty"), (other_floor, "Beta accounting")):
        f.endpoint = subscribe(f, f"https://{name.split()[0].lower()}.example.com/")
        f.endpoint.description = name
        f.endpoint.save()
        f.delivery = WebhookDelivery.objects.create(
            endpoint=f.endpoint, event_seq=1, event_type="order.new", body="{}"
        )
    return floor, other_floor


@pytest.mark.django_db
def test_a_manager_sees_only_their_restaurants_endpoints_and_deliveries(two_restaurants):
    a, b = two_restaurants
    client = admin_client(a.manager)
    endpoints = client.get(ENDPOINTS)
    assert {e.pk for e in endpoints.context["cl"].result_list} == {a.endpoint.pk}
    deliveries = client.get(DELIVERIES)
    assert {d.pk for d in deliveries.context["cl"].result_list} == {a.delivery.pk}
    assert b"Beta accounting" not in endpoints.content + deliveries.content  # nor in the filters
    assert {d.pk for d in client.get(f"{DELIVERIES}?endpoint={b.endpoint.pk}").context["cl"].result_list} == set()
    for url in (f"{ENDPOINTS}{b.endpoint.pk}/change/", f"{DELIVERIES}{b.delivery.pk}/change/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == "/admin/", url


@pytest.mark.django_db
def test_a_manager_cannot_replay_or_resume_another_restaurants(two_restaurants):
    a, b = two_restaurants
    b.delivery.state = DeliveryState.DELIVERED
    b.delivery.save()
    client = admin_client(a.manager)
    client.post(DELIVERIES, {"action": "replay", "_selected_action": [b.delivery.pk]})
    client.post(ENDPOINTS, {"action": "new_secret", "_selected_action": [b.endpoint.pk]})
    b.delivery.refresh_from_db()
    assert b.delivery.state == DeliveryState.DELIVERED
    assert WebhookEndpoint.objects.get(pk=b.endpoint.pk).secret == b.endpoint.secret


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.WAITER, Role.KITCHEN])
def test_floor_staff_cannot_open_webhooks(two_restaurants, role):
    a, _ = two_restaurants
    for url in (ENDPOINTS, DELIVERIES):
        assert admin_client(a.user(role)).get(url).status_code == 302


@pytest.mark.django_db
def test_a_delivery_shows_its_attempts_read_only(two_restaurants):
    from realtime.webhooks.models import WebhookAttempt

    a, _ = two_restaurants
    WebhookAttempt.objects.create(
        delivery=a.delivery, number=1, started_at=timezone.now(), outcome="http_error",
        status_code=500, latency_ms=42, response_excerpt="Internal trouble", error="answered 500",
    )
    page = admin_client(a.manager).get(f"{DELIVERIES}{a.delivery.pk}/change/")
    assert page.status_code == 200
    assert b"Internal trouble" in page.content and b"answered 500" in page.content
    assert b'name="_save"' not in page.content


# --- Failing endpoints are shown --------------------------------------------------------------


@pytest.mark.django_db
def test_a_failing_endpoint_is_flagged_on_the_lists_and_at_login(floor, settings):
    endpoint = subscribe(floor, "https://hooks.example.com/in")
    endpoint.failing_since = timezone.now() - timedelta(minutes=5)
    endpoint.save()
    client = admin_client(floor.manager)
    response = client.get(ENDPOINTS)
    assert b"FAILING since" in response.content
    assert any("is failing since" in message for message in messages_of(response))

    from django.conf import global_settings

    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS[:1]
    floor.manager.set_password("Zebra-Quantum-Lantern-91")
    floor.manager.save()
    login = Client().post(
        "/admin/login/?next=/admin/",
        {"username": floor.manager.email, "password": "Zebra-Quantum-Lantern-91"}, follow=True,
    )
    assert any("is failing since" in message for message in messages_of(login))


# --- Replay, through a real receiver --------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_replay_one_delivery_and_everything_from_an_event_id(webhook_settings, receivers):
    floor = Floor()
    confirm_orders(floor, 1)  # events 1, 2: before the endpoint existed
    receiver = receivers()
    endpoint = subscribe(floor, receiver.url, receiver=receiver)
    confirm_orders(floor, 2)  # events 3..6
    client = admin_client(floor.manager)
    with running_worker():
        receiver.wait_for(4)
        delivery = WebhookDelivery.objects.get(endpoint=endpoint, event_seq=4)
        response = client.post(
            DELIVERIES, {"action": "replay", "_selected_action": [delivery.pk]}, follow=True
        )
        assert "1 delivery(ies) queued again." in messages_of(response)
        receiver.wait_for(5)

        response = client.post(
            f"{ENDPOINTS}{endpoint.pk}/change/",
            endpoint_form(url=receiver.url, events=list(endpoint.events), replay_from=2),
            follow=True,
        )
        assert "5 delivery(ies) from event 2 queued again." in messages_of(response)
        accepted = receiver.wait_for(10)
        time.sleep(0.3)
    assert [r.event_id for r in accepted] == [3, 4, 5, 6, 4, 2, 3, 4, 5, 6]
    replayed = [r for r in accepted if r.event_id == 4]
    assert {r.headers["webhook-id"] for r in replayed} == {f"{floor.restaurant.pk}:4"}
    assert len({r.body for r in replayed}) == 1  # the same bytes, signed anew
    assert WebhookDelivery.objects.get(endpoint=endpoint, event_seq=2).attempt_count == 1
    assert OutboxEvent.objects.filter(restaurant=floor.restaurant).count() == 6
