"""A shift's logins at once: 50 logins within one second against one `web` worker (uvicorn,
as bench/run.py starts it) that holds 1,000 `/ws/events/` sockets and serves item
transitions at a steady rate and a steady REST read.

    .venv/bin/python bench/login_burst.py               # 1,000 sockets, 2 moves/s, 5 reads/s, 50 logins (~2 min)
    .venv/bin/python bench/login_burst.py --smoke       # 20 sockets, 10 logins (seconds)
    .venv/bin/python bench/login_burst.py --env LOGIN_PASSWORD_CHECKS=2   # a server setting

Reported per window (before: answered before the first login was sent; after: sent after
the last login was answered; during: the rest): event delivery latency from the transition's request to each
socket (p50/p99/max), the transitions' and the reads' (`GET /api/v1/auth/me`) REST
latency, and the logins' own latency and statuses. Each login is a distinct account
from a distinct address (`X-Forwarded-For`, the server trusting one proxy), so that every
one of them is a real password check, none refused by the per-address throttle;
`--one-address` sends them all from one (a restaurant's tablets behind one NAT).

Reuses bench/run.py's server, socket clients, seed and HTTP client; writes
bench/results/login-burst-<timestamp>.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import run as harness  # bench/run.py (this directory is on sys.path when run as a script)

PASSWORD = "bench-login-password-7f3a"
ACCOUNT = "login-{:03d}@bench.test"

MODES = {
    "full": dict(sockets=1000, logins=50, rate=2.0, reads=5.0, before=8.0, after=3.0, orders=600),
    "smoke": dict(sockets=20, logins=10, rate=10.0, reads=10.0, before=1.0, after=1.0, orders=40),
}


def seed_accounts(count: int) -> None:
    """Run in a child process (Django set up there): the login accounts, idempotently."""
    sys.path.insert(0, str(harness.ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "restaurant.settings")
    import django

    django.setup()
    from orders.models import Restaurant, Role, User

    restaurant = Restaurant.objects.get(slug="bench")
    for index in range(count):
        email = ACCOUNT.format(index)
        if not User.objects.filter(email=email).exists():
            User.objects.create_user(email=email, password=PASSWORD, role=Role.WAITER, restaurant=restaurant)


STALE = (IndexError, ConnectionError, asyncio.IncompleteReadError)


async def keepalive_request(http, method, path, token, body=None):
    """harness.Http's request, sent again once on a fresh connection when the kept-alive one
    it took had been closed by the server meanwhile (uvicorn closes idle ones after 5 s),
    as browsers do; timed from the first send."""
    first = time.monotonic()
    try:
        return await http.request(method, path, token, body, timeout=120)
    except STALE:
        http.close()
        status, payload, _, received = await http.request(method, path, token, body, timeout=120)
        return status, payload, first, received


async def raw_request(host, port, method, path, body=None, headers=None, timeout=60.0):
    """One request on its own connection (a tablet logging in opens its own)."""
    data = json.dumps(body).encode() if body is not None else b""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
             f"Content-Length: {len(data)}", "Connection: close", *[f"{k}: {v}" for k, v in (headers or {}).items()]]
    sent = time.monotonic()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
        response = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    status = int(response.split(b" ", 2)[1]) if response else 0
    return status, sent, time.monotonic()


class Burst:
    def __init__(self, cfg, base: str, transitions, token: str, one_address: bool = False):
        self.cfg, self.base, self.transitions, self.token = cfg, base, transitions, token
        self.one_address = one_address
        self.moves, self.reads, self.logins = [], [], []

    @staticmethod
    async def open_loop(rate, until, one):
        """Start `one()` `rate` times a second, not waiting for answers, until `until()`."""
        tasks, start, k = [], time.monotonic(), 0
        while not until():
            delay = start + k / rate - time.monotonic()
            k += 1
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one()))
        await asyncio.gather(*tasks)

    async def steady_moves(self, until):
        """Item transitions at `rate` (bench/run.py's `drive`, until the burst is over)."""
        http, busy = harness.Http(self.base), set()

        async def one():
            order, item, target = self.transitions.next()
            if item in busy:  # its previous move is still in flight: take the next item
                order, item, target = self.transitions.next()
            busy.add(item)
            record = {"status": 0, "key": None}
            try:
                record["status"], payload, record["sent"], record["received"] = await keepalive_request(
                    http, "POST", f"/api/v1/orders/{order}/items/{item}/status", self.token, {"status": target})
                if record["status"] == 200:
                    moved = json.loads(payload)
                    self.transitions.status[item] = moved["status"]
                    record["key"] = ["item", moved["id"], moved["status"], moved["updatedAt"]]
            except Exception as exc:  # noqa: BLE001
                record.update(status=0, error=repr(exc), sent=time.monotonic(), received=time.monotonic())
            finally:
                busy.discard(item)
            self.moves.append(record)

        await self.open_loop(self.cfg["rate"], until, one)
        http.close()

    async def steady_reads(self, until):
        http = harness.Http(self.base)

        async def one():
            try:
                status, _, sent, received = await keepalive_request(http, "GET", "/api/v1/auth/me", self.token)
                error = None
            except Exception as exc:  # noqa: BLE001
                status, sent, received, error = 0, time.monotonic(), time.monotonic(), repr(exc)
            self.reads.append({"status": status, "sent": sent, "received": received, "error": error})

        await self.open_loop(self.cfg["reads"], until, one)
        http.close()

    async def burst(self):
        """`logins` logins spread evenly over one second, each its own account and address."""
        address = harness.urlsplit(self.base)
        host, port = address.hostname, address.port
        count = self.cfg["logins"]
        start = time.monotonic()

        async def one(index):
            await asyncio.sleep(max(0.0, start + index / count - time.monotonic()))
            try:
                status, sent, received = await raw_request(
                    host, port, "POST", "/api/v1/auth/login",
                    {"email": ACCOUNT.format(index), "password": PASSWORD},
                    {"X-Forwarded-For": "10.1.0.1" if self.one_address else f"10.1.{index // 250}.{index % 250 + 1}"},
                    timeout=120)
            except Exception:  # noqa: BLE001
                status, sent, received = 0, time.monotonic(), time.monotonic()
            self.logins.append({"status": status, "sent": sent, "received": received})

        await asyncio.gather(*(one(i) for i in range(count)))

    async def run(self):
        done = {"at": None}
        until = lambda: done["at"] is not None and time.monotonic() >= done["at"]  # noqa: E731
        steady = [asyncio.ensure_future(self.steady_moves(until)), asyncio.ensure_future(self.steady_reads(until))]
        await asyncio.sleep(self.cfg["before"])
        await self.burst()
        done["at"] = time.monotonic() + self.cfg["after"]
        await asyncio.gather(*steady)


def window_of(record, burst_start, burst_end):
    """before: answered before the first login was sent; after: sent after the last login
    was answered; during: the rest (in flight at some point of the burst)."""
    if record["received"] < burst_start:
        return "before"
    return "after" if record["sent"] > burst_end else "during"


def summarize(burst: Burst, dumps: list[dict]) -> dict:
    burst_start = min(r["sent"] for r in burst.logins)
    burst_end = max(r["received"] for r in burst.logins)
    windows = {w: {"moves": [], "reads": [], "deliveries": [], "errors": {}} for w in ("before", "during", "after")}
    by_key = {}
    for r in burst.moves:
        w = windows[window_of(r, burst_start, burst_end)]
        if r["status"] == 200:
            w["moves"].append((r["received"] - r["sent"]) * 1000)
            by_key[tuple(r["key"])] = r
        else:
            kind = f"move {r['status'] or r.get('error', '')[:40]}"
            w["errors"][kind] = w["errors"].get(kind, 0) + 1
    for r in burst.reads:
        w = windows[window_of(r, burst_start, burst_end)]
        if r["status"] == 200:
            w["reads"].append((r["received"] - r["sent"]) * 1000)
        else:
            kind = f"read {r['status'] or (r.get('error') or '')[:40]}"
            w["errors"][kind] = w["errors"].get(kind, 0) + 1
    delivered = 0
    for dump in dumps:
        for event in dump["events"]:
            record = by_key.get(tuple(event["key"])) if event["key"] else None
            if record is None:
                continue
            w = windows[window_of(record, burst_start, burst_end)]
            for t in event["times"]:
                w["deliveries"].append((t - record["sent"]) * 1000)
                delivered += 1
    statuses = {}
    for r in burst.logins:
        statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
    return {
        "burst_seconds": round(burst_end - burst_start, 2),
        "logins": {"statuses": statuses,
                   "latency_ms": harness.percentiles([(r["received"] - r["sent"]) * 1000 for r in burst.logins])},
        "windows": {
            name: {"moves": len(w["moves"]), "errors": w["errors"],
                   "delivery_ms": harness.percentiles(w["deliveries"]),
                   "move_rest_ms": harness.percentiles(w["moves"]), "read_rest_ms": harness.percentiles(w["reads"])}
            for name, w in windows.items()
        },
        "deliveries": delivered, "expected_deliveries": len(by_key) * sum(d["sockets"] for d in dumps),
    }


def markdown(result) -> str:
    m, s = result["meta"], result["summary"]
    lines = [f"# Login burst ({m['started']})", "",
             f"Command: `{m['command']}`; {m['nproc']} cores, {m['cpu']}; load {m['loadavg_start']} → {m['loadavg_end']}; "
             f"server env {m['server_env'] or '{}'}.", "",
             f"{s['logins']['latency_ms']['count']} logins in one second (distinct accounts, "
             f"{'one address' if m.get('one_address') else 'distinct addresses'}), "
             f"{m['sockets']} sockets, {m['rate']:g} transitions/s and {m['reads']:g} reads/s. "
             f"The burst lasted {s['burst_seconds']} s (first login sent → last answered). "
             f"Deliveries {s['deliveries']} of {s['expected_deliveries']}. Server CPU {m['server_cpu_pct']}%.", "",
             f"Logins: statuses {s['logins']['statuses']}, latency p50 / p99 / max "
             f"{s['logins']['latency_ms']['median_ms']} / {s['logins']['latency_ms']['p99_ms']} / {s['logins']['latency_ms']['max_ms']} ms.", "",
             "| window | moves | delivery p50 / p99 / max ms (from the request) | move REST p50 / p99 / max ms | read REST p50 / p99 / max ms | errors |",
             "|---|---:|---|---|---|---|"]
    for name, w in s["windows"].items():
        fmt = lambda p: f"{p['median_ms']} / {p['p99_ms']} / {p['max_ms']}"  # noqa: E731
        errors = ", ".join(f"{k}: {v}" for k, v in w["errors"].items()) or "0"
        lines.append(f"| {name} | {w['moves']} | {fmt(w['delivery_ms'])} | {fmt(w['move_rest_ms'])} | {fmt(w['read_rest_ms'])} | {errors} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny: checks the harness works")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="a setting for the server")
    parser.add_argument("--one-address", action="store_true",
                        help="every login from one address (tablets behind one NAT): the per-address throttle counts them all")
    parser.add_argument("--out", default=str(harness.BENCH / "results"))
    parser.add_argument("--seed-accounts", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed_accounts is not None:
        seed_accounts(args.seed_accounts)
        return
    mode = "smoke" if args.smoke else "full"
    cfg = MODES[mode]
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    outdir = Path(args.out)
    bench = harness.Bench("smoke", None, outdir / f"login-burst-{stamp}")
    bench.cfg = dict(bench.cfg, orders=cfg["orders"])
    meta = bench._meta()
    meta.update(command=" ".join([".venv/bin/python", "bench/login_burst.py", *sys.argv[1:]]), mode=mode,
                sockets=cfg["sockets"], rate=cfg["rate"], reads=cfg["reads"], one_address=args.one_address)
    harness.log(f"login burst ({mode}): load average {harness.loadavg()}")
    bench.setup()
    harness.log(f"seeding {cfg['logins']} login accounts (first run: ~{cfg['logins'] // 4} s of hashing)")
    subprocess.run([harness.PY, __file__, "--seed-accounts", str(cfg["logins"])], cwd=harness.ROOT,
                   env=bench.env(), check=True)
    extra = dict(item.split("=", 1) for item in args.env)
    meta["server_env"] = extra
    server = bench.server("login-burst-uvicorn", "uvicorn", TRUSTED_PROXY_COUNT="1", **extra)
    token = bench.data["tokens"]["manager"]
    pool = None
    try:
        transitions = bench.reset_items()
        harness.log(f"connecting {cfg['sockets']} sockets")
        pool = bench.pools(server.base.replace("http", "ws"), "ws", cfg["sockets"], token)
        asyncio.run(harness.drive(server.base, transitions, cfg["rate"], 1.0))  # warm-up
        time.sleep(0.5)
        pool.reset()
        cpu0, wall0 = harness.proc_cpu_seconds(server.pid), time.monotonic()
        burst = Burst(cfg, server.base, transitions, token, one_address=args.one_address)
        harness.log(f"steady load for {cfg['before']:g} s, then {cfg['logins']} logins in one second")
        asyncio.run(burst.run())
        expected = sum(1 for r in burst.moves if r["status"] == 200) * pool.connected
        harness.settle(pool.count, expected)
        meta["server_cpu_pct"] = round(100 * (harness.proc_cpu_seconds(server.pid) - cpu0) / (time.monotonic() - wall0), 1)
        dumps = pool.dump(bench.logdir)
    finally:
        if pool is not None:
            pool.close()
        server.stop()
    meta["loadavg_end"] = harness.loadavg()
    result = {"meta": meta, "summary": summarize(burst, dumps),
              "logins": burst.logins}
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / f"login-burst-{stamp}.json").write_text(json.dumps(result, indent=1))
    (outdir / f"login-burst-{stamp}.md").write_text(markdown(result))
    print(markdown(result))
    harness.log(f"wrote {outdir / f'login-burst-{stamp}.json'}")


if __name__ == "__main__":
    main()
