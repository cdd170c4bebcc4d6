"""Only realtime/internals.py may touch servers' and libraries' non-public attributes.

An AST scan of every module of `realtime` and of restaurant/asgi.py: an attribute starting with `_`
that our own code does not define (asyncio.Queue's `_getters`, a library's `_send_packet`),
an attribute known to be another library's internals (uvicorn's `close_sent` and
`transport`, daphne's `handle_reply`, python-engineio's `sockets`, `create_queue`,
`send_packet`, python-socketio's `manager`, `eio`, Channels' `base_send`), the environ key
`wsgi.input`, or an import of a server's protocol modules, anywhere else fails the test.
"""

import ast
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
INTERNALS = ROOT / "realtime" / "internals.py"
# Everything realtime, and where the servers are wired (restaurant/asgi.py).
SCANNED = sorted((ROOT / "realtime").rglob("*.py")) + [ROOT / "restaurant" / "asgi.py"]

KNOWN_INTERNALS = {
    "close_sent", "transport", "handle_reply", "create_queue", "send_packet",
    "get_participants", "eio_sid_from_sid", "upgraded", "upgrading", "eio", "manager",
    "base_send", "channel_receive", "packet_class",
}
PRIVATE_MODULES = ("uvicorn.protocols", "daphne.server", "daphne.ws_protocol", "engineio.async_socket",
                   "engineio.socket", "websockets.legacy", "socketio.base_manager", "socketio.async_manager")
ALLOWED = {"_meta"}  # Django's documented Model._meta API


def _own_private_names(trees) -> set[str]:
    """`_names` our own code defines: functions, classes, assigned attributes, slots."""
    names = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("_"):
                names.add(node.value)  # __slots__ entries
    return {name for name in names if name.startswith("_")}


def violations(source: str, own: set[str]) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            name = node.attr
            private = name.startswith("_") and not name.startswith("__") and name not in own | ALLOWED
            if private or name in KNOWN_INTERNALS:
                found.append(f"line {node.lineno}: .{name}")
        elif isinstance(node, ast.Constant) and node.value == "wsgi.input":
            found.append(f"line {node.lineno}: 'wsgi.input'")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            found += [f"line {node.lineno}: import {m}" for m in modules if m.startswith(PRIVATE_MODULES)]
    return found


def test_no_module_but_internals_touches_private_attributes():
    sources = {path: path.read_text() for path in SCANNED}
    own = _own_private_names(
        ast.parse(text) for path, text in sources.items() if path != INTERNALS
    )
    bad = {
        str(path.relative_to(ROOT)): found
        for path, text in sources.items()
        if path != INTERNALS and (found := violations(text, own))
    }
    assert bad == {}


def test_the_scan_catches_what_it_must():
    snippet = """
queue._getters
server.eio.sockets
protocol.close_sent
environ.pop("wsgi.input")
from uvicorn.protocols.websockets import wsproto_impl
self._ours
"""
    found = violations(snippet, {"_ours"})
    assert sorted(found) == [
        "line 2: ._getters", "line 3: .eio", "line 4: .close_sent",
        "line 5: 'wsgi.input'", "line 6: import uvicorn.protocols.websockets",
    ]


def test_internals_are_behind_one_setting():
    assert isinstance(settings.REALTIME_FAST_PATH, bool)
    text = INTERNALS.read_text()
    assert "settings.REALTIME_FAST_PATH" in text
