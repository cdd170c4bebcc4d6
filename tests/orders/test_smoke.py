from orders.models import Role


def test_waiter_creates_and_confirms_an_order(floor):
    client = floor.client(Role.WAITER)
    created = client.post("/api/v1/orders", {"tableSessionId": str(floor.session.pk)}, format="json")
    assert created.status_code == 201, created.content
    order_id = created.json()["id"]
    item = client.post(
        f"/api/v1/orders/{order_id}/items", {"name": "Burger", "qty": 2, "unitPrice": 15.5}, format="json"
    )
    assert item.status_code == 201, item.content
    assert item.json()["unitPrice"] == "15.50"
    confirmed = client.post(f"/api/v1/orders/{order_id}/confirm")
    assert confirmed.status_code == 200, confirmed.content
    body = confirmed.json()
    assert body["status"] == "CONFIRMED"
    assert body["total"] == "31.00"
