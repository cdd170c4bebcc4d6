"""examples/ws_client.py as a newcomer runs it: when the server is not there, or the login
is wrong, it says so in a sentence (and how to point it elsewhere), not with a traceback;
against a running server it connects and prints the restaurant it listens to."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from django.conf import global_settings

from ..conftest import Floor
from ..live import ROOT, WebServer, free_port

CLIENT = [sys.executable, str(ROOT / "examples" / "ws_client.py")]
PASSWORD = "password123"


def run_client(*args, env=None, timeout=20):
    return subprocess.run([*CLIENT, *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_an_unreachable_server_is_explained_without_a_traceback():
    base = f"http://127.0.0.1:{free_port()}"
    result = run_client("--base", base)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert f"Cannot reach the server at {base}" in result.stderr
    assert "--base" in result.stderr and "RESTAURANT_URL" in result.stderr


def test_restaurant_url_points_it_elsewhere():
    base = f"http://127.0.0.1:{free_port()}"
    result = run_client(env={**os.environ, "RESTAURANT_URL": base})
    assert f"Cannot reach the server at {base}" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_a_wrong_password_is_explained_and_a_right_one_listens(settings):
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    floor = Floor("Client")
    floor.kitchen.set_password(PASSWORD)
    floor.kitchen.save()
    server = WebServer("ws-client")
    try:
        wrong = run_client("--base", server.base, "--email", floor.kitchen.email, "--password", "nope")
        assert wrong.returncode != 0 and "Traceback" not in wrong.stderr
        assert "wrong email or password" in wrong.stderr

        listening = subprocess.Popen(
            [*CLIENT, "--base", server.base, "--email", floor.kitchen.email, "--password", PASSWORD],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            deadline = time.monotonic() + 15
            lines = []
            while time.monotonic() < deadline:
                line = listening.stdout.readline()
                lines.append(line)
                if "connected to restaurant" in line:
                    break
            assert f"connected to restaurant {floor.restaurant.pk}" in "".join(lines), lines
        finally:
            listening.terminate()
            listening.wait(5)
            listening.stdout.close()
    finally:
        server.stop()
