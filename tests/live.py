"""Real servers for tests that cross process boundaries: web workers, Redis, relays.

A web worker runs the Procfile's `web` command (the ASGI server and options production
runs), bound to loopback on a free port.

They run against the test database pytest-django created (so tests using them need
committed data: `django_db(transaction=True)`).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"


def screenshot_path(name: str) -> Path:
    """Where a browser test saves the screenshot the docs show: tests/artifacts/ (ignored by
    git), or docs/ itself with UPDATE_DOCS_SCREENSHOTS=1, so that a test run leaves the
    committed pictures alone unless asked to retake them."""
    folder = ROOT / "docs" if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1" else ARTIFACTS
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_database_url(application_name: str | None = None) -> str:
    """The test database's URL; on PostgreSQL, `application_name` names the connections made
    with it, so that `database_sessions` tells which backends are a given process's."""
    settings = connection.settings_dict
    if settings["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or "postgres"
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    url = f"postgres://{user}{password}@{settings.get('HOST') or '127.0.0.1'}:{settings.get('PORT') or 5432}/{settings['NAME']}"
    return f"{url}?{urlencode({'application_name': application_name})}" if application_name else url


def database_sessions(application_name: str) -> list[dict]:
    """The test database's PostgreSQL backends of the connections named `application_name`:
    what each is running, what it waits on, and the backends that block it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, state, wait_event_type, query, pg_blocking_pids(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            [application_name],
        )
        columns = ("pid", "state", "wait_event_type", "query", "blocked_by")
        return [dict(zip(columns, row)) for row in cursor.fetchall()]


def wait_sessions_ended(application_name: str, timeout: float = 30.0) -> None:
    """Wait until no backend of the connections named `application_name` is left.

    A process killed with SIGKILL leaves its backends behind for a moment: one whose COMMIT
    was sent before the kill still commits (late, on a loaded machine), every other one rolls
    back. Only once they are gone does the database hold what that process finally did."""
    deadline = time.monotonic() + timeout
    while sessions := database_sessions(application_name):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{application_name}'s backends still there: {sessions}")
        time.sleep(0.02)


def server_env(**extra) -> dict:
    from django.conf import settings

    env = dict(os.environ)
    env.update(
        DATABASE_URL=test_database_url(),
        SECRET_KEY=settings.SECRET_KEY,
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    env.update({k: str(v) for k, v in extra.items()})
    return env


def _log(name: str):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return open(ARTIFACTS / f"{name}.log", "ab")


class Process:
    def __init__(self, args, env, name):
        self.name = name
        self.log = _log(name)
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


def procfile_command(process_type: str) -> list[str]:
    """The Procfile's command for `process_type`, as argv (variables left in place)."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process_type:
            return shlex.split(command)
    raise LookupError(f"no {process_type!r} in the Procfile")


# The ASGI servers' options for WebSocket keepalive pings: (interval, timeout).
_PING_OPTIONS = {
    "uvicorn": ("--ws-ping-interval", "--ws-ping-timeout"),
    "daphne": ("--ping-interval", "--ping-timeout"),
}


_SHELL_DEFAULT = re.compile(r"^\$\{(\w+):-([^}]*)\}$")


def web_command(port: int, ping: tuple[float, float] | None = None, workers: int | None = None) -> list[str]:
    """The Procfile's `web` line on 127.0.0.1:`port`, run by this interpreter; `ping`
    replaces its keepalive interval and timeout; `workers` is WEB_CONCURRENCY (otherwise
    the Procfile's default)."""
    server, *options = procfile_command("web")
    replace = {"$PORT": str(port), "0.0.0.0": "127.0.0.1"}
    variables = {"WEB_CONCURRENCY": str(workers)} if workers is not None else {}

    def expand(option):
        default = _SHELL_DEFAULT.match(option)
        if default:  # ${NAME:-default}, as the shell running the Procfile expands it
            return variables.pop(default.group(1), default.group(2))
        return replace.get(option, option)

    options = [expand(option) for option in options]
    if variables:
        raise LookupError(f"the Procfile's `web` does not read {sorted(variables)}")
    if ping is not None:
        for option, value in zip(_PING_OPTIONS[server], ping):
            options[options.index(option) + 1] = str(value)
    return [sys.executable, "-m", server, *options]


class WebServer(Process):
    def __init__(self, name="web", ping: tuple[float, float] | None = None, workers: int | None = None, **env):
        """A Procfile `web` process (`workers`: its WEB_CONCURRENCY); `env`: settings of its
        own (e.g. OUTBOX_SWEEP="0")."""
        self.port = free_port()
        super().__init__(web_command(self.port, ping, workers), server_env(**env), name)
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws/events/"
        try:
            # Several workers each import the app at once: on a busy 2-core machine, slower.
            self._wait_ready(60.0 if workers and workers > 1 else 20.0)
        except BaseException:
            self.stop()  # not left running (with its workers) when it did not come up
            raise

    def _wait_ready(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see tests/artifacts")
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=1).read()
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not come up in {timeout}s")

    def request(self, method, path, body=None, token=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss_bytes(self) -> int:
        """Resident memory of the server process (VmRSS)."""
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def login(self, email, password):
        status, body = self.request("POST", "/api/v1/auth/login", {"email": email, "password": password})
        assert status == 200, body
        return body["accessToken"]


class RedisServer(Process):
    """A Redis of the test's own, so that it can be stopped and restarted at will."""

    def __init__(self, name="redis"):
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.port = free_port()
        self.binary = binary
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._start(name)

    def _start(self, name):
        super().__init__(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            dict(os.environ), name,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def restart(self, down_for: float = 0.0, while_down=None):
        self.stop()
        if while_down:
            while_down()
        time.sleep(down_for)
        self._start(self.name)


def manage(*args, env=None, timeout=60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env or server_env(),
        capture_output=True, text=True, timeout=timeout,
    )
