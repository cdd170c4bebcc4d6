"""One thread for the whole middleware chain under ASGI."""

from django.utils.decorators import sync_only_middleware


@sync_only_middleware
def sync_middleware_chain(get_response):
    """Last in MIDDLEWARE and sync-only, so that under ASGI Django runs every middleware
    above it synchronously, in the thread the request's sync view runs in anyway.

    Without it, each async-capable middleware (Django's own, through MiddlewareMixin) hops
    to a thread and back for each of its hooks, and the sync-only ones (whitenoise, the
    request log) hop back to the event loop in between: about a dozen switches per request.
    Measured under the Procfile's uvicorn: 56 -> 47 and 68 -> 58 ms of server CPU per
    create -> add item -> confirm flow (BENCHMARKS.md). Under WSGI it changes nothing."""
    return get_response
