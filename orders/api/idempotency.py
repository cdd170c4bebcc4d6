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
from typing import NamedTuple

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
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


def _insert(user, key: str, fingerprint: str) -> int | None:
    """The new record's id, or None when the user's key is taken: one statement
    (`INSERT … ON CONFLICT DO NOTHING RETURNING`, PostgreSQL and SQLite), where the ORM's
    insert needs a savepoint around it to survive the unique violation. `bulk_create` with
    `ignore_conflicts` does not say whether the row was inserted."""
    statements = _statements()
    values = {"user": user.pk, "key": key, "fingerprint": fingerprint, "response_status": 0,
              "created_at": timezone.now()}
    with connection.cursor() as cursor:
        cursor.execute(statements.insert, [
            field.get_db_prep_save(values[field.name], connection) for field in statements.insert_fields
        ])
        row = cursor.fetchone()
    return row[0] if row else None


def _store(record_id: int, status: int, body: str | None) -> None:
    """The answer onto the claimed record: `body` is the JSON text the client gets."""
    with connection.cursor() as cursor:
        cursor.execute(_statements().store, [status, body, record_id])


class _Statements(NamedTuple):
    insert: str
    insert_fields: list
    store: str


@functools.cache
def _statements() -> _Statements:
    """The claim's and the store's SQL, written out once per process: through the ORM they
    were compiled again on every keyed request (~0.5 ms each, BENCHMARKS.md section 10)."""
    meta = IdempotencyRecord._meta
    quote = connection.ops.quote_name
    fields = [meta.get_field(name) for name in ("user", "key", "fingerprint", "response_status", "created_at")]
    unique = ", ".join(quote(meta.get_field(name).column) for name in _UNIQUE.fields)
    insert = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({unique}) DO NOTHING RETURNING {quote(meta.pk.column)}"
    )
    # The body is JSON text already: PostgreSQL takes it as jsonb, SQLite stores the text.
    body = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    store = (
        f"UPDATE {quote(meta.db_table)} SET {quote(meta.get_field('response_status').column)} = %s, "
        f"{quote(meta.get_field('response_body').column)} = {body} WHERE {quote(meta.pk.column)} = %s"
    )
    return _Statements(insert, fields, store)


_UNIQUE = next(
    c for c in IdempotencyRecord._meta.constraints if c.name == "idempotency_key_unique_per_user"
)


def _claim(user, key: str, fingerprint: str):
    """(the new record's id, None) for a key not seen or past its lifetime, else (None, the
    stored record). A concurrent request holding the key uncommitted makes the insert wait
    for it (the unique index), then find its record. Expired keys are deleted here only when
    reused, not on every keyed request: `prune_idempotency_keys` deletes the rest."""
    for _ in range(3):  # insert; the key is expired: delete it, insert again; lost a race
        record_id = _insert(user, key, fingerprint)
        if record_id is not None:
            return record_id, None
        stored = IdempotencyRecord.objects.filter(user=user, key=key).first()
        if stored is None:
            continue  # deleted (expired) by a concurrent request or the prune command
        if stored.created_at >= _cutoff():
            return None, stored
        # A key past its lifetime is forgotten: the request runs as new. Deleting it
        # locks its row, so of two requests reusing it one wins, the other replays.
        expired(pk=stored.pk).delete()
    raise IntegrityError(f"{HEADER} {key!r}: could not be claimed")


def _rendered_body(view, request, response: Response) -> str | None:
    """The answer rendered now, as DRF renders it once the view returns (`finalize_response`
    sets the same renderer and context, and a rendered response is not rendered again), and
    stored as that text: the data is encoded once, for the client and the record both.

    The record keeps the camelCase the client got; replaying renders it through the same
    camelCasing renderer, which leaves camelCase keys as they are."""
    response.accepted_renderer = request.accepted_renderer
    response.accepted_media_type = request.accepted_media_type
    response.renderer_context = view.get_renderer_context()
    response.render()
    if not response.content:
        return None
    return response.content.decode(response.charset)


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
            record_id, stored = _claim(request.user, key, fingerprint)
            if stored is not None:
                return _replay(stored, fingerprint)
            try:
                response = handler(view, request, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - answered by DRF's handler, stored below
                response = view.handle_exception(exc)
            if response.status_code >= 500:
                transaction.set_rollback(True)
                return response
            _store(record_id, response.status_code, _rendered_body(view, request, response))
            return response

    return wrapper
