"""The app's settings plus a PostgreSQL connection pool (Django 5.1+, psycopg_pool).

Under ASGI, Django runs each request's sync code in a thread of its own
(ThreadSensitiveContext), so a thread-local persistent connection (CONN_MAX_AGE) is never
reused: every request opened a new PostgreSQL connection (~30% of a transition's time, see
BENCHMARKS.md). A pool shared by the process's threads fixes that. bench/run.py runs ours with
this module (DJANGO_SETTINGS_MODULE=bench_settings, bench/ on PYTHONPATH) unless --no-db-pool;
the proposed change to restaurant/settings.py is the same three lines behind DB_POOL.
"""

import os

from restaurant.settings import *  # noqa: F401,F403
from restaurant.settings import DATABASES

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": int(os.environ.get("DB_POOL_MIN", "2")),
        "max_size": int(os.environ.get("DB_POOL_MAX", "8")),
        "timeout": 10,
    }
