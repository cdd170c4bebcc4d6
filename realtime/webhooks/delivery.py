"""One attempt to deliver a webhook: check the address, sign, POST, note what came back.

Success is a 2xx answer. Redirects are not followed (a receiver that moved is reached at
its new URL once a manager enters it); the log says where it pointed and, when that place
would be refused, why.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
from django.conf import settings

from . import signing, ssrf
from .models import WebhookAttempt

Outcome = WebhookAttempt.Outcome

EXCERPT_BYTES = 2048


@dataclass(frozen=True)
class Result:
    outcome: str
    status_code: int | None = None
    latency_ms: int | None = None
    excerpt: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.OK


def new_client() -> httpx.Client:
    """A client for one endpoint's batch of attempts. Never shared between endpoints: its
    connections are keyed by the checked address, not by the TLS name they were opened for.
    No proxies from the environment: the connection must go to the checked address."""
    return httpx.Client(
        timeout=httpx.Timeout(settings.WEBHOOK_TIMEOUT, connect=settings.WEBHOOK_CONNECT_TIMEOUT),
        follow_redirects=False,
        trust_env=False,
    )


def _target(url: str, resolver) -> ssrf.Target:
    return ssrf.pinned_target(
        url,
        allow_private=settings.WEBHOOK_ALLOW_PRIVATE,
        require_https=settings.WEBHOOK_REQUIRE_HTTPS,
        resolver=resolver or ssrf.system_resolver,
    )


def _excerpt(response: httpx.Response, deadline: float) -> str:
    data = b""
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) >= EXCERPT_BYTES or time.monotonic() > deadline:
            break
    # PostgreSQL text cannot hold NUL.
    return data[:EXCERPT_BYTES].decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _redirect_error(url: str, response: httpx.Response, resolver) -> str:
    location = response.headers.get("location", "")
    error = f"redirect to {location or '(no Location)'} not followed"
    if location:
        try:
            _target(str(httpx.URL(url).join(location)), resolver)
        except (ssrf.Refused, httpx.InvalidURL) as refused:
            error += f"; it would be refused: {refused}"
    return error[:500]


def attempt(
    url: str, secret: str, message_id: str, body: str, *, client: httpx.Client, resolver=None
) -> Result:
    started = time.monotonic()
    try:
        target = _target(url, resolver)
    except ssrf.Refused as refused:
        return Result(Outcome.REFUSED, error=str(refused)[:500])
    headers = {**signing.headers(secret, message_id, body), **target.headers}

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        with client.stream(
            "POST", target.url, content=body.encode(), headers=headers, extensions=target.extensions
        ) as response:
            latency = elapsed()
            excerpt = _excerpt(response, started + settings.WEBHOOK_TIMEOUT)
    except httpx.TimeoutException as exc:
        return Result(Outcome.TIMEOUT, latency_ms=elapsed(), error=f"{type(exc).__name__}: {exc}"[:500])
    except httpx.HTTPError as exc:
        return Result(Outcome.NETWORK, latency_ms=elapsed(), error=f"{type(exc).__name__}: {exc}"[:500])
    status = response.status_code
    if 200 <= status < 300:
        return Result(Outcome.OK, status, latency, excerpt)
    if response.is_redirect:
        return Result(Outcome.REDIRECT, status, latency, excerpt, _redirect_error(url, response, resolver))
    return Result(Outcome.HTTP_ERROR, status, latency, excerpt, f"answered {status}")
