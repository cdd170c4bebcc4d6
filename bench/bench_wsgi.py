"""WSGI entry point for measuring REST under a threaded WSGI server (gunicorn) beside ASGI.

Under ASGI, Django's sync views of one process run one at a time (asgiref's thread-sensitive
mode); a WSGI server runs them on as many threads and processes as it is given. bench/run.py
measures the REST flow both ways (scenario 5). Not part of the app: the proposed layout in
BENCHMARKS.md adds the same four lines as restaurant/wsgi.py.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench_settings")
application = get_wsgi_application()
