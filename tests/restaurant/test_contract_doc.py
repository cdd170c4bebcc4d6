"""docs/contract.md stays in step with the code, both ways: every route, event, socket
message type, close code and problem type its tables list exists, and every one the code has
is listed.

The document is read as Markdown tables, found by their header row: `| method | path | …`
(routes), `| event | …` (events), `| type | direction | …` (plain WebSocket messages),
`| code | meaning |` (close codes) and `| type | status | when |` (problem types). A cell's
names are the backticked words in it.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern

import realtime.consumers
import realtime.events
import realtime.kitchen_payloads
import realtime.messages
import realtime.socketio
from realtime.routing import websocket_urlpatterns
from restaurant.problems import PROBLEM_TYPES

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "contract.md").read_text()
IGNORED_METHODS = {"OPTIONS", "HEAD"}


def tables(text: str):
    """(header cells, rows of cells) of every Markdown table in `text`."""
    lines = text.splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.startswith("|") and re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", lines[i + 1].strip()):
            if i > 0 and lines[i - 1].startswith("|"):
                continue
            header = [cell.strip().lower() for cell in line.strip("|").split("|")]
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append([cell.strip() for cell in row.strip().strip("|").split("|")])
            yield header, rows


def rows_of(*header_start: str):
    found = [rows for header, rows in tables(DOC) if header[: len(header_start)] == list(header_start)]
    assert found, f"docs/contract.md has no table headed {header_start}"
    return [row for rows in found for row in rows]


def names(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


# --- Routes -------------------------------------------------------------------------------------


def code_routes(patterns=None, prefix="/"):
    """(path in the doc's notation, view) of every URL route; the admin's as its root only."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern.pattern, RegexPattern):
            continue  # the catch-all that answers unknown API paths with problem details
        route = prefix + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
        if isinstance(pattern, URLResolver):
            if pattern.app_name == "admin":
                yield route, None
            else:
                yield from code_routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def api_methods(callback) -> set[str]:
    view = callback.cls()
    return {m for m in view.allowed_methods if m not in IGNORED_METHODS}


def documented_routes() -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for method, path, *_ in rows_of("method", "path"):
        (route,) = names(path)
        routes.setdefault(route, set()).update(m.strip() for m in method.split(","))
    return routes


def test_every_route_is_documented_and_every_documented_route_exists():
    documented = documented_routes()
    in_code = dict(code_routes())
    assert set(in_code) - set(documented) == set(), "routes missing from docs/contract.md"
    assert set(documented) - set(in_code) == set(), "docs/contract.md lists routes that do not exist"
    for route, callback in in_code.items():
        if route.startswith("/api/v1/"):
            assert api_methods(callback) == documented[route], route


def test_socket_endpoints_are_documented():
    for pattern in websocket_urlpatterns:
        assert f"`/{pattern.pattern}`" in DOC, pattern.pattern
    assert 'socketio_path="socket.io"' in Path(realtime.socketio.__file__).read_text()
    assert "`/socket.io/`" in DOC


# --- Events and socket messages -------------------------------------------------------------------

_EVENT_NAME = re.compile(r"^[a-z]+(\.[a-z_]+)+$")


def code_events() -> set[str]:
    """The event names of realtime's payload modules (their constants), and Socket.IO's own."""
    constants = {
        value
        for module in (realtime.events, realtime.kitchen_payloads)
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, str) and _EVENT_NAME.match(value)
    }
    return constants | {realtime.socketio.CLOSED_EVENT}


def test_every_event_is_documented_and_every_documented_event_exists():
    documented = {name for row in rows_of("event") for name in names(row[0])}
    assert documented == code_events()


def wire_message_types() -> set[str]:
    """Message types the plain WebSocket sends or reads. Channel-layer messages between
    workers have dotted types (`outbox.event`) and are not part of the wire."""
    consumer = Path(realtime.consumers.__file__).read_text()
    frames = Path(realtime.messages.__file__).read_text()
    sent = re.findall(r'"type":\s*"(\w+)"', consumer + frames)
    read = re.findall(r'kind\s*[!=]=\s*"(\w+)"', consumer)
    return set(sent) | set(read)


def test_every_socket_message_type_is_documented_and_exists():
    documented = {name for row in rows_of("type", "direction") for name in names(row[0])}
    assert documented == wire_message_types()


def test_every_close_code_is_documented_and_exists():
    documented = {int(row[0]) for row in rows_of("code", "meaning")}
    in_code = {
        value for name, value in vars(realtime.consumers).items()
        if name.startswith("CLOSE_") and isinstance(value, int)
    }
    assert documented == in_code


# --- Problem types and links ----------------------------------------------------------------------


def test_every_problem_type_is_documented_and_exists():
    documented = {name for row in rows_of("type", "status", "when") for name in names(row[0])}
    assert documented == set(PROBLEM_TYPES)


def test_the_readme_links_the_contract_and_nothing_cites_a_contract_outside_the_repository():
    assert "(docs/contract.md)" in (ROOT / "README.md").read_text()
    citing = []
    for folder in ("orders", "realtime", "restaurant", "tests", "docs", "examples", "bench", "templates"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".md", ".html", ".js"} and "node_modules" not in path.parts:
                if "CONTRACT.md" in path.read_text(errors="replace") and path != Path(__file__):
                    citing.append(str(path.relative_to(ROOT)))
    assert citing == [], "cite docs/contract.md instead"
