"""The restaurant a request acts for, without a query in the steady state.

Each process keeps the restaurant rows it has read, with the version the cache held for the
restaurant when it read them (`restaurant-version:<id>`, read in the request's one cache
round trip: restaurant.tenancy). A committed save or delete of a restaurant writes a new
version (orders.access), so every process reads the row afresh at its next request for it.
The version is read before the row: a row read while a change commits is kept under the
old version and never used. A row is also kept for `MAX_AGE` seconds at most: the bound on
a restaurant's settings going stale if the cache could not take a new version. Tenancy does
not depend on it: which restaurant a request acts for comes from its token and user
(restaurant.tenancy), this only supplies the row's settings (time zone, kitchen thresholds).
"""

from __future__ import annotations

import functools
import logging
import time
import uuid

from django.core.cache import cache

logger = logging.getLogger(__name__)

MAX_AGE = 60.0
_MOST = 1000  # rows kept per process

_rows: dict[str, tuple[str, float, list]] = {}  # id -> (version, kept at, field values)


def version_key(restaurant_id) -> str:
    return f"restaurant-version:{restaurant_id}"


def forget(restaurant_id) -> None:
    """After a committed change to the restaurant: every process reads it afresh."""
    _rows.pop(str(restaurant_id), None)
    try:
        cache.set(version_key(restaurant_id), uuid.uuid4().hex, timeout=None)
    except Exception:  # noqa: BLE001 - the cache backend's connection errors
        logger.error("restaurant %s's change not announced: the cache is unavailable "
                     "(processes keep its old row up to %d s)", restaurant_id, MAX_AGE)


def restaurant(restaurant_id, version):
    """The restaurant's row; `version`: what the request's cache read found for its
    `version_key` (None when missing or unread). None when there is no such restaurant."""
    from orders.models import Restaurant

    key = str(restaurant_id)
    kept = _rows.get(key)
    if kept and version is not None and kept[0] == version and time.monotonic() - kept[1] < MAX_AGE:
        return _instance(Restaurant, kept[2])
    if version is None:
        version = _start_version(restaurant_id)
    values = Restaurant.objects.filter(pk=restaurant_id).values_list(*_attnames(Restaurant)).first()
    if values is None:
        return None
    if version is not None:
        if len(_rows) >= _MOST:
            _rows.clear()
        _rows[key] = (version, time.monotonic(), list(values))
    return _instance(Restaurant, values)


def _start_version(restaurant_id):
    # Written before the row is read; taken only if no change wrote one meanwhile.
    version = uuid.uuid4().hex
    try:
        return version if cache.add(version_key(restaurant_id), version, timeout=None) else None
    except Exception:  # noqa: BLE001
        return None


def _instance(model, values):
    # A fresh instance per request: a caller may change or cache things on it.
    return model.from_db("default", _attnames(model), list(values))


@functools.cache
def _attnames(model) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields]
