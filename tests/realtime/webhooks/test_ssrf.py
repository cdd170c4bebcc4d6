"""Where deliveries may go: every refused address class, names that resolve to them, the
connection pinned to the checked address, and redirects never followed."""

from __future__ import annotations

import time

import pytest

from realtime.webhooks.models import WebhookAttempt
from realtime.webhooks.ssrf import Refused, address_refusal, pinned_target

from ...conftest import Floor
from .conftest import confirm_orders, running_worker, subscribe

REFUSED = {
    "http://127.0.0.1/": "loopback",
    "http://127.8.9.10:8080/": "loopback",
    "http://[::1]/": "loopback",
    "http://[::ffff:127.0.0.1]/": "loopback",
    "http://0.0.0.0/": "unspecified",
    "http://10.1.2.3/": "private",
    "http://172.16.0.1/": "private",
    "http://192.168.1.1/": "private",
    "http://[fc00::1]/": "private",
    "http://169.254.169.254/latest/meta-data/": "metadata",
    "http://[fd00:ec2::254]/": "metadata",
    "http://100.100.100.200/": "metadata",
    "http://169.254.10.20/": "link-local",
    "http://[fe80::1]/": "link-local",
    "http://224.0.0.1/": "multicast",
    "http://[ff02::1]/": "multicast",
    "http://240.0.0.1/": "reserved",
    "http://100.64.0.1/": "not globally routable",
    "http://198.18.0.1/": "private",
}


@pytest.mark.parametrize("url", REFUSED)
def test_each_refused_address_class(url):
    with pytest.raises(Refused, match=REFUSED[url]):
        pinned_target(url, allow_private=False, require_https=False)


def test_a_name_that_resolves_to_loopback_is_refused():
    with pytest.raises(Refused, match="localhost resolves to 127.0.0.1 is a loopback address"):
        pinned_target("http://localhost:9/hook", allow_private=False, require_https=False)


def test_a_name_with_one_public_and_one_private_address_is_refused():
    def resolver(host, port):
        return ["93.184.215.14", "10.0.0.5"]

    with pytest.raises(Refused, match="10.0.0.5 is a private address"):
        pinned_target("https://hooks.example.com/", allow_private=False, require_https=True, resolver=resolver)


def test_a_public_address_is_connected_to_as_checked_with_the_name_kept_for_tls_and_host():
    target = pinned_target(
        "https://hooks.example.com:8443/in?x=1", allow_private=False, require_https=True,
        resolver=lambda host, port: ["93.184.215.14"],
    )
    assert str(target.url) == "https://93.184.215.14:8443/in?x=1"
    assert target.headers == {"Host": "hooks.example.com:8443"}
    assert target.extensions == {"sni_hostname": "hooks.example.com"}
    assert address_refusal("2606:2800:21f:cb07:6820:80da:af6b:8b2c") is None


def test_https_is_required_unless_allowed_and_other_schemes_never():
    with pytest.raises(Refused, match="HTTPS is required"):
        pinned_target("http://hooks.example.com/", allow_private=False, require_https=True,
                      resolver=lambda host, port: ["93.184.215.14"])
    with pytest.raises(Refused, match="only http and https"):
        pinned_target("ftp://hooks.example.com/", allow_private=True, require_https=False)


def test_allow_private_lets_loopback_through():
    target = pinned_target("http://localhost:9/hook", allow_private=True, require_https=False)
    assert target.address in {"127.0.0.1", "::1"}


# --- Through the worker: nothing reaches a refused address ------------------------------------

webhooks_db = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def through_the_worker(test):
    for mark in reversed(webhooks_db):
        test = mark(test)
    return test


def _attempts_until(endpoint, outcome, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        attempts = list(WebhookAttempt.objects.filter(delivery__endpoint=endpoint, outcome=outcome))
        if attempts:
            return attempts
        time.sleep(0.05)
    raise AssertionError(f"no {outcome} attempt")


@through_the_worker
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_the_worker_refuses_loopback_without_allow_private(webhook_settings, receivers, host):
    webhook_settings.WEBHOOK_ALLOW_PRIVATE = False
    floor = Floor()
    receiver = receivers()
    endpoint = subscribe(floor, f"http://{host}:{receiver.port}/hooks", receiver=receiver)
    confirm_orders(floor, 1)
    with running_worker():
        attempt = _attempts_until(endpoint, WebhookAttempt.Outcome.REFUSED)[0]
        time.sleep(0.2)
    assert "loopback" in attempt.error and attempt.status_code is None
    assert receiver.requests == []


@through_the_worker
def test_the_connection_goes_to_the_address_checked(webhook_settings, receivers):
    """A name only the injected resolver knows: had anything looked it up again, the
    request would have failed; it arrived, under its name."""
    floor = Floor()
    receiver = receivers()
    subscribe(floor, f"http://hooks.rebind.test:{receiver.port}/hooks", receiver=receiver)
    confirm_orders(floor, 1)
    with running_worker(resolver=lambda host, port: ["127.0.0.1"]):
        received = receiver.wait_for(2)
    assert received[0].headers["host"] == f"hooks.rebind.test:{receiver.port}"


@through_the_worker
@pytest.mark.parametrize("location", ["http://169.254.169.254/latest/meta-data/", "second receiver"])
def test_redirects_are_not_followed(webhook_settings, receivers, location):
    floor = Floor()
    elsewhere = receivers()
    if location == "second receiver":
        location = elsewhere.url
    receiver = receivers(answer=lambda received, nth: 302)
    receiver.extra_headers = {"Location": location}
    endpoint = subscribe(floor, receiver.url, receiver=receiver)
    confirm_orders(floor, 1)
    with running_worker():
        attempt = _attempts_until(endpoint, WebhookAttempt.Outcome.REDIRECT)[0]
        time.sleep(0.3)
    assert attempt.status_code == 302
    assert attempt.error.startswith(f"redirect to {location} not followed")
    assert elsewhere.requests == []
    assert {r.event_id for r in receiver.requests} == {receiver.requests[0].event_id}  # retried, not passed on


def test_a_redirect_to_the_metadata_address_is_reported_as_refused(settings):
    """Without WEBHOOK_ALLOW_PRIVATE the log names a redirect's target as refused. (A
    receiver on loopback needs the setting, so the check runs on the answer alone.)"""
    from realtime.webhooks import delivery

    settings.WEBHOOK_ALLOW_PRIVATE = False

    class Moved:
        headers = {"location": "https://169.254.169.254/latest/meta-data/iam/"}

    error = delivery._redirect_error("https://hooks.example.com/in", Moved(), None)
    assert error == (
        "redirect to https://169.254.169.254/latest/meta-data/iam/ not followed; "
        "it would be refused: 169.254.169.254 is a cloud metadata address"
    )
