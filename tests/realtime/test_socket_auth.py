"""Who may open /ws/events/, and what a refused socket gets: nothing."""

import time

import jwt
import pytest
from django.conf import settings as django_settings
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from orders import services
from orders.models import User

from ..conftest import Floor
from .conftest import bearer, db, open_socket, ready_socket
from .test_events import _draft_with_items

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def _claims(user, **overrides):
    claims = {
        "token_type": "access", "exp": int(time.time()) + 600, "iat": int(time.time()),
        "jti": "abc", "userId": str(user.pk), "role": user.role,
        "restaurantId": str(user.restaurant_id),
    }
    claims.update(overrides)
    return claims


def _forge(user, key=None, algorithm="HS256", **overrides):
    return jwt.encode(_claims(user, **overrides), key or django_settings.SIMPLE_JWT["SIGNING_KEY"], algorithm=algorithm)


def _alg_none(user):
    import base64
    import json

    def b64(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(_claims(user))}."


def _expired(user):
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-__import__("datetime").timedelta(seconds=5))
    return str(token)


async def _assert_refused(socket, reason):
    message = await socket.receive()
    assert message == {"type": "__closed__", "code": 4401, "reason": reason}


async def _assert_sees_no_events_after(floor, socket):
    order = await db(_draft_with_items)(floor, 1)
    await db(lambda: services.order_confirm(actor=floor.waiter, order=order))()
    assert await socket.nothing(0.5)


async def test_bearer_header_accepted():
    floor = await db(Floor)()
    socket, ready = await ready_socket(floor.kitchen)
    assert ready == {"type": "ready", "restaurantId": str(floor.restaurant.pk), "lastEventId": "0"}
    await socket.close()


async def test_first_message_auth_accepted():
    floor = await db(Floor)()
    token = await db(lambda: str(RefreshToken.for_user(floor.waiter).access_token))()
    socket = await open_socket()
    await socket.send({"type": "auth", "token": token})
    assert (await socket.receive())["type"] == "ready"
    await socket.close()


