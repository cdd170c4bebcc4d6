"""The README's `make run`, as a newcomer runs it: each request is logged exactly once (the
app's own line), the reloader announces itself once, and /favicon.ico is served.

The real `make run` (migrate, seed_demo, the uvicorn server with --reload) on a free port,
against the test database.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from ..live import ROOT, free_port, server_env

pytestmark = [pytest.mark.django_db(transaction=True)]


class MakeRun:
    def __init__(self):
        self.port = free_port()
        env = server_env()
        env.pop("DEBUG")  # `make run` turns it on
        env["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
        self.base = f"http://127.0.0.1:{self.port}"
        # -o: the virtualenv is there already; do not reinstall it.
        self.proc = subprocess.Popen(
            ["make", "-o", ".venv/.installed", "run", f"PORT={self.port}"], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        self.output = ""
        threading.Thread(target=self._collect, daemon=True).start()
        self.wait_for("Application startup complete", timeout=90)

    def _collect(self):
        for line in self.proc.stdout:
            self.output += line

    def read(self) -> str:
        return self.output

    def wait_for(self, text, timeout=10.0):
        deadline = time.monotonic() + timeout
        while text not in self.read():
            if self.proc.poll() is not None:
                raise AssertionError(f"make run exited {self.proc.returncode}:\n{self.output}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} from make run within {timeout}s:\n{self.output}")
            time.sleep(0.1)

    def lines_for(self, path, headers=None) -> tuple[int, list[str]]:
        """Send one request; the log lines it caused (the output is read until quiet)."""
        start = len(self.read())
        request = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status = response.status
                response.read()
        except urllib.error.HTTPError as error:
            status = error.code
        time.sleep(0.5)
        return status, [line for line in self.read()[start:].splitlines() if line.strip()]

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)  # make, uvicorn's reloader and its worker
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc.stdout.close()


@pytest.fixture
def make_run():
    if shutil.which("make") is None:
        pytest.fail("make is not installed", pytrace=False)
    server = MakeRun()
    yield server
    server.stop()


def test_each_request_is_logged_once_by_the_app(make_run):
    for path, status, kind in [
        ("/api/v1/menu-items", 401, "api"),  # a 4xx: no second line from Django's warning
        ("/favicon.ico", 200, "http"),
        ("/admin/login/", 200, "http"),
        ("/api/v1/no-such-thing", 404, "api"),
    ]:
        got, lines = make_run.lines_for(path, {"Accept": "application/json"})
        assert got == status, (path, got)
        assert len(lines) == 1, (path, lines)
        assert f"{kind} request method=GET path={path} status={status} " in lines[0], lines

    output = make_run.output
    assert output.count("Started reloader process") == 1, output
    assert "Not Found" not in output and "favicon.ico status=404" not in output
