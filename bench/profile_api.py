"""Where an API worker spends its time under load: py-spy on every worker while wrk runs.

    .venv/bin/python bench/profile_api.py [--endpoint todos --endpoint bucket] [--seconds 15]

Seeds and serves the API exactly as bench/run.py does, puts `--connections` of load on
each chosen endpoint and samples both workers with py-spy for `--seconds`. Prints, per
endpoint, the share of samples by package and the functions with the most time, inclusive
(anywhere on the stack) and self (the innermost frame), and writes the raw stacks beside
the report so they can be opened in a flame graph viewer (speedscope takes them).
Endpoints: todos, todos-masked, todo, bucket, items-page-1, items-half-way, post, patch.
"""

import argparse
import collections
import datetime
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import run as bench  # bench/run.py: this script's folder comes first on sys.path

Stack = tuple[tuple[str, ...], int]

# py-spy's raw format: "frame;frame;...;frame count", each frame "function (file:line)".
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def parse_collapsed(text: str) -> list[Stack]:
    stacks = []
    for line in text.splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append((tuple(frames.split(";")), int(count)))
    return stacks


def function_of(frame: str) -> str:
    """`function (file)`, without the line number, so a function's lines add up."""
    match = FRAME.match(frame)
    return f"{match['function']} ({match['file']})" if match else frame


def package_of(frame: str) -> str:
    """The top-level package or module a frame's file belongs to."""
    match = FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    marker = "site-packages/"
    if marker in path:
        path = path.split(marker, 1)[1]
    elif "/lib/python3" in path:
        return "stdlib"
    parts = Path(path).parts
    if not parts:
        return "?"
    top = parts[0] if len(parts) > 1 else Path(parts[0]).stem
    return top if top not in ("/", "") else "?"


# A request runs below one of these frames: gunicorn's sync worker (the benchmark's) or
# its gthread worker (production's).
REQUEST_FRAMES = {
    "SyncWorker.handle (gunicorn/workers/sync.py)",
    "ThreadWorker.handle (gunicorn/workers/gthread.py)",
}
# Innermost frames of a thread that waits, outside a request: the worker's poll loop,
# the thread pool's idle threads blocked on their queue, and timer threads (such as
# the rate limiter's memory storage expiring its counters).
IDLE_FRAMES = {
    "EpollSelector.select (selectors.py)",
    "SyncWorker.wait (gunicorn/workers/sync.py)",
    "_worker (concurrent/futures/thread.py)",
    "Condition.wait (threading.py)",
}


def classify(stacks: list[Stack]) -> dict[str, list[Stack]]:
    """Stacks split into request handling (trimmed to below a request frame), idle, other."""
    kinds = {"request": [], "idle": [], "other": []}
    for frames, count in stacks:
        names = [function_of(frame) for frame in frames]
        top = next((i for i, name in enumerate(names) if name in REQUEST_FRAMES), None)
        if top is not None:
            kinds["request"].append((frames[top:], count))
        elif names[-1] in IDLE_FRAMES:
            kinds["idle"].append((frames, count))
        else:
            kinds["other"].append((frames, count))
    return kinds


def shares(stacks: list[Stack]) -> dict:
    """Sample counts: inclusive and self by function, self by package, and the total."""
    inclusive, own, packages = collections.Counter(), collections.Counter(), collections.Counter()
    total = 0
    for frames, count in stacks:
        total += count
        for name in {function_of(frame) for frame in frames}:
            inclusive[name] += count
        own[function_of(frames[-1])] += count
        packages[package_of(frames[-1])] += count
    return {"inclusive": inclusive, "self": own, "packages": packages, "total": total}


def table(title: str, counter: collections.Counter, total: int, top: int) -> list[str]:
    lines = [f"| {title} | % of request samples |", "|---|--:|"]
    for name, count in counter.most_common(top):
        lines.append(f"| `{name}` | {count / total * 100:.1f} |")
    return lines


