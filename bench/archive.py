"""An account's export and import at scale: seconds, and the memory of the process serving
them.

Seeds an account (100,000 todos and 20,000 items in 100 lists by default) in a database
of its own, starts `manage.py run` (one process), and measures:

* `GET /auth/me/export`: seconds to stream it, its size, and the server's peak RSS
  (VmHWM) before and after: the export must not hold the account in memory;
* `POST /auth/me/import` of that document into a second account: seconds, peak RSS after;
* `manage.py import` into a third account: seconds, and its own peak RSS.

    .venv/bin/python bench/archive.py [--todos N] [--items N] [--database-url URL]
"""

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run import (
    HOST,
    ROOT,
    Server,
    database,
    free_port,
    manage,
    parse_seed,
    request,
)

CLI_TIMEOUT = 600
PASSWORD = "bench-password-1"  # noqa: S105 (a throwaway account's)


def peak_kib(pid: int) -> int:
    """The peak resident set size (VmHWM) of process `pid`, in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB$", status, re.MULTILINE)[1])


def new_key(email: str, env: dict) -> str:
    manage(["create-user", email, "--password", PASSWORD], env)
    return manage(["create-key", email, "--name", "bench"], env).strip().splitlines()[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--todos", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as folder,
        database(args.database_url, Path(folder)) as (
            url,
            kind,
        ),
    ):
        env = {**os.environ, "APP_ENV": "development", "DATABASE_URL": url}
        plan = ["--todos", str(args.todos), "--buckets", "100", "--items", str(args.items)]
        owner = parse_seed(manage(["seed", *plan, "--seed", "1"], env))
        importer = new_key("importer@example.com", env)
        port = free_port()
        base = f"http://{HOST}:{port}/api/v1"
        log = Path(folder) / "server.log"
        with Server(
            "API", [sys.executable, "manage.py", "run", "--port", str(port)], env, log
        ) as api:
            api.wait_until_ready(base + "/auth/me", {"X-API-KEY": owner.key})
            before = peak_kib(api.pid)
            started = time.perf_counter()
            status, _, document = request(
                base + "/auth/me/export", headers={"X-API-KEY": owner.key}
            )
            exported = time.perf_counter() - started
            after_export = peak_kib(api.pid)
            assert status == 200, document[:300]
            started = time.perf_counter()
            headers = {"X-API-KEY": importer, "Content-Type": "application/json"}
            status, _, answer = request(
                base + "/auth/me/import", "POST", headers, document.decode()
            )
            imported = time.perf_counter() - started
            after_import = peak_kib(api.pid)
            assert status == 201, answer[:300]
        path = Path(folder) / "export.json"
        path.write_bytes(document)
        manage(["create-user", "cli@example.com", "--password", PASSWORD], env)
        started = time.perf_counter()
        cli = subprocess.Popen(
            [sys.executable, "manage.py", "import", "cli@example.com", str(path)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        cli_peak, deadline = 0, time.monotonic() + CLI_TIMEOUT
        while cli.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(OSError, TypeError):  # TypeError: it has just exited
                cli_peak = max(cli_peak, peak_kib(cli.pid))
            time.sleep(0.05)
        by_cli = time.perf_counter() - started
        cli.kill()
        if cli.wait() != 0:
            raise SystemExit("manage.py import failed or took too long")
    rows = f"{args.todos:,} todos, 100 lists, {args.items:,} items"
    print(f"{kind}: {rows}; the export is {len(document) / 1e6:.1f} MB")
    print(
        f"  GET /auth/me/export      {exported:6.1f} s   server peak RSS "
        f"{before / 1024:.0f} -> {after_export / 1024:.0f} MiB"
    )
    print(
        f"  POST /auth/me/import     {imported:6.1f} s   server peak RSS "
        f"-> {after_import / 1024:.0f} MiB"
    )
    print(f"  manage.py import         {by_cli:6.1f} s   its peak RSS {cli_peak / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
