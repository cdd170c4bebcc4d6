"""Server instructions per POS order flow and per item move over HTTP, under callgrind.

    .venv/bin/python bench/server_instructions.py                    # ~2 min on 2 cores
    .venv/bin/python bench/server_instructions.py --variant HTTP_THREADS=0   # + a variant
    .venv/bin/python bench/server_instructions.py --flows 20 --moves 40

`bench/instructions.py` counts the endpoints in-process, through Django's test client; this
counts what the Procfile's `web` server (uvicorn, uvloop, httptools, one worker) executes for
them over loopback: its HTTP parsing, the ASGI application, Django's request handling, the
event loop's side of the after-commit publishing and of the event stream, every thread of the
process. The server runs under `valgrind --tool=callgrind --instr-atstart=no`; after a
warm-up, `callgrind_control` zeroes the counters, switches collection on for the measured
flows (create -> add item -> confirm, every POST with an Idempotency-Key), dumps, and does the
same for the item moves. The client is bench/run.py's sequential one (one request at a time),
against its seeded database (`BENCH_DATABASE_URL`) and Redis (`REDIS_URL`).

Instruction counts do not depend on what else the machine runs, so two variants (an
environment setting each, `--variant NAME=VALUE`, repeatable) can be compared on a busy
machine; each is its own server start. Needs valgrind (callgrind_control).
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run as harness  # noqa: E402  - bench/run.py: its seeding, server start and client


def _callgrind(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def _dumped_total(directory: Path, pid: int) -> int:
    newest = max(glob.glob(str(directory / f"callgrind.{pid}.out.*")), key=os.path.getmtime)
    with open(newest) as dump:
        for line in dump:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {newest}")


def measure(bench, name: str, env: dict, flows: int, moves: int, warmup: int, workdir: Path) -> dict:
    wrapper = workdir / "python-under-callgrind"
    wrapper.write_text(
        "#!/bin/sh\nexec valgrind --tool=callgrind --instr-atstart=no "
        f"--callgrind-out-file={workdir}/callgrind.%p.out {harness.PY} \"$@\"\n")
    wrapper.chmod(0o755)
    harness.PY, python = str(wrapper), harness.PY
    try:
        server = bench.server(name, "uvicorn", **env)
    finally:
        harness.PY = python
    try:
        transitions = bench.reset_items()
        asyncio.run(bench.sequential(server, transitions, warmup, warmup))
        counts = {}
        for step, count in (("flow", flows), ("move", moves)):
            _callgrind(server.pid, "-z")
            _callgrind(server.pid, "-i", "on")
            done = asyncio.run(bench.sequential(
                server, transitions, count if step == "flow" else 0, count if step == "move" else 0))
            time.sleep(0.5)  # the last request's after-commit publishing is part of it
            _callgrind(server.pid, "-d")
            _callgrind(server.pid, "-i", "off")
            if done["errors"]:
                raise SystemExit(f"{name}: {done['errors']}")
            counts[step] = _dumped_total(workdir, server.pid) / count
    finally:
        server.stop()
    return {"variant": name, "env": env, "instructions_per_flow": round(counts["flow"]),
            "instructions_per_move": round(counts["move"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flows", type=int, default=30)
    parser.add_argument("--moves", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=VALUE",
                        help="also measure a server started with this environment setting")
    args = parser.parse_args()
    os.environ.setdefault("BENCH_START_TIMEOUT", "300")  # Django starts ~50x slower under valgrind
    with tempfile.TemporaryDirectory(prefix="server-instructions-") as tmp:
        workdir = Path(tmp)
        bench = harness.Bench("quick", {"flow_cpu"}, workdir / "bench", configs=["ours-uvicorn"])
        bench.logdir.mkdir(parents=True, exist_ok=True)
        bench.setup()
        variants = [("as configured", {})] + [
            (variant, dict([variant.split("=", 1)])) for variant in args.variant]
        for name, env in variants:
            row = measure(bench, name, env, args.flows, args.moves, args.warmup, workdir)
            print(f"{name}: {row['instructions_per_flow'] / 1e6:.1f} M per flow, "
                  f"{row['instructions_per_move'] / 1e6:.1f} M per move "
                  f"({args.flows} flows, {args.moves} moves, callgrind)", flush=True)


if __name__ == "__main__":
    main()
