"""WSGI entry point: what the ASGI application (`restaurant.asgi`, Procfile `web`) runs
Django's sync views through, on its pool of threads (restaurant.threaded_http), and what a
plain WSGI server can run for HTTP alone (WebSockets and Socket.IO need the ASGI one).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "restaurant.settings")

application = get_wsgi_application()

from restaurant.bodylimit import WSGIBodyLimit  # noqa: E402 - after Django is set up

application = WSGIBodyLimit(application)
