"""Access ends when it should, on every channel: REST tokens, token sockets and cookie sockets
of /ws/events/ (Socket.IO, token-only: tests/security/test_revocation_socketio.py)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.utils import timezone
from rest_framework.test import APIClient

from orders import auth_services
from orders.models import User

from ..conftest import Floor
from ..factories import RestaurantFactory
from ..realtime.conftest import db, open_socket
from ..orders._wire_support import LOGOUT, ME, REFRESH, assert_problem
from ..orders.test_admin import STRONG_PASSWORD
from ..orders.test_admin import admin_client as _signed_in_client

pytestmark = [
    pytest.mark.django_db(transaction=True), pytest.mark.asyncio,
    pytest.mark.postgres, pytest.mark.redis,
]



# --- how each kind of socket is opened ------------------------------------------------------


async def _token_socket(user):
    tokens = await db(auth_services._issue)(user)
    socket = await open_socket([(b"authorization", f"Bearer {tokens.access_token}".encode())])
    assert (await socket.receive())["type"] == "ready"
    socket.tokens = tokens
    return socket


async def _cookie_socket(user, client=None):
    client = client or await db(_signed_in_client)(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    socket = await open_socket([
        (b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={cookie}".encode()),
        (b"origin", b"http://testserver"), (b"host", b"testserver"),
    ])
    assert (await socket.receive())["type"] == "ready"
    socket.client = client
    return socket


SOCKETS = {"token": _token_socket, "cookie": _cookie_socket}


async def _assert_closed_within_a_second(socket, reason):
    started = time.monotonic()
    message = await socket.receive(timeout=2.0)
    assert message == {"type": "__closed__", "code": 4401, "reason": reason}
    assert time.monotonic() - started < 1.0


# --- what ends a user's access: every socket of theirs closes ----------------------------------


# Each takes the user whose access ends and the floor whose manager may act on them.


def _delete(user, floor):
    User.objects.get(pk=user.pk).delete()


def _change_password(user, floor):
    user = User.objects.get(pk=user.pk)
    user.set_password(STRONG_PASSWORD)
    user.save()


def _reset_password_in_the_admin(user, floor):
    response = _signed_in_client(floor.manager).post(
        f"/admin/orders/user/{user.pk}/password/",
        {"password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD},
    )
    assert response.status_code == 302


def _deactivate_in_the_admin(user, floor):
    response = _signed_in_client(floor.manager).post(
        f"/admin/orders/user/{user.pk}/change/",
        {"email": user.email, "name": user.name, "role": user.role},
    )
    assert response.status_code == 302, response.content.decode()[:1000]
    assert not User.objects.get(pk=user.pk).is_active


def _move(user, floor):
    user = User.objects.get(pk=user.pk)
    user.restaurant = RestaurantFactory()
    user.save()


USER_WIDE = {
    "deleted": (_delete, "Account deleted"),
    "password changed": (_change_password, "Password changed"),
    "password reset": (_reset_password_in_the_admin, "Password changed"),
    "deactivated": (_deactivate_in_the_admin, "Account changed"),
    "moved": (_move, "Account changed"),
}


@pytest.mark.parametrize("kind", sorted(SOCKETS))
@pytest.mark.parametrize("change", sorted(USER_WIDE))
async def test_a_change_that_ends_access_closes_every_socket_of_the_user(kind, change):
    """Reproduced: a deleted user's sockets and, after a password change, both socket kinds
    kept streaming."""
    floor = await db(Floor)()
    socket = await SOCKETS[kind](floor.kitchen)
    bystander = await _token_socket(floor.waiter)
    action, reason = USER_WIDE[change]
    await db(action)(floor.kitchen, floor)
    await _assert_closed_within_a_second(socket, reason)
    assert await bystander.nothing(0.3)
    await bystander.close()


async def test_old_rest_tokens_stop_working_after_a_password_change():
    floor = await db(Floor)()
    tokens = await db(auth_services._issue)(floor.kitchen)
    me = lambda: APIClient(HTTP_AUTHORIZATION=f"Bearer {tokens.access_token}").get(ME)  # noqa: E731
    assert (await db(me)()).status_code == 200
    await db(_change_password)(floor.kitchen, floor)
    assert_problem(await db(me)(), 401, "unauthenticated")


async def test_old_rest_tokens_stop_working_after_a_move_to_another_restaurant():
    """A token names the restaurant it was issued for: after a move it acts for none."""
    floor = await db(Floor)()
    tokens = await db(auth_services._issue)(floor.kitchen)
    me = lambda: APIClient(HTTP_AUTHORIZATION=f"Bearer {tokens.access_token}").get(ME)  # noqa: E731
    assert (await db(me)()).status_code == 200
    await db(_move)(floor.kitchen, floor)
    assert_problem(await db(me)(), 401, "unauthenticated")


# --- what ends one login: only that login's sockets close ---------------------------------------


def _me(access_token):
    return APIClient(HTTP_AUTHORIZATION=f"Bearer {access_token}").get(ME)


async def test_logout_refuses_its_access_token_on_rest_within_a_second():
    """Reproduced: an access token kept working on REST for up to 15 minutes after logout."""
    floor = await db(Floor)()
    tokens, other = await db(auth_services._issue)(floor.kitchen), await db(auth_services._issue)(floor.kitchen)
    assert (await db(_me)(tokens.access_token)).status_code == 200
    response = await db(lambda: APIClient().post(LOGOUT, {"refreshToken": tokens.refresh_token}, format="json"))()
    assert response.status_code == 204
    started = time.monotonic()
    assert_problem(await db(_me)(tokens.access_token), 401, "unauthenticated")
    assert time.monotonic() - started < 1.0
    assert (await db(_me)(other.access_token)).status_code == 200  # another login of the user


async def test_a_reused_refresh_token_ends_its_whole_login():
    """Reproduced: reusing a rotated refresh token was refused, but its newer sibling kept
    working. Now the login (`sid`) ends: refresh and access tokens of the family are refused
    and its sockets close; other logins of the user are untouched."""
    floor = await db(Floor)()
    first = await db(auth_services._issue)(floor.kitchen)
    untouched = await _token_socket(floor.kitchen)

    def refresh(token):
        return APIClient().post(REFRESH, {"refreshToken": token}, format="json")

    rotated = await db(refresh)(first.refresh_token)
    assert rotated.status_code == 200
    sibling = rotated.json()
    socket = await open_socket([(b"authorization", f"Bearer {sibling['accessToken']}".encode())])
    assert (await socket.receive())["type"] == "ready"

    assert_problem(await db(refresh)(first.refresh_token), 401, "unauthenticated")  # the reuse
    await _assert_closed_within_a_second(socket, "Logged out")
    assert_problem(await db(refresh)(sibling["refreshToken"]), 401, "unauthenticated")
    assert_problem(await db(_me)(sibling["accessToken"]), 401, "unauthenticated")
    assert (await db(_me)(untouched.tokens.access_token)).status_code == 200
    assert await untouched.nothing(0.3)
    await untouched.close()


async def test_a_revoked_logins_token_cannot_open_a_socket():
    floor = await db(Floor)()
    tokens = await db(auth_services._issue)(floor.kitchen)
    await db(lambda: auth_services.logout(refresh_token=tokens.refresh_token))()
    socket = await open_socket([(b"authorization", f"Bearer {tokens.access_token}".encode())])
    assert await socket.receive() == {"type": "__closed__", "code": 4401, "reason": "Invalid token"}


async def test_kitchen_sign_out_closes_that_sessions_sockets_only():
    """Reproduced: after signing out of the kitchen page its cookie socket kept streaming."""
    floor = await db(Floor)()
    signed_out = await _cookie_socket(floor.kitchen)
    other_session = await _cookie_socket(floor.kitchen)
    token_socket = await _token_socket(floor.kitchen)

    response = await db(lambda: signed_out.client.post("/kitchen/logout/"))()
    assert response.status_code == 302
    await _assert_closed_within_a_second(signed_out, "Signed out")
    assert await other_session.nothing(0.3)
    assert await token_socket.nothing(0.1)
    await other_session.close()
    await token_socket.close()


async def test_a_cookie_socket_closes_when_its_session_expires():
    """Reproduced: cookie sockets never expired."""
    floor = await db(Floor)()
    client = await db(_signed_in_client)(floor.kitchen)
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    ends = timezone.now() + timedelta(seconds=1.5)
    await db(lambda: Session.objects.filter(session_key=key).update(expire_date=ends))()
    socket = await _cookie_socket(floor.kitchen, client)
    message = await socket.receive(timeout=3.0)
    assert message["type"] == "__closed__" and message["code"] == 4401
    assert abs(time.time() - ends.timestamp()) < 1.0
