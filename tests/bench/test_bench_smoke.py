"""The benchmark harness still works: its smallest mode runs and writes a result file.

Benchmarks are not tests; this only keeps bench/run.py from rotting. It needs PostgreSQL,
Redis and Node (for the peer in bench/peer); a few seconds of tiny N.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

SCENARIOS = ("fanout", "max_rate", "idle_rss", "two_workers", "rest_flow", "flow_cpu")
LATENCY_KEYS = ("sockets", "median_ms", "p99_ms", "max_ms", "missing", "from_request", "server_cpu_pct", "client_cpu_pct")


def _requirements():
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs Redis (REDIS_URL)")
    if shutil.which("node") is None or shutil.which("npm") is None:
        if os.environ.get("CI"):
            pytest.fail("Node and npm are needed for the bench peer")
        pytest.skip("needs Node and npm (bench/peer)")
    # The bench's own pinned tools (uvicorn, matplotlib), like the Socket.IO tests' `npm ci`.
    probe = subprocess.run([sys.executable, "-c", "import uvicorn, uvloop, matplotlib"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "-r", str(ROOT / "bench" / "requirements.txt")],
            check=True, timeout=240,
        )


def _scratch_database(name: str) -> tuple[str, dict]:
    """A bench database of this test run's own (beside the test database), and the
    environment that points a bench script at it; `_drop_database` drops it."""
    database = f"{os.environ['DATABASE_URL'].rsplit('/', 1)[0]}/{name}_{os.getpid()}"
    return database, dict(os.environ, BENCH_DATABASE_URL=database)


def _drop_database(url):
    import psycopg

    admin, name = url.rsplit("/", 1)
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.timeout(400)
def test_smoke_run_writes_a_result_file_with_every_scenario(tmp_path):
    _requirements()
    database, env = _scratch_database("bench_smoke")
    # Its own process group: a run that times out takes its servers and clients with it.
    run = subprocess.Popen(
        [sys.executable, "bench/run.py", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        stdout, stderr = run.communicate(timeout=180)  # ~80 s at load 14 on 2 cores
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)
        stdout, stderr = run.communicate()
    finally:
        _drop_database(database)
    assert run.returncode == 0, stdout[-3000:] + stderr[-3000:]
    results = list(tmp_path.glob("*.json"))
    assert len(results) == 1, list(tmp_path.iterdir())
    data = json.loads(results[0].read_text())
    assert {"meta", "scenarios", "targets"} <= data.keys()
    assert data["meta"]["mode"] == "smoke" and data["meta"]["nproc"] >= 1
    for name in SCENARIOS:
        assert data["scenarios"][name], f"scenario {name} produced nothing"
    for row in data["scenarios"]["fanout"] + data["scenarios"]["two_workers"]:
        assert set(LATENCY_KEYS) <= row.keys(), row.keys()
        assert row["missing"] == 0, row
        assert row["median_ms"] is not None
    assert {"peer", "ours-uvicorn-pubsub-ws"} <= {row["config"] for row in data["scenarios"]["fanout"]}
    assert all(p["per_socket_kib"] is not None for row in data["scenarios"]["idle_rss"] for p in row["points"])
    assert all(row["orders_per_s"] > 0 for row in data["scenarios"]["rest_flow"])
    cpu = {row["config"]: row for row in data["scenarios"]["flow_cpu"]}
    assert set(cpu) == {"peer", "ours-uvicorn"}
    for row in cpu.values():
        assert row["errors"] == {} and row["flows"] == 4 and row["moves"] == 8, row
        assert row["cpu_ms_per_flow"] is not None and row["cpu_ms_per_move"] is not None
        # Every keyed POST stored its answer, on both servers (3 per flow, 1 per move).
        assert row["rows_per_flow"]["idempotency"] == 3 and row["rows_per_move"]["idempotency"] == 1, row
        assert row["retry_replayed"] is True, row  # a retried create answers the same order
    # Ours writes the history and the outbox rows with each change (the peer has neither).
    assert cpu["ours-uvicorn"]["rows_per_flow"]["history"] == 3 and cpu["ours-uvicorn"]["rows_per_move"]["outbox"] == 1
    assert list(tmp_path.glob("*.md")) and list(tmp_path.glob("*.png"))
