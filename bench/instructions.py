"""Instructions per request: the benchmark's GETs in process, counted by callgrind.

    .venv/bin/python bench/instructions.py [--requests 200] [--reference]

Wall-clock timings on a shared 2-core machine vary by 10-20% from run to run; the
number of instructions a request executes hardly does, so two versions of the code can
be compared in one run each. The
script seeds a temporary SQLite database as bench/layers.py does, builds the application
in production mode, and runs itself under valgrind's callgrind with counting off. Once
the application is warm, it counts `--requests` calls of each GET, one GET at a time,
and prints instructions per request. With `--reference`, it counts bench/reference.py
(bare Flask running the same queries) instead.

Needs valgrind (`apt-get install valgrind`). Under callgrind Python runs some 50 times
slower: the default run takes a minute or two.
"""

import argparse
import contextlib
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import layers  # bench/layers.py: this script's folder comes first on sys.path

WARMUP = 50
POLL_SECONDS = 0.05


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="Counted calls per GET (200).")
    parser.add_argument("--reference", action="store_true", help="Count bench/reference.py.")
    parser.add_argument("--inner", help=argparse.SUPPRESS)  # the run under callgrind
    args = parser.parse_args(argv)
    if args.requests < 1:
        parser.error("requests must be positive")
    if args.inner:
        return counted(Path(args.inner), args.requests, args.reference)
    return count(args)


def count(args) -> int:
    """Run this script under callgrind and turn counting on around each GET's calls."""
    for tool in ("valgrind", "callgrind_control"):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            sys.exit(f"{tool} is missing: apt-get install valgrind")
    with tempfile.TemporaryDirectory(prefix="todos-instructions-") as folder:
        control = Path(folder)
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={control}/callgrind.%p",
            sys.executable,
            __file__,
            "--inner",
            str(control),
            "--requests",
            str(args.requests),
            *(["--reference"] if args.reference else []),
        ]
        with open(control / "valgrind.log", "w") as log:
            child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            results = {}
            for index, name in enumerate(layers.GET_NAMES):
                ready = control / f"ready-{index}"
                if not wait_for(ready, child):
                    break
                pid = str(child.pid)
                callgrind(["-z", pid])
                callgrind(["-i", "on", pid])
                ready.unlink()
                done = control / f"done-{index}"
                if not wait_for(done, child):
                    break
                callgrind(["-i", "off", pid])
                callgrind(["-d", pid])
                results[name] = dumped(control, child.pid) // args.requests
                done.unlink()
            child.wait(timeout=120)
        finally:
            if child.poll() is None:
                child.kill()
        if child.returncode != 0 or len(results) != len(layers.GET_NAMES):
            sys.stderr.write((control / "valgrind.log").read_text()[-4000:])
            return 1
    what = "bench/reference.py" if args.reference else "the API"
    print(f"Instructions per request, {what}, in process ({args.requests} calls each):")
    print()
    print("| request | instructions |")
    print("|---|--:|")
    for name, instructions in results.items():
        print(f"| {name} | {instructions:,} |")
    return 0


def callgrind(arguments: list[str]) -> None:
    subprocess.run(["callgrind_control", *arguments], check=True, capture_output=True)


def wait_for(path: Path, child: subprocess.Popen) -> bool:
    while not path.exists():
        if child.poll() is not None:
            return False
        time.sleep(POLL_SECONDS)
    return True


def dumped(control: Path, pid: int) -> int:
    """The instruction total of the newest dump callgrind wrote for `pid`."""
    dumps = sorted(control.glob(f"callgrind.{pid}.*"), key=lambda p: p.stat().st_mtime)
    for line in dumps[-1].read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {dumps[-1]}")


def counted(control: Path, requests: int, reference: bool) -> int:
    """Under callgrind: seed, build, warm up, then make each GET's calls when told to."""
    with tempfile.TemporaryDirectory(prefix="todos-instructions-db-") as folder:
        url, key, app, gets = layers.seeded(folder)
        if reference:
            os.environ["FLOOR_DATABASE_URL"] = url
            from bench import reference as module

            app = module.app

        def start_response(status, headers, exc_info=None):
            start_response.status = status

        with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
            for index, (path, mask) in enumerate(gets.values()):
                environ = layers.environ(path, key, mask)

                def call(environ=environ):
                    return b"".join(app(dict(environ), start_response))

                for _ in range(WARMUP):
                    call()
                if not start_response.status.startswith("200"):
                    raise RuntimeError(f"{path} answered {start_response.status}")
                # As gunicorn's pre_fork does for a worker (gunicorn.conf.py): what was
                # built so far is out of the collector's reach, so a full collection that
                # happens to fall among the counted calls does not swamp them.
                gc.collect()
                gc.freeze()
                flag(control / f"ready-{index}")
                for _ in range(requests):
                    call()
                flag(control / f"done-{index}", wait=False)
                while (control / f"done-{index}").exists():
                    time.sleep(POLL_SECONDS)
    return 0


def flag(path: Path, wait: bool = True) -> None:
    """Create `path`, and with `wait` return once the counting side has removed it."""
    path.write_text("")
    while wait and path.exists():
        time.sleep(POLL_SECONDS)


if __name__ == "__main__":
    sys.exit(main())
