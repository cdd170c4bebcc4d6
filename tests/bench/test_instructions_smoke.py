"""bench/instructions.py still works: statements per endpoint and a callgrind count.

Not a benchmark: one flow and one move, so the one command of issue 17 does not rot. Needs
PostgreSQL, Redis, valgrind and gcc.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .test_bench_smoke import _drop_database

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.mark.timeout(400)
def test_instructions_bench_counts_statements_and_instructions():
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    missing = [tool for tool in ("valgrind", "gcc") if shutil.which(tool) is None]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing} needed for bench/instructions.py")
        pytest.skip(f"needs {missing}")
    database = f"{os.environ['DATABASE_URL'].rsplit('/', 1)[0]}/bench_instr_{os.getpid()}"
    try:
        run = subprocess.run(
            [sys.executable, "bench/instructions.py", "--flows", "1", "--moves", "1", "--warmup", "1"],
            cwd=ROOT, env=dict(os.environ, BENCH_DATABASE_URL=database),
            capture_output=True, text=True, timeout=360,
        )
    finally:
        _drop_database(database)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    # The keyed budgets of tests/orders/test_query_budget.py, seen from the bench.
    budgets = {"create": 5, "add item": 7, "confirm": 8, "item move": 9}
    assert report["statements"].keys() == budgets.keys(), report
    assert all(report["statements"][name] <= budget for name, budget in budgets.items()), report
    # Only the measured section is collected: millions, not the billions of a Django start-up.
    assert 10e6 < report["instructions_per_flow"] < 400e6, report
    assert 3e6 < report["instructions_per_move"] < 150e6, report
    # Each endpoint of the flow counted on its own, the flow their sum.
    parts = [report[f"instructions_per_{name}"] for name in ("create", "add", "confirm")]
    assert all(part > 1e6 for part in parts) and sum(parts) == report["instructions_per_flow"], report
