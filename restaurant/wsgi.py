"""WSGI entry point: the REST API and admin under a threaded WSGI server (Procfile `api`).

Sync views under ASGI run one at a time per process; a WSGI server runs them on as many
threads and processes as it is given (BENCHMARKS.md, scenario 5). WebSockets and Socket.IO
need the ASGI application (`restaurant.asgi`, Procfile `web`).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "restaurant.settings")

application = get_wsgi_application()

from restaurant.bodylimit import WSGIBodyLimit  # noqa: E402 - after Django is set up

application = WSGIBodyLimit(application)
