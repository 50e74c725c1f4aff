"""Incremental sync: what a sync costs at a million todos, and what the change record costs
the writes.

    python bench/sync.py reads [--rows 1000000] [--repeat 30] [--database-url URL]
    python bench/sync.py writes --before DIR [--rounds 3] [--duration 5] [--database-url URL]
    python bench/sync.py cpu --before DIR [--rounds 3] [--requests 2000]

`reads` seeds one account with `--rows` todos into a temporary SQLite file (or the
PostgreSQL database `--database-url` names, whose tables it drops), and times through
the Flask test client, each figure a median:

* page 1 of `GET /todos/`, and the sync of one todo changed since its token;
* 50 pages of 20 along `next`, and the sync of 1,000 changed todos (50 pages of 20, and
  10 of 100).

`writes` measures `POST /todos/` and `PATCH /todos/<id>` under wrk at 8 connections
(bench/run.py's load, on `manage.py serve` with 2 workers), for this tree and for the
tree at `--before` (e.g. `git worktree add /tmp/before <commit>`), interleaved round by
round, each round on a new database; it prints each one's median req/s and p99.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import run as load  # bench/run.py: this script's folder comes first on sys.path
from deep_page import account, fresh_app, timed

from api.tools import seed
from models import ApiKey, Todo, User, db, refresh_statistics

PER_PAGE = 20
WALK_PAGES = 50
CHANGES = 1_000
TODOS = "/api/v1/todos/"


def load_next(response) -> str | None:
    link = response.headers.get("Link", "")
    if 'rel="next"' not in link:
        return None
    return load.next_link(link).removeprefix("http://localhost")


def timed_walk(client, url: str, headers: dict, repeat: int, pages: int | None = None):
    """Median milliseconds of walking `url` along `next` (at most `pages` pages)."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        walked, current = 0, url
        while current and (pages is None or walked < pages):
            response = client.get(current, headers=headers)
            assert response.status_code == 200, response.get_data(as_text=True)
            walked += 1
            current = load_next(response)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), walked


def reads(args) -> None:
    with fresh_app(args.database_url, "sync") as app:
        measure_reads(app.test_client(), args.rows, args.repeat)


