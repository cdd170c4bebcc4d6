"""The steady state both bench scripts measure in, as in production since its first deploy."""

import time


def revocation_marks_in_place(age: float = 3600) -> None:
    """The cache has held the users' change marks since before any bench token was issued
    (restaurant.revocation), so a token's claims stand in for its user row; a fresh cache
    would send every request to the database check."""
    from django.core.cache import cache

    from restaurant.revocation import SINCE_KEY

    if (cache.get(SINCE_KEY) or time.time()) > time.time() - age:
        cache.set(SINCE_KEY, time.time() - age, timeout=None)