def report(name: str, stacks: list[Stack], result: bench.WrkResult, top: int) -> str:
    kinds = classify(stacks)
    every = sum(count for _, count in stacks) or 1
    part = {kind: sum(c for _, c in found) / every * 100 for kind, found in kinds.items()}
    counted = shares(kinds["request"])
    total = counted["total"] or 1
    # The frames every request passes through say nothing: leave them out.
    inclusive = collections.Counter(
        {name: count for name, count in counted["inclusive"].items() if count < 0.98 * total}
    )
    return "\n".join(
        [
            f"## {name}",
            "",
            f"{every:,} samples over both workers: {part['request']:.0f}% handling requests, "
            f"{part['idle']:.0f}% idle threads, {part['other']:.0f}% gunicorn's own loop. "
            f"Under profiling the API served {result.rps:,.0f} req/s, p50 "
            f"{result.p50_ms:.1f} ms. The shares below are of the request samples.",
            "",
            *table("package (self time)", counted["packages"], total, top),
            "",
            *table("function (inclusive)", inclusive, total, top),
            "",
            *table("function (self)", counted["self"], total, top),
            "",
        ]
    )


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("py-spy is missing: pip install -e '.[bench]'")
    return found


def profile(bench_run, api, base: str, endpoint, args, folder: Path) -> tuple[list, object]:
    """Load on `endpoint` while py-spy samples each worker; (stacks, wrk result)."""
    script = folder / f"{endpoint.slug}.lua"
    script.write_text(bench.wrk_script(endpoint.method, endpoint.all_headers, endpoint.body))
    bench_run.load(base, endpoint, args.warmup)
    bench.settle(base)
    loaded = args.seconds + 4
    wrk = [bench_run.wrk, "-t1", f"-c{args.connections}", f"-d{loaded}s", "--timeout=10s"]
    wrk += [f"--script={script}", base + endpoint.path]
    spies, outputs = [], []
    with subprocess.Popen(wrk, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as load:
        try:
            time.sleep(1)
            for pid in bench.child_pids(api.pid):
                output = folder / f"{endpoint.slug}-{pid}.txt"
                command = [py_spy(), "record", "--pid", str(pid), "--rate", str(args.rate)]
                command += ["--duration", str(args.seconds), "--format", "raw", "-o", str(output)]
                command += ["--gil"] if args.gil else []
                quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE}
                spies.append(subprocess.Popen(command, **quiet))
                outputs.append(output)
            for spy in spies:
                _, errors = spy.communicate(timeout=args.seconds + 60)
                if spy.returncode != 0:
                    raise RuntimeError(f"py-spy failed: {errors.decode(errors='replace')}")
            text, _ = load.communicate(timeout=loaded + 60)
        finally:
            for process in [load, *spies]:
                if process.poll() is None:
                    process.kill()
    stacks = [stack for output in outputs for stack in parse_collapsed(output.read_text())]
    return stacks, bench.parse_wrk(text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", action="append", help="Repeatable; default todos, bucket.")
    parser.add_argument("--seconds", type=int, default=15, help="Sampling time (15).")
    parser.add_argument("--rate", type=int, default=100, help="Samples/s per worker (100).")
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--top", type=int, default=20, help="Rows per table (20).")
    parser.add_argument(
        "--gil",
        action="store_true",
        help="Sample only the thread holding the GIL: Python's CPU time, without the waits "
        "for the database or for the GIL itself.",
    )
    parser.add_argument("--database-url", help="PostgreSQL, as for bench/run.py.")
    parser.add_argument("--output-dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args(argv)
    args.wrk_threads = 1
    chosen = args.endpoint or ["todos", "bucket"]
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    args.output_dir.mkdir(parents=True, exist_ok=True)
    sections = []
    with tempfile.TemporaryDirectory(prefix="todos-profile-") as folder:
        folder = Path(folder)
        with bench.database(args.database_url, folder) as (url, kind):
            bench_run = bench.Bench(args, folder, url)
            with bench_run.api_server() as (api, base, accounts):
                endpoints = {e.slug: e for e in bench_run.endpoints(base, accounts)}
                unknown = set(chosen) - set(endpoints)
                if unknown:
                    parser.error(
                        f"unknown endpoints {sorted(unknown)}; pick from {list(endpoints)}"
                    )
                for slug in chosen:
                    print(f"Profiling {endpoints[slug].name} ...", flush=True)
                    stacks, result = profile(bench_run, api, base, endpoints[slug], args, folder)
                    sections.append(report(endpoints[slug].name, stacks, result, args.top))
                    raw = args.output_dir / f"profile-{stamp}-{kind}-{slug}.txt"
                    raw.write_text("\n".join(f"{';'.join(f)} {c}" for f, c in stacks) + "\n")
    mode = "GIL holder only" if args.gil else "every active thread"
    text = f"# Profile, {stamp}, {kind}, {mode}\n\n" + "\n".join(sections)
    print(text)
    path = args.output_dir / f"profile-{stamp}-{kind}.md"
    path.write_text(text)
    print(f"Wrote {path} and the raw stacks beside it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
