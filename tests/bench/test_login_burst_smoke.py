"""bench/login_burst.py still works: its smallest mode runs and writes a result file with
every window, and each login of the burst is answered."""

import json
import subprocess
import sys

import pytest

from .test_bench_smoke import ROOT, _drop_database, _requirements, _scratch_database

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.mark.timeout(400)
def test_smoke_run_writes_every_window_and_answers_every_login(tmp_path):
    _requirements()
    database, env = _scratch_database("bench_login_smoke")
    try:
        run = subprocess.run(
            [sys.executable, "bench/login_burst.py", "--smoke", "--out", str(tmp_path)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )
    finally:
        _drop_database(database)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    [result_file] = tmp_path.glob("login-burst-*.json")
    summary = json.loads(result_file.read_text())["summary"]
    assert summary["logins"]["statuses"] == {"200": 10}
    assert set(summary["windows"]) == {"before", "during", "after"}
    assert summary["windows"]["before"]["delivery_ms"]["count"] > 0
    assert summary["deliveries"] == summary["expected_deliveries"]
    assert list(tmp_path.glob("login-burst-*.md"))