def measure_reads(client, rows: int, repeat: int) -> None:
    started = time.perf_counter()
    ((user_id, _),) = seed.seed(
        seed.Plan(users=1, todos=rows, buckets=0, items=0),
        "bench-password",
        1,
        hash_method="pbkdf2:sha256:1",
    )
    key, secret = ApiKey.issue(db.session.get(User, user_id), "bench")
    db.session.add(key)
    db.session.commit()
    refresh_statistics()
    headers = {"X-API-KEY": secret}
    print(f"seeded {rows:,} todos in {time.perf_counter() - started:.1f} s")
    ids = list(
        db.session.scalars(
            db.select(Todo.id).where(Todo.user_id == user_id).order_by(Todo.id)
        ).all()
    )
    db.session.remove()

    page_ms, first = timed(client, f"{TODOS}?per_page={PER_PAGE}", headers, repeat)
    token = first.headers["X-Sync-Token"]
    changed = client.patch(f"{TODOS}{ids[len(ids) // 2]}", json={"done": True}, headers=headers)
    assert changed.status_code == 200, changed.get_data(as_text=True)
    one_ms, synced = timed(client, f"{TODOS}?since={token}", headers, repeat)
    assert len(synced.get_json()) == 1

    walk_ms, walked = timed_walk(
        client, f"{TODOS}?per_page={PER_PAGE}", headers, max(3, repeat // 10), WALK_PAGES
    )
    token = client.get(f"{TODOS}?per_page=1", headers=headers).headers["X-Sync-Token"]
    step = max(1, len(ids) // CHANGES)
    for id in ids[::step][:CHANGES]:
        response = client.patch(f"{TODOS}{id}", json={"priority": 3}, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
    sync_20_ms, pages_20 = timed_walk(
        client, f"{TODOS}?since={token}&per_page={PER_PAGE}", headers, max(3, repeat // 10)
    )
    sync_100_ms, pages_100 = timed_walk(
        client, f"{TODOS}?since={token}&per_page=100", headers, max(3, repeat // 10)
    )

    print(f"{'request':<58} {'median':>10} {'ratio':>7}")
    print(f"{'GET /todos/ page 1':<58} {page_ms:7.2f} ms")
    print(f"{'sync of 1 change (?since=)':<58} {one_ms:7.2f} ms {one_ms / page_ms:6.2f}x")
    print(f"{f'{walked} pages of {PER_PAGE} along next':<58} {walk_ms:7.1f} ms")
    label = f"sync of {CHANGES:,} changes, {pages_20} pages of {PER_PAGE}"
    print(f"{label:<58} {sync_20_ms:7.1f} ms {sync_20_ms / walk_ms:6.2f}x")
    label = f"sync of {CHANGES:,} changes, {pages_100} pages of 100"
    print(f"{label:<58} {sync_100_ms:7.1f} ms {sync_100_ms / walk_ms:6.2f}x")


def writes(args) -> None:
    trees = {"before": Path(args.before).resolve(), "after": load.ROOT}
    for tree in trees.values():
        if not (tree / "manage.py").exists():
            sys.exit(f"{tree} holds no manage.py")
    wrk = load.ensure_wrk()
    results = {(name, method): [] for name in trees for method in ("POST", "PATCH")}
    for round_number in range(1, args.rounds + 1):
        for name, tree in trees.items():
            with tempfile.TemporaryDirectory(prefix="todos-sync-bench-") as folder:
                folder = Path(folder)
                with load.database(args.database_url, folder) as (url, _):
                    for method, result in write_round(wrk, tree, url, folder, args).items():
                        results[(name, method)].append(result)
                        print(
                            f"round {round_number} {name:<6} {method:<5} "
                            f"{result.rps:7.0f} req/s  p99 {result.p99_ms:6.2f} ms",
                            flush=True,
                        )
    print(f"\n{'write':<7} {'tree':<7} {'req/s':>8} {'p99 ms':>8}  (medians of the rounds)")
    for method in ("POST", "PATCH"):
        before_p99 = statistics.median(r.p99_ms for r in results[("before", method)])
        for name in trees:
            rounds = results[(name, method)]
            rps = statistics.median(r.rps for r in rounds)
            p99 = statistics.median(r.p99_ms for r in rounds)
            change = f"  {p99 / before_p99 - 1:+.0%} p99" if name == "after" else ""
            print(f"{method:<7} {name:<7} {rps:8.0f} {p99:8.2f}{change}")


def write_round(wrk: str, tree: Path, url: str, folder: Path, args) -> dict:
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("APP_ENV", None)
    load.manage(["db", "upgrade"], env, cwd=tree)
    plan = ["--users", "1", "--todos", "100", "--buckets", "0", "--items", "0"]
    account = load.parse_seed(load.manage(["seed", *plan], env, cwd=tree))
    server_env = {
        **env,
        "APP_ENV": "production",
        "SECRET_KEY": "bench-sync-secret",
        "RATELIMIT_DEFAULT": load.RATE_LIMIT,
    }
    port = load.free_port()
    serve = [sys.executable, "manage.py", "serve", "--config", str(load.GUNICORN_CONFIG)]
    serve += ["--workers", str(load.WORKERS), "--host", load.HOST, "--port", str(port)]
    headers = {"X-API-KEY": account.key, "Content-Type": "application/json"}
    base = f"http://{load.HOST}:{port}"
    log = folder / "api.log"
    with load.Server("API", serve, server_env, log, cwd=tree) as server:
        server.wait_until_ready(base + "/healthz", {})
        listed, _ = load.get_json(base, f"{load.API}/todos/?per_page=1", account.key)
        bodies = {
            "POST": (f"{load.API}/todos/", '{"title": "Benchmark todo", "tags": ["bench"]}'),
            "PATCH": (f"{load.API}/todos/{listed[0]['id']}", '{"done": true, "priority": 2}'),
        }
        outcome = {}
        for method, (path, body) in bodies.items():
            script = folder / f"{method}.lua"
            script.write_text(load.wrk_script(method, headers, body))
            for seconds in (args.warmup, args.duration):
                load.settle(base)
                done = subprocess.run(
                    [
                        wrk,
                        "--threads=1",
                        f"--connections={args.connections}",
                        f"--duration={seconds:g}s",
                        "--timeout=10s",
                        f"--script={script}",
                        base + path,
                    ],
                    capture_output=True,
                    text=True,
                    timeout=seconds + 60,
                    check=False,
                )
            result = load.parse_wrk(done.stdout + done.stderr)
            if result.errors:
                raise RuntimeError(f"{method} had {result.errors} errors:\n{server.log_tail()}")
            outcome[method] = result
    return outcome


def cpu(args) -> None:
    trees = {"before": Path(args.before).resolve(), "after": load.ROOT}
    results = {(name, method): [] for name in trees for method in ("POST", "PATCH")}
    for round_number in range(1, args.rounds + 1):
        for name, tree in trees.items():
            done = subprocess.run(
                [sys.executable, __file__, "cpu-inner", "--requests", str(args.requests)],
                cwd=tree,
                env={**os.environ, "PYTHONPATH": str(tree)},
                capture_output=True,
                text=True,
                timeout=1800,
                check=True,
            )
            figures = dict(line.split() for line in done.stdout.splitlines() if line)
            for method in ("POST", "PATCH"):
                results[(name, method)].append(float(figures[method]))
            print(f"round {round_number} {name:<6} {done.stdout.split()}", flush=True)
    print(f"\n{'write':<7} {'before':>10} {'after':>10}  (CPU ms per request, median)")
    for method in ("POST", "PATCH"):
        before = statistics.median(results[("before", method)])
        after = statistics.median(results[("after", method)])
        print(f"{method:<7} {before:10.3f} {after:10.3f}  {after / before - 1:+.1%}")


def cpu_inner(args) -> None:
    """In the tree on PYTHONPATH: CPU milliseconds per POST and per PATCH."""
    with fresh_app(None, "cpu") as app:
        _, secret = account("cpu@example.com")
        db.session.commit()
        client, headers = app.test_client(), {"X-API-KEY": secret}
        bodies = {
            "POST": (TODOS, lambda n: {"title": f"todo {n}", "tags": ["bench"]}),
            "PATCH": (f"{TODOS}1", lambda n: {"done": n % 2 == 0, "priority": n % 4}),
        }
        for method, (url, body) in bodies.items():
            for n in range(100):  # warm up
                client.open(url, method=method, json=body(n), headers=headers)
            started = time.process_time()
            for n in range(args.requests):
                response = client.open(url, method=method, json=body(n), headers=headers)
                assert response.status_code in (200, 201), response.get_data(as_text=True)
            elapsed = time.process_time() - started
            print(method, f"{elapsed * 1000 / args.requests:.4f}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parts = parser.add_subparsers(dest="part", required=True)
    read_part = parts.add_parser("reads", help="Sync against page 1 and 50 pages.")
    read_part.add_argument("--rows", type=int, default=1_000_000)
    read_part.add_argument("--repeat", type=int, default=30)
    read_part.add_argument("--database-url")
    write_part = parts.add_parser("writes", help="POST and PATCH, before and after.")
    write_part.add_argument("--before", required=True, help="The tree to compare with.")
    write_part.add_argument("--rounds", type=int, default=3)
    write_part.add_argument("--duration", type=float, default=5)
    write_part.add_argument("--warmup", type=float, default=2)
    write_part.add_argument("--connections", type=int, default=8)
    write_part.add_argument("--database-url")
    for name, helped in (("cpu", "CPU time of writes, before and after."), ("cpu-inner", None)):
        cpu_part = parts.add_parser(name, help=helped)
        cpu_part.add_argument("--before", required=name == "cpu")
        cpu_part.add_argument("--rounds", type=int, default=3)
        cpu_part.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args(argv)
    if args.part == "cpu":
        cpu(args)
    elif args.part == "cpu-inner":
        cpu_inner(args)
    elif args.part == "reads":
        if args.rows < CHANGES * 2 or args.repeat < 1:
            parser.error(f"rows must be at least {CHANGES * 2:,}, repeat positive")
        reads(args)
    else:
        writes(args)


if __name__ == "__main__":
    main()
