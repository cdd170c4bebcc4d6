"""Instructions (valgrind callgrind) and SQL statements per hot REST endpoint, in-process.

    .venv/bin/python bench/instructions.py            # ~1.5 min on 2 cores
    .venv/bin/python bench/instructions.py --flows 10 --moves 10 --no-valgrind

Runs the POS flow (create order -> add item -> confirm) and the kitchen's item move through
Django's test client (the whole WSGI request path: middleware, DRF, JWT, services, outbox)
against PostgreSQL, every POST with an `Idempotency-Key` as POS clients send it. Two passes:

1. natively: SQL statements per endpoint (BEGIN/COMMIT/SAVEPOINT excluded, as in
   tests/orders/test_query_budget.py) and process CPU per flow / move (noisy);
2. under `valgrind --tool=callgrind`, collecting only the measured section (client requests
   from bench/callgrind_marks.c, compiled on the fly): instructions per flow / move, which do
   not depend on what else runs on the machine (repeatable to ~1 %).

Needs PostgreSQL (`BENCH_DATABASE_URL`, default
postgres://postgres@127.0.0.1:5432/bench_instructions, created and migrated if missing),
valgrind and gcc. The relay's publishing of the section's events (its own thread, to Redis) is counted;
socket fan-out is not (bench/run.py measures it).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bench_instructions"


def child_env() -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB),
        SECRET_KEY="bench-instructions-secret-key-not-for-production-0123456789",
        DEBUG="0", ALLOWED_HOSTS="testserver", ACCESS_TOKEN_LIFETIME="86400",
        LOG_LEVEL="WARNING", PYTHONHASHSEED="0", DJANGO_SETTINGS_MODULE="restaurant.settings",
        # No timers in the measured process: the relay publishes what each request committed
        # (drained inside each measured section), not sweeps and heartbeats at random times.
        OUTBOX_SWEEP="0", WS_HEARTBEAT_INTERVAL="0",
    )
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    return env


def ensure_database(env: dict) -> None:
    import psycopg

    url = env["DATABASE_URL"]
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)


def compile_marks(directory: Path) -> Path:
    library = directory / "callgrind_marks.so"
    subprocess.run(["gcc", "-O1", "-shared", "-fPIC", "-o", str(library), str(BENCH / "callgrind_marks.c")], check=True)
    return library


# --- the measured process --------------------------------------------------------------


class Floor:
    """A restaurant, its waiter and kitchen, one open table session; tokens as login issues."""

    def __init__(self):
        from orders import services
        from orders.auth_services import _issue
        from orders.models import Restaurant, Role, Table, User

        tag = uuid.uuid4().hex[:8]
        self.restaurant = Restaurant.objects.create(name=f"Instr {tag}", slug=f"instr-{tag}")
        self.waiter = User.objects.create_user(
            email=f"waiter-{tag}@bench.test", password="x", role=Role.WAITER, restaurant=self.restaurant)
        self.kitchen = User.objects.create_user(
            email=f"kitchen-{tag}@bench.test", password="x", role=Role.KITCHEN, restaurant=self.restaurant)
        table = Table.objects.create(restaurant=self.restaurant, name="I1")
        self.session = services.table_session_open(actor=self.waiter, table=table)
        from steady import revocation_marks_in_place

        revocation_marks_in_place()
        self.tokens = {
            "waiter": _issue(self.waiter).access_token, "kitchen": _issue(self.kitchen).access_token,
        }

    def confirmed_orders(self, count: int) -> list[tuple[str, str]]:
        from decimal import Decimal

        from orders import services

        made = []
        for _ in range(count):
            order = services.order_create(actor=self.waiter, table_session=self.session)
            item = services.order_item_add(actor=self.waiter, order=order, qty=1, name="Soup", unit_price=Decimal("4.50"))
            services.order_item_add(actor=self.waiter, order=order, qty=1, name="Bread", unit_price=Decimal("1.00"))
            services.order_confirm(actor=self.waiter, order=order)
            made.append((str(order.pk), str(item.pk)))
        return made


def post(client, token: str, path: str, body: dict, expected: int) -> dict:
    response = client.post(
        path, json.dumps(body), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )
    if response.status_code != expected:
        raise SystemExit(f"POST {path}: {response.status_code} {response.content[:500]!r}")
    return response.json()


def order_create(client, floor: Floor) -> str:
    body = {"tableSessionId": str(floor.session.pk)}
    return post(client, floor.tokens["waiter"], "/api/v1/orders", body, 201)["id"]


def item_add(client, floor: Floor, order_id: str) -> None:
    body = {"name": "Soup", "qty": 2, "unitPrice": "4.50"}
    post(client, floor.tokens["waiter"], f"/api/v1/orders/{order_id}/items", body, 201)


def order_confirm(client, floor: Floor, order_id: str) -> None:
    post(client, floor.tokens["waiter"], f"/api/v1/orders/{order_id}/confirm", {}, 200)


def order_flow(client, floor: Floor) -> None:
    order_id = order_create(client, floor)
    item_add(client, floor, order_id)
    order_confirm(client, floor, order_id)


def item_move(client, floor: Floor, order_id: str, item_id: str) -> None:
    post(client, floor.tokens["kitchen"], f"/api/v1/orders/{order_id}/items/{item_id}/status",
         {"status": "IN_PROGRESS"}, 200)


def count_statements(client, floor: Floor) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def statements(captured):
        return sum(1 for q in captured.captured_queries
                   if q["sql"].split()[0].upper() not in {"BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"})

    token = floor.tokens["waiter"]
    counts = {}
    with CaptureQueriesContext(connection) as captured:
        order = post(client, token, "/api/v1/orders", {"tableSessionId": str(floor.session.pk)}, 201)
    counts["create"] = statements(captured)
    with CaptureQueriesContext(connection) as captured:
        post(client, token, f"/api/v1/orders/{order['id']}/items", {"name": "Soup", "qty": 2, "unitPrice": "4.50"}, 201)
    counts["add item"] = statements(captured)
    with CaptureQueriesContext(connection) as captured:
        post(client, token, f"/api/v1/orders/{order['id']}/confirm", {}, 200)
    counts["confirm"] = statements(captured)
    ((order_id, item_id),) = floor.confirmed_orders(1)
    with CaptureQueriesContext(connection) as captured:
        item_move(client, floor, order_id, item_id)
    counts["item move"] = statements(captured)
    return counts


def measured(args) -> None:
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.test import Client

    from realtime.relay import publish_pending_now

    marks = ctypes.CDLL(args.marks) if args.marks else None
    client = Client()
    floor = Floor()
    result = {}
    moves = floor.confirmed_orders(args.warmup + args.moves)
    for _ in range(args.warmup):  # imports, caches, pool connections: not per-request costs
        order_flow(client, floor)
        item_move(client, floor, *moves.pop())
    if marks is None:
        result["statements"] = count_statements(client, floor)

    def section(name, count, run):
        publish_pending_now()  # the setup's events are not this section's
        gc.collect()  # nor its garbage
        cpu = time.process_time()
        if marks:
            marks.marks_start()
        for number in range(count):
            run(number)
        publish_pending_now()  # the section's own events, published after commit: counted
        if marks:
            marks.marks_stop(name.encode())
        result[f"cpu_ms_per_{name}"] = round((time.process_time() - cpu) * 1000 / count, 2)

    # The flow endpoint by endpoint: each section is one endpoint over `flows` orders.
    created = []
    section("create", args.flows, lambda _: created.append(order_create(client, floor)))
    section("add", args.flows, lambda number: item_add(client, floor, created[number]))
    section("confirm", args.flows, lambda number: order_confirm(client, floor, created[number]))
    result["cpu_ms_per_flow"] = round(sum(result[f"cpu_ms_per_{n}"] for n in FLOW_ENDPOINTS), 2)
    section("move", args.moves, lambda number: item_move(client, floor, *moves[number]))
    print("RESULT " + json.dumps(result), flush=True)


FLOW_ENDPOINTS = ("create", "add", "confirm")


def run_child(env, args, prefix: list[str], extra: list[str]) -> dict:
    command = [*prefix, sys.executable, str(Path(__file__).resolve()), "--child",
               "--flows", str(args.flows), "--moves", str(args.moves), "--warmup", str(args.warmup), *extra]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def callgrind_totals(directory: Path) -> dict:
    totals = {}
    for dump in sorted(directory.glob("callgrind.out.*")):
        text = dump.read_text(errors="replace")
        trigger = re.search(r"^desc: Trigger: Client Request: (\S+)", text, re.M)
        total = re.search(r"^(?:totals|summary): (\d+)", text, re.M)
        if trigger and total:
            totals[trigger.group(1)] = int(total.group(1))
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flows", type=int, default=10, help="measured order flows (default 10)")
    parser.add_argument("--moves", type=int, default=20, help="measured item moves (default 20)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-valgrind", action="store_true", help="statements and CPU only")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--marks", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measured(args)
        return

    env = child_env()
    ensure_database(env)
    native = run_child(env, args, [], [])
    report = {"statements": native["statements"],
              "cpu_ms_per_flow": native["cpu_ms_per_flow"], "cpu_ms_per_move": native["cpu_ms_per_move"]}
    if not args.no_valgrind:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            library = compile_marks(directory)
            run_child(env, args, [
                "valgrind", "--tool=callgrind", "--collect-atstart=no", "--dump-instr=no",
                f"--callgrind-out-file={directory}/callgrind.out.%p", "--quiet",
            ], ["--marks", str(library)])
            totals = callgrind_totals(directory)
        for name in FLOW_ENDPOINTS:
            report[f"instructions_per_{name}"] = totals[name] // args.flows
        report["instructions_per_flow"] = sum(report[f"instructions_per_{n}"] for n in FLOW_ENDPOINTS)
        report["instructions_per_move"] = totals["move"] // args.moves
    s = report["statements"]
    print(f"statements: create {s['create']}, add item {s['add item']}, confirm {s['confirm']} "
          f"(flow {s['create'] + s['add item'] + s['confirm']}), item move {s['item move']}")
    print(f"CPU (native, noisy): {report['cpu_ms_per_flow']} ms per flow, {report['cpu_ms_per_move']} ms per move")
    if "instructions_per_flow" in report:
        print(f"instructions: {report['instructions_per_flow'] / 1e6:.1f} M per flow (create "
              f"{report['instructions_per_create'] / 1e6:.1f}, add item {report['instructions_per_add'] / 1e6:.1f}, "
              f"confirm {report['instructions_per_confirm'] / 1e6:.1f}), "
              f"{report['instructions_per_move'] / 1e6:.1f} M per move "
              f"({args.flows} flows, {args.moves} moves, callgrind)")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
