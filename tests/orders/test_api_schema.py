"""Swagger as a reader meets it (orders/api/schema.py): operations grouped by resource, each
with a summary and a description, example bodies for the main calls, the problem types
listed."""

import pytest

from orders.api.schema import TAGS
from restaurant.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPES

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def schema(db, client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method.upper(), path, operation


def test_every_operation_has_a_resource_tag_a_summary_and_a_description(schema):
    seen_tags = set()
    for method, path, operation in operations(schema):
        assert operation.get("summary"), (method, path)
        assert len(operation.get("description", "")) > 20, (method, path)
        (tag,) = operation["tags"]
        assert tag in TAGS, (method, path, tag)
        seen_tags.add(tag)
    assert seen_tags == set(TAGS)  # no "v1" catch-all
    assert [t["name"] for t in schema["tags"]] == list(TAGS)
    assert all(t["description"] for t in schema["tags"])


def _examples(schema, method, path, direction, status="200", media="application/json"):
    operation = schema["paths"][path][method]
    if direction == "request":
        content = operation["requestBody"]["content"][media]
    else:
        content = operation["responses"][status]["content"][media]
    return content.get("examples", {})


@pytest.mark.parametrize("method, path, fields", [
    ("post", "/api/v1/auth/login", {"email", "password"}),
    ("post", "/api/v1/orders", {"tableSessionId"}),
    ("post", "/api/v1/orders/{order_id}/items", {"qty"}),
    ("post", "/api/v1/orders/{order_id}/items/{item_id}/status", {"status"}),
])
def test_main_request_bodies_have_camel_case_examples(schema, method, path, fields):
    examples = _examples(schema, method, path, "request")
    assert examples, (method, path)
    for example in examples.values():
        assert fields <= set(example["value"]), example
        assert not any("_" in key for key in example["value"]), example


def test_answers_and_problems_have_examples(schema):
    login = _examples(schema, "post", "/api/v1/auth/login", "response")
    assert {"accessToken", "refreshToken", "user"} <= set(next(iter(login.values()))["value"])
    created = _examples(schema, "post", "/api/v1/orders", "response", "201")
    assert next(iter(created.values()))["value"]["status"] == "DRAFT"
    illegal = _examples(
        schema, "post", "/api/v1/orders/{order_id}/items/{item_id}/status", "response", "409",
        PROBLEM_CONTENT_TYPE,
    )
    assert next(iter(illegal.values()))["value"]["type"] == "/problems/illegal-transition"


def test_the_description_lists_every_problem_type_and_cites_the_contract(schema):
    description = schema["info"]["description"]
    assert "docs/contract.md" in description
    for slug, (title, _) in PROBLEM_TYPES.items():
        assert f"/problems/{slug}" in description and title in description
