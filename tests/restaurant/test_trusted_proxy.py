"""Who the client is, behind a proxy: the ASGI/WSGI server resolves the client's address
from X-Forwarded-For only for the proxies it trusts (uvicorn's and gunicorn's
--forwarded-allow-ips, README "Deployment"); the app takes that address (REMOTE_ADDR) and
never a header the client wrote itself (REST_FRAMEWORK NUM_PROXIES = 0)."""

from django.test import Client

from orders.api.views import LoginIPThrottle


def test_a_forged_x_forwarded_for_does_not_escape_the_login_throttle(db):
    limit = int(LoginIPThrottle().get_rate().split("/")[0])
    client = Client(REMOTE_ADDR="203.0.113.7")
    statuses = [
        client.post(
            "/api/v1/auth/login", {"email": f"nobody{n}@example.com", "password": "x"},
            content_type="application/json", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        ).status_code
        for n in range(limit + 1)
    ]
    assert statuses[:limit] == [401] * limit
    assert statuses[limit] == 429


def test_behind_one_proxy_the_client_is_the_address_the_proxy_appended(db, settings):
    """NUM_PROXIES=1 (gunicorn `api` behind one proxy, compose.yaml): a client's own
    X-Forwarded-For entries come first and do not count; the proxy's last entry does."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}  # DRF reloads
    limit = int(LoginIPThrottle().get_rate().split("/")[0])
    client = Client(REMOTE_ADDR="10.0.0.2")  # the proxy
    statuses = [
        client.post(
            "/api/v1/auth/login", {"email": f"nobody{n}@example.com", "password": "x"},
            content_type="application/json",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 203.0.113.{n % 2}",
        ).status_code
        for n in range(2 * limit + 1)
    ]
    # Two real clients (203.0.113.0 and .1), each with its own budget.
    assert statuses[: 2 * limit] == [401] * (2 * limit)
    assert statuses[2 * limit] == 429
