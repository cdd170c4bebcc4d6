"""`Idempotency-Key` for POSTs that create or transition.

The first request with a key runs and its answer is stored, in the same transaction as the
change it made. A retry with the same key and body gets that answer back and changes nothing;
the same key with another body is 422. Keys are scoped to the user.

Two concurrent requests with one key: the second blocks on the unique index until the first
commits, then replays its answer.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re

from django.core.serializers.json import DjangoJSONEncoder
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.response import Response

from restaurant.problems import PROBLEM_CONTENT_TYPE, problem_response

from ..models import IdempotencyRecord

HEADER = "Idempotency-Key"
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def _cutoff():
    return timezone.now() - settings.IDEMPOTENCY_KEY_TTL


def expired(**lookup):
    return IdempotencyRecord.objects.filter(created_at__lt=_cutoff(), **lookup)


def _fingerprint(request) -> str:
    # A body that does not parse raises ParseError here: answered 400 (malformed-request) as
    # without a key, and the key is not spent. (Reading `request.body` after the failed parse
    # raised RawPostDataException: a 500.)
    body = json.dumps(request.data, sort_keys=True, cls=DjangoJSONEncoder)
    raw = f"{request.method} {request.path}\n{body}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.fingerprint != fingerprint:
        return problem_response(
            422,
            "idempotency-key-reused",
            f"{HEADER} {record.key!r} was already used for a different request.",
        )
    response = Response(
        record.response_body,
        status=record.response_status,
        content_type=PROBLEM_CONTENT_TYPE if record.response_status >= 400 else None,
    )
    response["Idempotent-Replayed"] = "true"
    return response


def _claim(user, key: str, fingerprint: str):
    """(the new record, None) for a key not seen or past its lifetime, else (None, the stored
    record). Expired keys are deleted here only when reused, not on every keyed request:
    `prune_idempotency_keys` deletes the rest."""
    for _ in range(3):  # insert; the key is expired: delete it, insert again; lost a race
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    user=user, key=key, fingerprint=fingerprint, response_status=0
                ), None
        except IntegrityError:
            stored = IdempotencyRecord.objects.filter(user=user, key=key).first()
            if stored is None:
                continue  # deleted (expired) by a concurrent request or the prune command
            if stored.created_at >= _cutoff():
                return None, stored
            # A key past its lifetime is forgotten: the request runs as new. Deleting it
            # locks its row, so of two requests reusing it one wins, the other replays.
            expired(pk=stored.pk).delete()
    raise IntegrityError(f"{HEADER} {key!r}: could not be claimed")


def idempotent(handler):
    """Decorate an APIView's `post` (after authentication has run)."""

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        if not _VALID_KEY.match(key):
            return problem_response(
                400, "validation-error",
                f"{HEADER} must be 1 to 255 visible ASCII characters.",
                errors={"idempotency_key": ["Invalid value."]},
            )
        fingerprint = _fingerprint(request)
        with transaction.atomic():
            record, stored = _claim(request.user, key, fingerprint)
            if stored is not None:
                return _replay(stored, fingerprint)
            try:
                response = handler(view, request, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - answered by DRF's handler, stored below
                response = view.handle_exception(exc)
            if response.status_code >= 500:
                transaction.set_rollback(True)
                return response
            record.response_status = response.status_code
            record.response_body = json.loads(json.dumps(response.data, cls=DjangoJSONEncoder))
            record.save(update_fields=["response_status", "response_body"])
            return response

    return wrapper
