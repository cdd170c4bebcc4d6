"""Under ASGI the middleware chain runs in one thread (restaurant.middleware)."""

import pytest
from asgiref import sync as asgiref_sync
from django.test import AsyncClient

pytestmark = pytest.mark.asyncio


async def test_an_api_request_under_asgi_switches_threads_a_handful_of_times(monkeypatch):
    created = []
    real_init = asgiref_sync.SyncToAsync.__init__

    def counting_init(self, *args, **kwargs):
        created.append(args[0] if args else kwargs.get("func"))
        return real_init(self, *args, **kwargs)

    client = AsyncClient()
    await client.get("/api/v1/orders")  # warm: the chain is built on the first request
    monkeypatch.setattr(asgiref_sync.SyncToAsync, "__init__", counting_init)
    response = await client.get("/api/v1/orders")
    assert response.status_code == 401
    # The view, the request signals and the response's close: 5. With the async-capable
    # middleware each hopping to a thread per hook it was 15.
    assert len(created) <= 6, created
