"""The README's deployment, as shipped: compose.yaml runs the Procfile's processes with the
Procfile's options, Caddy routes to `api` the paths the README says, the Python version is
pinned once, and hosted Redis over TLS (rediss://) reaches both the channel layer and the
cache. (compose.yaml itself cannot run here: no container daemon.)"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import yaml

from ..live import ROOT, procfile_command

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
PROCFILE_VALUES = {"$PORT": "8000", "0.0.0.0:${API_PORT:-8001}": "0.0.0.0:8001", "${WEB_CONCURRENCY:-2}": "2"}


def procfile(process_type):
    return [PROCFILE_VALUES.get(arg, arg) for arg in procfile_command(process_type)]


def test_compose_runs_the_procfile_processes_with_their_options():
    assert COMPOSE["web"]["command"] == procfile("web")
    assert COMPOSE["api"]["command"] == procfile("api")
    assert COMPOSE["relay"]["command"] == procfile("relay")
    assert COMPOSE["release"]["command"] == procfile("release")
    for name in ("web", "api", "relay"):
        assert COMPOSE[name]["depends_on"]["release"]["condition"] == "service_completed_successfully"
    environment = COMPOSE["web"]["environment"]
    assert environment["BEHIND_TLS_PROXY"] == "1" and environment["TRUSTED_PROXY_COUNT"] == "1"
    assert "ports" not in COMPOSE["web"] and "ports" not in COMPOSE["api"]  # only via the proxy


def test_the_proxy_routes_to_api_what_the_readme_says():
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    routed = re.search(r"@api path (.+)", caddyfile).group(1).split()
    assert routed == ["/api/*", "/admin/*", "/static/*"]
    readme = (ROOT / "README.md").read_text()
    assert "send `/api/`, `/admin/` and `/static/` there" in readme


def test_python_version_is_pinned_once():
    pinned = (ROOT / ".python-version").read_text().strip()
    assert pinned == f"{sys.version_info.major}.{sys.version_info.minor}" == "3.11"
    assert f"FROM python:{pinned}-slim" in (ROOT / "Dockerfile").read_text()


def test_hosted_redis_over_tls_reaches_the_channel_layer_and_the_cache():
    url = "rediss://:secret@redis.example.com:6380/0?ssl_cert_reqs=required"
    script = (
        "import json; from django.conf import settings; "
        "print(json.dumps([settings.CHANNEL_LAYERS['default']['CONFIG']['hosts'], "
        "settings.CACHES['default']['LOCATION']]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {script}"], cwd=ROOT,
        env={"DJANGO_SETTINGS_MODULE": "restaurant.settings", "SECRET_KEY": "x", "REDIS_URL": url,
             "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    hosts, cache = json.loads(result.stdout)
    assert hosts == [url]
    assert cache == "rediss://:secret@redis.example.com:6380/1?ssl_cert_reqs=required"
