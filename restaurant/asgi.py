"""ASGI entry point: HTTP (Django), the realtime WebSocket endpoint, and Socket.IO.

`/socket.io/` (Engine.IO long-polling over HTTP and its websocket transport) goes to the
Socket.IO server (`realtime.socketio`), for the reference backend's clients; everything
else goes to Channels as before: HTTP to Django (its sync views on a pool of threads through
its WSGI handler, `restaurant.threaded_http`), `/ws/events/` to the events consumer.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "restaurant.settings")

# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from django.conf import settings  # noqa: E402

from realtime.auth import websocket_auth_stack  # noqa: E402
from realtime.publisher import bind_to_server_loop  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402
from realtime.socketio import socketio_application  # noqa: E402
from restaurant.bodylimit import ASGIBodyLimit  # noqa: E402
from restaurant.logs import scrub_daphne_access_log  # noqa: E402
from restaurant.threaded_http import ThreadedHTTP  # noqa: E402
from restaurant.wsgi import application as wsgi_app  # noqa: E402

# daphne's access log prints query strings: a token someone put in a URL is blanked.
scrub_daphne_access_log()

django_http = django_asgi_app
if settings.HTTP_THREADS:
    django_http = ThreadedHTTP(wsgi_app=wsgi_app, asgi_app=django_asgi_app, threads=settings.HTTP_THREADS)

application = bind_to_server_loop(
    socketio_application(
        ProtocolTypeRouter(
            {
                "http": ASGIBodyLimit(django_http),
                "websocket": websocket_auth_stack(URLRouter(websocket_urlpatterns)),
            }
        )
    )
)
