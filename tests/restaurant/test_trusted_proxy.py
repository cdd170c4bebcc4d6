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
