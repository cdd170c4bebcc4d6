"""Auth endpoints of docs/contract.md: login, access-token validation, refresh rotation, logout,
login throttling, and the SECRET_KEY startup guard."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken

from orders.models import Role

from ..factories import PASSWORD, RestaurantFactory, UserFactory
from ._wire_support import (
    LOGOUT,
    ME,
    REFRESH,
    USER_KEYS,
    assert_problem,
    assert_uuid,
    login,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def _key() -> str:
    return settings.SIMPLE_JWT["SIGNING_KEY"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64_json(obj) -> str:
    return _b64(json.dumps(obj, separators=(",", ":")).encode())


def _payload(token: str) -> dict:
    return jwt.decode(token, _key(), algorithms=["HS256"])


def _sign(claims: dict, key: str | None = None) -> str:
    return jwt.encode(claims, key or _key(), algorithm="HS256")


@pytest.fixture
def waiter(db):
    return UserFactory(role=Role.WAITER, restaurant=RestaurantFactory(), name="Wanda Waiter")


@pytest.fixture
def tokens(waiter):
    response = login(waiter.email, PASSWORD)
    assert response.status_code == 200, response.content
    return response.json()


def _me(token: str | None = None, **extra):
    client = APIClient()
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get(ME, **extra)


def _refresh(token: str):
    return APIClient().post(REFRESH, {"refreshToken": token}, format="json")


# --- Login ------------------------------------------------------------------------------------


def test_login_returns_token_pair_and_user(waiter):
    response = login(waiter.email, PASSWORD)
    assert response.status_code == 200, response.content
    body = response.json()
    assert {"accessToken", "refreshToken", "expiresIn", "user"} <= set(body)
    assert isinstance(body["accessToken"], str) and body["accessToken"]
    assert isinstance(body["refreshToken"], str) and body["refreshToken"]
    assert body["accessToken"] != body["refreshToken"]
    assert body["expiresIn"] == int(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds())
    assert set(body["user"]) == USER_KEYS
    assert body["user"] == {
        "id": str(waiter.pk),
        "email": waiter.email,
        "name": "Wanda Waiter",
        "role": "WAITER",
        "restaurantId": str(waiter.restaurant_id),
    }
    assert_uuid(body["user"]["id"])


def test_login_stores_the_refresh_token_it_issues(waiter, tokens):
    # Stored once with every claim (auth_services._issue): what logout and reuse detection
    # read of a login's other tokens is the token as issued, `sid` included.
    claims = _payload(tokens["refreshToken"])
    stored = OutstandingToken.objects.get(user=waiter)
    assert (stored.jti, stored.token) == (claims["jti"], tokens["refreshToken"])
    assert stored.expires_at == datetime.fromtimestamp(claims["exp"], UTC)
    assert stored.created_at <= timezone.now() and claims["sid"]


def test_access_token_claims(waiter, tokens):
    claims = _payload(tokens["accessToken"])
    assert claims["userId"] == str(waiter.pk)
    assert claims["role"] == "WAITER"
    assert claims["restaurantId"] == str(waiter.restaurant_id)
    assert isinstance(claims["exp"], int)
    lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()
    assert 0 < claims["exp"] - time.time() <= lifetime + 5
    assert claims["exp"] - claims["iat"] == tokens["expiresIn"]
    assert jwt.get_unverified_header(tokens["accessToken"])["alg"] == "HS256"


def test_me_with_valid_access_token(waiter, tokens):
    response = _me(tokens["accessToken"])
    assert response.status_code == 200, response.content
    assert response.json() == tokens["user"]


def test_login_email_is_case_insensitive(db):
    user = UserFactory(email="Mixed.Case@Example.COM")
    assert user.email == "mixed.case@example.com"
    for email in ("MIXED.CASE@EXAMPLE.COM", "mixed.case@example.com", "  Mixed.Case@example.com "):
        response = login(email, PASSWORD)
        assert response.status_code == 200, (email, response.content)
        assert response.json()["user"]["id"] == str(user.pk)


def test_bad_credentials_answer_identically(waiter):
    inactive = UserFactory(is_active=False)
    wrong_password = login(waiter.email, "not-the-password")
    unknown_email = login("nobody-here@example.com", PASSWORD)
    inactive_login = login(inactive.email, PASSWORD)  # correct password, inactive account
    for response in (wrong_password, unknown_email, inactive_login):
        assert_problem(response, 401, "unauthenticated")
        assert "accessToken" not in response.json()
    assert wrong_password.json() == unknown_email.json() == inactive_login.json()
    assert wrong_password.content == unknown_email.content == inactive_login.content
    assert (
        wrong_password["Content-Type"] == unknown_email["Content-Type"]
        == inactive_login["Content-Type"]
    )


def test_login_with_missing_fields_is_400_not_401(db):
    response = APIClient().post("/api/v1/auth/login", {"email": "x@example.com"}, format="json")
    body = assert_problem(response, 400, "validation-error")
    assert "password" in body["errors"]


# --- Tokens refused by GET /auth/me -----------------------------------------------------------


def test_crafted_token_with_valid_claims_is_accepted(tokens):
    """The control for the tests below: re-signing the same claims with the right key works,
    so each refusal below is caused by the one thing that test changes."""
    resigned = _sign(_payload(tokens["accessToken"]))
    assert _me(resigned).status_code == 200


def test_expired_access_token_is_refused(tokens):
    claims = _payload(tokens["accessToken"])
    claims["iat"] = int(time.time()) - 3600
    claims["exp"] = int(time.time()) - 60
    assert_problem(_me(_sign(claims)), 401, "unauthenticated")


def test_expired_simplejwt_access_token_is_refused(waiter):
    token = AccessToken.for_user(waiter)
    token.set_exp(from_time=timezone.now() - timedelta(hours=2), lifetime=timedelta(minutes=5))
    assert_problem(_me(str(token)), 401, "unauthenticated")


def test_token_with_flipped_signature_char_is_refused(tokens):
    header, payload, signature = tokens["accessToken"].split(".")
    # A middle character: the last one of a base64url signature carries padding bits.
    i = len(signature) // 2
    flipped = signature[:i] + ("A" if signature[i] != "A" else "B") + signature[i + 1 :]
    assert_problem(_me(f"{header}.{payload}.{flipped}"), 401, "unauthenticated")


def test_token_with_changed_payload_is_refused(waiter, tokens):
    header, _, signature = tokens["accessToken"].split(".")
    claims = _payload(tokens["accessToken"])
    claims["role"] = "MANAGER"
    claims["userId"] = str(UserFactory(restaurant=waiter.restaurant, role=Role.MANAGER).pk)
    forged = f"{header}.{_b64_json(claims)}.{signature}"
    assert_problem(_me(forged), 401, "unauthenticated")


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
@pytest.mark.parametrize("keep_signature", [False, True])
def test_unsigned_alg_none_token_is_refused(tokens, alg, keep_signature):
    claims = _payload(tokens["accessToken"])
    signature = tokens["accessToken"].split(".")[2] if keep_signature else ""
    forged = f"{_b64_json({'alg': alg, 'typ': 'JWT'})}.{_b64_json(claims)}.{signature}"
    assert_problem(_me(forged), 401, "unauthenticated")


def test_token_signed_with_another_key_is_refused(tokens):
    claims = _payload(tokens["accessToken"])
    assert_problem(_me(_sign(claims, key="not-the-signing-key-" + "x" * 40)), 401)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_token_signed_with_another_algorithm_is_refused(tokens):
    claims = _payload(tokens["accessToken"])
    forged = jwt.encode(claims, _key(), algorithm="HS512")
    assert_problem(_me(forged), 401, "unauthenticated")


def test_refresh_token_is_not_an_access_token(tokens):
    assert_problem(_me(tokens["refreshToken"]), 401, "unauthenticated")


def test_token_of_user_deactivated_after_issue_is_refused(waiter, tokens):
    assert _me(tokens["accessToken"]).status_code == 200
    waiter.is_active = False
    waiter.save(update_fields=["is_active"])
    assert_problem(_me(tokens["accessToken"]), 401, "unauthenticated")


def test_token_of_user_whose_password_changed_is_refused(waiter, tokens):
    assert _me(tokens["accessToken"]).status_code == 200
    waiter.set_password("a-brand-new-password-42")
    waiter.save(update_fields=["password"])
    assert_problem(_me(tokens["accessToken"]), 401, "unauthenticated")


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer garbage",
        "Bearer not.a.jwt",
        "Bearer ",
        "Bearer",
        "Bearer a b",
        "Basic dXNlcjpwYXNz",
        "garbage",
    ],
)
def test_garbage_authorization_is_refused(db, authorization):
    response = APIClient().get(ME, HTTP_AUTHORIZATION=authorization)
    assert_problem(response, 401, "unauthenticated")


def test_missing_authorization_is_refused(db):
    response = APIClient().get(ME)
    assert_problem(response, 401, "unauthenticated")
    assert response.has_header("WWW-Authenticate")


# --- Refresh and logout -----------------------------------------------------------------------


def test_refresh_rotates_the_pair(waiter, tokens):
    response = _refresh(tokens["refreshToken"])
    assert response.status_code == 200, response.content
    fresh = response.json()
    assert {"accessToken", "refreshToken", "expiresIn", "user"} <= set(fresh)
    assert fresh["refreshToken"] != tokens["refreshToken"]
    assert fresh["accessToken"] != tokens["accessToken"]
    assert fresh["user"]["id"] == str(waiter.pk)
    claims = _payload(fresh["accessToken"])
    assert (claims["userId"], claims["role"], claims["restaurantId"]) == (
        str(waiter.pk), "WAITER", str(waiter.restaurant_id),
    )
    assert _me(fresh["accessToken"]).status_code == 200

    # The new one works (once); the used one is refused.
    again = _refresh(fresh["refreshToken"])
    assert again.status_code == 200, again.content
    assert_problem(_refresh(fresh["refreshToken"]), 401, "unauthenticated")
    # Reusing a used one ends the whole login: its newest token stops working too
    # (tests/security/test_revocation.py).
    assert_problem(_refresh(tokens["refreshToken"]), 401, "unauthenticated")
    assert_problem(_refresh(again.json()["refreshToken"]), 401, "unauthenticated")


def test_refresh_after_logout_is_refused(tokens):
    response = APIClient().post(LOGOUT, {"refreshToken": tokens["refreshToken"]}, format="json")
    assert response.status_code == 204, response.content
    assert response.content == b""
    assert_problem(_refresh(tokens["refreshToken"]), 401, "unauthenticated")
    # Logging out twice with the same token is refused as well.
    again = APIClient().post(LOGOUT, {"refreshToken": tokens["refreshToken"]}, format="json")
    assert_problem(again, 401, "unauthenticated")


def test_refresh_for_inactive_user_is_refused(waiter, tokens):
    waiter.is_active = False
    waiter.save(update_fields=["is_active"])
    assert_problem(_refresh(tokens["refreshToken"]), 401, "unauthenticated")


def test_refresh_after_password_change_is_refused(waiter, tokens):
    waiter.set_password("a-brand-new-password-42")
    waiter.save(update_fields=["password"])
    assert_problem(_refresh(tokens["refreshToken"]), 401, "unauthenticated")


def test_access_token_is_not_a_refresh_token(tokens):
    assert_problem(_refresh(tokens["accessToken"]), 401, "unauthenticated")
    response = APIClient().post(LOGOUT, {"refreshToken": tokens["accessToken"]}, format="json")
    assert_problem(response, 401, "unauthenticated")


def test_forged_refresh_tokens_are_refused(tokens):
    claims = _payload(tokens["refreshToken"])
    assert_problem(_refresh(_sign(claims, key="wrong-key-" + "y" * 40)), 401)
    unsigned = f"{_b64_json({'alg': 'none', 'typ': 'JWT'})}.{_b64_json(claims)}."
    assert_problem(_refresh(unsigned), 401, "unauthenticated")
    assert_problem(_refresh("garbage"), 401, "unauthenticated")
    # After all those refusals the genuine token still works.
    assert _refresh(tokens["refreshToken"]).status_code == 200


def test_refresh_without_token_is_400(db):
    response = APIClient().post(REFRESH, {}, format="json")
    body = assert_problem(response, 400, "validation-error")
    assert "refreshToken" in body["errors"]


# --- Throttling -------------------------------------------------------------------------------


def test_failed_logins_for_one_email_are_throttled(waiter):
    rate = settings.LOGIN_THROTTLE_ACCOUNT
    allowed = int(rate.split("/")[0])
    spellings = [waiter.email, waiter.email.upper(), f" {waiter.email.title()} "]
    for attempt in range(allowed):
        response = login(spellings[attempt % len(spellings)], f"wrong-{attempt}")
        assert_problem(response, 401, "unauthenticated")

    throttled = login(waiter.email, "wrong-again")
    body = assert_problem(throttled, 429, "throttled")
    assert throttled.has_header("Retry-After")
    assert int(throttled["Retry-After"]) > 0
    assert body["detail"]

    # The account stays locked for that window even with the right password...
    assert_problem(login(waiter.email.upper(), PASSWORD), 429, "throttled")
    # ...while another account is unaffected.
    other = UserFactory()
    assert login(other.email, PASSWORD).status_code == 200


# --- Startup guard ----------------------------------------------------------------------------


def _run_setup(env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "JWT_SIGNING_KEY"}}
    env.update(env_overrides)
    env["DJANGO_SETTINGS_MODULE"] = "restaurant.settings"
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_refuses_to_start_without_secret_key_when_debug_is_off():
    result = _run_setup({"DEBUG": "0"})
    assert result.returncode != 0, result.stderr
    assert "SECRET_KEY" in result.stderr


def test_starts_without_secret_key_in_debug():
    result = _run_setup({"DEBUG": "1"})
    assert result.returncode == 0, result.stderr