async def test_session_cookie_with_same_origin_accepted():
    floor = await db(Floor)()

    def login_cookie():
        client = Client()
        client.force_login(floor.kitchen)
        return client.cookies[django_settings.SESSION_COOKIE_NAME].value

    session = await db(login_cookie)()
    socket = await open_socket([
        (b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={session}".encode()),
        (b"origin", b"http://testserver"), (b"host", b"testserver"),
    ])
    assert socket.connected
    assert (await socket.receive())["type"] == "ready"
    await socket.close()


async def test_session_cookie_without_origin_is_not_enough(settings):
    settings.WS_AUTH_TIMEOUT = 0.3
    floor = await db(Floor)()

    def login_cookie():
        client = Client()
        client.force_login(floor.kitchen)
        return client.cookies[django_settings.SESSION_COOKIE_NAME].value

    session = await db(login_cookie)()
    socket = await open_socket([(b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={session}".encode())])
    await _assert_refused(socket, "No token provided")


async def test_foreign_origin_refused_before_accept():
    floor = await db(Floor)()
    headers = await db(bearer)(floor.kitchen)
    socket = await open_socket(headers + [(b"origin", b"https://evil.example"), (b"host", b"testserver")])
    assert not socket.connected


async def test_allowed_cross_origin_accepted(settings):
    settings.WS_ALLOWED_ORIGINS = ["https://pos.example"]
    floor = await db(Floor)()
    headers = await db(bearer)(floor.kitchen)
    socket = await open_socket(headers + [(b"origin", b"https://pos.example"), (b"host", b"testserver")])
    assert socket.connected
    assert (await socket.receive())["type"] == "ready"
    await socket.close()


async def test_token_client_without_origin_accepted():
    floor = await db(Floor)()
    socket = await open_socket(await db(bearer)(floor.waiter))
    assert (await socket.receive())["type"] == "ready"
    await socket.close()


async def test_no_credentials_closed_after_the_auth_window(settings):
    settings.WS_AUTH_TIMEOUT = 0.3
    floor = await db(Floor)()
    socket = await open_socket()
    await _assert_refused(socket, "No token provided")


async def test_token_in_url_refused():
    floor = await db(Floor)()
    token = await db(lambda: str(RefreshToken.for_user(floor.waiter).access_token))()
    socket = await open_socket(path=f"/ws/events/?token={token}")
    await _assert_refused(socket, "Tokens in the URL are not accepted")


BAD_TOKENS = {
    "garbage": lambda user: "not-a-jwt",
    "wrong_key": lambda user: _forge(user, key="another-secret-key-of-enough-length-0123456789"),
    "expired": _expired,
    "alg_none": _alg_none,
    "refresh_token": lambda user: str(RefreshToken.for_user(user)),
    "tampered": lambda user: _forge(user)[:-3] + ("AAA" if not _forge(user).endswith("AAA") else "BBB"),
}


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
@pytest.mark.parametrize("path", ["header", "message"])
async def test_bad_tokens_refused_and_receive_nothing_afterwards(kind, path):
    floor = await db(Floor)()
    token = await db(BAD_TOKENS[kind])(floor.kitchen)
    if path == "header":
        socket = await open_socket([(b"authorization", f"Bearer {token}".encode())])
    else:
        socket = await open_socket()
        await socket.send({"type": "auth", "token": token})
    await _assert_refused(socket, "Invalid token")
    await _assert_sees_no_events_after(floor, socket)


async def test_inactive_user_refused():
    floor = await db(Floor)()
    headers = await db(bearer)(floor.kitchen)
    await db(lambda: User.objects.filter(pk=floor.kitchen.pk).update(is_active=False))()
    socket = await open_socket(headers)
    await _assert_refused(socket, "Invalid token")
    await _assert_sees_no_events_after(floor, socket)


async def test_socket_closed_when_its_token_expires():
    floor = await db(Floor)()

    def short_lived():
        token = AccessToken.for_user(floor.kitchen)
        token.set_exp(lifetime=__import__("datetime").timedelta(seconds=1))
        return str(token)

    socket = await open_socket([(b"authorization", f"Bearer {await db(short_lived)()}".encode())])
    assert (await socket.receive())["type"] == "ready"
    started = time.monotonic()
    await _assert_refused(socket, "Token expired")
    # exp has whole-second resolution; allow for a loaded CI machine.
    assert time.monotonic() - started < 4


async def test_socket_closed_when_user_deactivated():
    floor = await db(Floor)()
    socket, _ = await ready_socket(floor.kitchen)

    def deactivate():
        user = User.objects.get(pk=floor.kitchen.pk)
        user.is_active = False
        user.save()

    await db(deactivate)()
    await _assert_refused(socket, "Account changed")


async def test_socket_closed_when_user_moves_to_another_restaurant():
    floor, other = await db(Floor)("A"), await db(Floor)("B")
    socket, _ = await ready_socket(floor.kitchen)

    def move():
        user = User.objects.get(pk=floor.kitchen.pk)
        user.restaurant = other.restaurant
        user.save()

    await db(move)()
    await _assert_refused(socket, "Account changed")


async def test_logout_closes_that_logins_sockets_only():
    from orders import auth_services

    floor = await db(Floor)()

    def two_logins():
        return auth_services._issue(floor.kitchen), auth_services._issue(floor.kitchen)

    first, second = await db(two_logins)()
    socket_one = await open_socket([(b"authorization", f"Bearer {first.access_token}".encode())])
    socket_two = await open_socket([(b"authorization", f"Bearer {second.access_token}".encode())])
    assert (await socket_one.receive())["type"] == "ready"
    assert (await socket_two.receive())["type"] == "ready"

    await db(lambda: auth_services.logout(refresh_token=first.refresh_token))()
    await _assert_refused(socket_one, "Logged out")
    assert await socket_two.nothing(0.5)
    await socket_two.close()


async def test_database_down_during_auth_is_a_retryable_close_not_a_bad_token(monkeypatch):
    from django.db import OperationalError
    from rest_framework_simplejwt.authentication import JWTAuthentication

    floor = await db(Floor)()
    headers = await db(bearer)(floor.kitchen)

    def database_down(self, validated_token):
        raise OperationalError("connection refused")

    monkeypatch.setattr(JWTAuthentication, "get_user", database_down)
    socket = await open_socket(headers)
    message = await socket.receive()
    assert message == {"type": "__closed__", "code": 1013, "reason": "Service unavailable; retry"}
