"""The load benchmark: the API under gunicorn against a bare WSGI floor, driven by wrk.

    .venv/bin/python bench/run.py [--rounds 3] [--duration 5] [--connections 8]
                                  [--database-url postgresql://postgres@127.0.0.1/test]

Seeds a new database (a temporary SQLite file, or a database of its own created on the
PostgreSQL server `--database-url` names and dropped at the end), serves the API with
`manage.py serve`, the floor (bench/floor.py) and, for the everyday GETs, a bare Flask
reference (bench/reference.py) with the same gunicorn settings, and measures each
endpoint on each, interleaved round by round. Writes the table to
bench/results/<date>-<db>.md and a chart beside it. See bench/README.md.
"""

import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
GUNICORN_CONFIG = BENCH / "gunicorn.conf.py"
API = "/api/v1"
HOST = "127.0.0.1"
WORKERS = 2
# The limiter stays on; its per-credential default is raised far above what a run sends.
RATE_LIMIT = "1000000000 per hour"

TODOS = 10_000
BUCKETS, BUCKET_ITEMS = 100, 1_000
DEEP_ITEMS = 1_000_000
PER_PAGE = 20
RSS_REQUESTS = 50_000

# The everyday GETs against bare Flask running the same queries (bench/reference.py).
GET_TARGET = 0.35
WRITE_P99_MS = 25.0
DEEP_TARGET = 1.5
RSS_GROWTH_TARGET = 5.0

TARGETS = {
    "floor": f"≥ {GET_TARGET} of reference",
    "write": f"p99 < {WRITE_P99_MS:g} ms",
    "deep": f"p50 ≤ {DEEP_TARGET}× page 1",
}

SEED_TIMEOUT = 900
START_TIMEOUT = 60
STOP_TIMEOUT = 15
# After a run, a server may still be working through requests that wrk gave up on;
# the next run starts once it answers this many health checks in a row this fast.
SETTLED_CHECKS, SETTLED_MS, SETTLE_TIMEOUT = 3, 50, 120
# Load added after the rounds until the API has served RSS_REQUESTS, at most this long.
TOP_UP_SECONDS = 600


# Parsing: kept free of side effects, and checked by tests/test_bench.py.

WRK_MARK = "BENCH-WRK "
# wrk calls done() once at the end of a run; its numbers are exact, unlike the
# rounded figures of wrk's text report. Latencies are in microseconds.
WRK_DONE = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH-WRK {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
    .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: `errors` counts non-2xx/3xx responses and socket errors."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def parse_wrk(output: str) -> WrkResult:
    """The result line that WRK_DONE prints, among wrk's other output."""
    for line in output.splitlines():
        if line.startswith(WRK_MARK):
            data = json.loads(line[len(WRK_MARK) :])
            return WrkResult(
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                p50_ms=data["p50_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
                errors=sum(data["errors"].values()),
            )
    raise ValueError(f"wrk printed no result line:\n{output}")


def lua_string(text: str) -> str:
    """`text` as a Lua long-bracket literal, which needs no escaping."""
    level = ""
    while f"]{level}]" in text:
        level += "="
    return f"[{level}[{text}]{level}]"


def wrk_script(method: str, headers: dict[str, str], body: str | None = None) -> str:
    lines = [f"wrk.method = {lua_string(method)}"]
    if body is not None:
        lines.append(f"wrk.body = {lua_string(body)}")
    # Spaces inside the index brackets, or "[[[" would open a long string.
    lines += [f"wrk.headers[ {lua_string(k)} ] = {lua_string(v)}" for k, v in headers.items()]
    return "\n".join(lines) + "\n" + WRK_DONE


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    key: str


def parse_seed(output: str) -> Account:
    """The demo login and API key that `manage.py seed` prints."""
    login = re.search(r"^Demo login: (\S+) / (\S+)$", output, re.MULTILINE)
    key = re.search(r"^API key \(shown once\): (\S+)$", output, re.MULTILINE)
    if login is None or key is None:
        raise ValueError(f"seed printed no login or API key:\n{output}")
    return Account(login[1], login[2], key[1])


def parse_rss_kib(status: str) -> int:
    """VmRSS, in KiB, from the text of /proc/<pid>/status."""
    match = re.search(r"^VmRSS:\s+(\d+) kB$", status, re.MULTILINE)
    if match is None:
        raise ValueError("no VmRSS line: the process has exited or is a kernel thread")
    return int(match[1])


def parse_ppid(stat: str) -> int:
    """The parent pid from the text of /proc/<pid>/stat (the name may hold spaces)."""
    return int(stat.rsplit(")", 1)[1].split()[1])


def child_pids(parent: int, proc: Path = Path("/proc")) -> list[int]:
    children = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if parse_ppid(stat) == parent:
            children.append(int(entry.name))
    return sorted(children)


def worker_rss_kib(master: int, proc: Path = Path("/proc")) -> dict[int, int]:
    """RSS of each gunicorn worker, the children of `master`."""
    pids = child_pids(master, proc)
    return {pid: parse_rss_kib((proc / str(pid) / "status").read_text()) for pid in pids}


def next_link(link_header: str) -> str:
    """The path and query of the `next` link of an RFC 8288 `Link` header."""
    match = re.search(r'<([^>]+)>\s*;\s*rel="next"', link_header)
    if match is None:
        raise ValueError(f"no next link in {link_header!r}")
    url = urllib.parse.urlsplit(match[1])
    return url.path + ("?" + url.query if url.query else "")


# Endpoints and their results.


@dataclass
class Endpoint:
    name: str
    path: str
    key: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    # "floor": an everyday GET, measured on the floor and the reference too, its target a
    # ratio to the reference; "write": p99 under WRITE_P99_MS; "deep": p50 against the p50
    # of `baseline`.
    target: str | None = "floor"
    baseline: "Endpoint | None" = None
    # A short name to pick the endpoint by, as bench/profile_api.py does.
    slug: str = ""
    api: list[WrkResult] = field(default_factory=list)
    floor: list[WrkResult] = field(default_factory=list)
    reference: list[WrkResult] = field(default_factory=list)

    @property
    def has_floor(self) -> bool:
        return self.method == "GET"

    @property
    def has_reference(self) -> bool:
        """bench/reference.py serves the everyday GETs, not the million-item pages."""
        return self.target == "floor"

    @property
    def all_headers(self) -> dict[str, str]:
        headers = {"X-API-KEY": self.key, **self.headers}
        if self.body is not None:
            headers["Content-Type"] = "application/json"
        return headers

    @property
    def floor_key(self) -> str:
        mask = self.headers.get("X-Fields")
        return self.path + "\n" + mask if mask else self.path


def median(values) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


@dataclass
class Summary:
    """Medians over the rounds of one endpoint."""

    rps: float
    p50_ms: float
    p99_ms: float
    floor_rps: float | None
    floor_p50_ms: float | None
    floor_p99_ms: float | None
    round_ratios: list[float]
    errors: int
    reference_rps: float | None = None

    @property
    def ratio(self) -> float | None:
        return self.rps / self.floor_rps if self.floor_rps else None

    @property
    def reference_ratio(self) -> float | None:
        if not (self.reference_rps and self.floor_rps):
            return None
        return self.reference_rps / self.floor_rps

    @property
    def to_reference(self) -> float | None:
        """The API's req/s against the reference's: the everyday GETs' target."""
        return self.rps / self.reference_rps if self.reference_rps else None


def summarize(endpoint: Endpoint) -> Summary:
    api, floor = endpoint.api, endpoint.floor
    # A run in which no request completed has no latency to speak of: NaN, not 0.
    answered = [r for r in api if r.requests]
    floor_answered = [r for r in floor if r.requests]
    return Summary(
        rps=median(r.rps for r in api),
        p50_ms=median(r.p50_ms for r in answered),
        p99_ms=median(r.p99_ms for r in answered),
        floor_rps=median(r.rps for r in floor) if floor else None,
        floor_p50_ms=median(r.p50_ms for r in floor_answered) if floor else None,
        floor_p99_ms=median(r.p99_ms for r in floor_answered) if floor else None,
        round_ratios=[a.rps / f.rps for a, f in zip(api, floor, strict=False) if f.rps],
        errors=sum(r.errors for r in [*api, *floor, *endpoint.reference]),
        reference_rps=median(r.rps for r in endpoint.reference) if endpoint.reference else None,
    )


def verdict(endpoint: Endpoint, summary: Summary) -> tuple[str, str]:
    """The issue's target for the row, and whether this run meets it."""
    if math.isnan(summary.p50_ms):
        return TARGETS.get(endpoint.target, ""), "no (no request completed)"
    target = TARGETS.get(endpoint.target, "")
    if endpoint.target == "floor" and summary.to_reference is not None:
        return target, "yes" if summary.to_reference >= GET_TARGET else "no"
    if endpoint.target == "write":
        return target, "yes" if summary.p99_ms < WRITE_P99_MS else "no"
    if endpoint.target == "deep" and endpoint.baseline is not None:
        ratio = summary.p50_ms / summarize(endpoint.baseline).p50_ms
        if math.isnan(ratio):
            return target, "no (page 1 never answered)"
        return target, f"{'yes' if ratio <= DEEP_TARGET else 'no'} ({ratio:.2f}×)"
    return target, ""


# Processes.


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def gunicorn(port: int, module: str) -> list[str]:
    """The command serving bench/<module>.py's `app` with the API's gunicorn settings."""
    argv = [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONFIG)]
    argv += ["--workers", str(WORKERS), "--bind", f"{HOST}:{port}"]
    return [*argv, "--name", f"todos-{module}", f"bench.{module}:app"]


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("wrk is missing: install it with `sudo apt-get install wrk`.")
    print("Installing wrk from Debian's packages ...", flush=True)
    installed = subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, timeout=600)
    if installed.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], check=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, timeout=600)
    return shutil.which("wrk") or "/usr/bin/wrk"


class Server:
    """A server in its own process group, stopped with its workers whatever happens."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path, cwd=ROOT):
        self.name, self.argv, self.env, self.log_path = name, argv, env, log
        self.cwd = cwd
        self.process: subprocess.Popen | None = None

    def __enter__(self):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, STOP_TIMEOUT)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # The workers share the group; a SIGKILLed master leaves them to be reaped here.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_until_ready(self, url: str, headers: dict[str, str]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the {self.name} exited at start:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                if request(url, headers=headers)[0] == 200:
                    return
            time.sleep(0.2)
        waited = f"the {self.name} did not answer in {START_TIMEOUT} s"
        raise RuntimeError(f"{waited}:\n{self.log_tail()}")


def request(url: str, method: str = "GET", headers=None, body: str | None = None):
    """(status, headers, body bytes) of one request."""
    data = body.encode() if body is not None else None
    prepared = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(prepared, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def settle(base: str) -> None:
    """Wait until the server at `base` is idle again (see SETTLED_MS)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    fast = 0
    while fast < SETTLED_CHECKS and time.monotonic() < deadline:
        started = time.perf_counter()
        with contextlib.suppress(OSError):
            request(base + "/healthz")
        fast = fast + 1 if (time.perf_counter() - started) * 1000 < SETTLED_MS else 0


def get_json(base: str, path: str, key: str):
    status, headers, body = request(base + path, headers={"X-API-KEY": key})
    if status != 200:
        raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
    return json.loads(body), headers


def manage(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> str:
    """`manage.py` of the tree at `cwd` (this one by default); its output."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=SEED_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def postgres_url(url: str) -> str:
    """`url` as libpq takes it, without SQLAlchemy's driver name."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(scheme="postgresql"))


@contextlib.contextmanager
def database(url: str | None, folder: Path):
    """(url, kind) of a database made for this run and gone after it."""
    if url is None:
        yield f"sqlite:///{folder / 'bench.db'}", "sqlite"
        return
    parts = urllib.parse.urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        raise SystemExit("--database-url takes a PostgreSQL URL; SQLite is the default.")
    import psycopg

    server = postgres_url(url)
    name = f"todos_bench_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urllib.parse.urlunsplit(parts._replace(path="/" + name)), "postgresql"
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# The run.


class Bench:
    def __init__(self, args, folder: Path, database_url: str):
        self.args, self.folder, self.database_url = args, folder, database_url
        self.wrk = ensure_wrk()
        self.env = {**os.environ, "DATABASE_URL": database_url}
        self.env.pop("APP_ENV", None)
        self.server_env = {
            **self.env,
            "APP_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "RATELIMIT_ENABLED": "true",
            "RATELIMIT_DEFAULT": RATE_LIMIT,
        }
        self.api_requests = 0
        # The machine's 1-minute load average when the rounds start and end: other work
        # on the same cores shows here, and makes absolute figures noisy.
        self.load_average: list[float] = []

    def seed(self) -> dict[str, Account]:
        plans = {
            "reader": ["--todos", TODOS, "--buckets", BUCKETS, "--items", BUCKET_ITEMS],
            "deep": ["--todos", 0, "--buckets", 1, "--items", DEEP_ITEMS],
            # Writes go to an account of their own, so the lists read stay the same size.
            "writer": ["--todos", 1, "--buckets", 0, "--items", 0],
        }
        manage(["db", "upgrade"], self.env)
        accounts = {}
        for number, (name, plan) in enumerate(plans.items(), start=1):
            started = time.perf_counter()
            command = ["seed", "--users", "1", *map(str, plan), "--seed", str(number)]
            accounts[name] = parse_seed(manage(command, self.env))
            elapsed = time.perf_counter() - started
            print(f"  seeded the {name} account in {elapsed:.1f} s", flush=True)
        if not self.database_url.startswith("sqlite"):
            # A server's autovacuum analyzes new rows within minutes; measure that state
            # rather than the planner's blind guesses right after a bulk load.
            import psycopg

            with psycopg.connect(postgres_url(self.database_url), autocommit=True) as connection:
                connection.execute("VACUUM ANALYZE")
        return accounts

    @contextlib.contextmanager
    def api_server(self):
        """The API on a free port of a seeded database: (server, base URL, accounts)."""
        print(f"Seeding {self.database_url.split(':', 1)[0]} ...", flush=True)
        accounts = self.seed()
        port = free_port()
        serve = [sys.executable, "manage.py", "serve", "--config", str(GUNICORN_CONFIG)]
        serve += ["--workers", str(WORKERS), "--host", HOST, "--port", str(port)]
        with Server("API", serve, self.server_env, self.folder / "api.log") as api:
            base = f"http://{HOST}:{port}"
            api.wait_until_ready(base + "/healthz", {})
            yield api, base, accounts

    def endpoints(self, base: str, accounts: dict[str, Account]) -> list[Endpoint]:
        reader, deep, writer = accounts["reader"].key, accounts["deep"].key, accounts["writer"].key
        todos, _ = get_json(base, f"{API}/todos/?per_page=1", reader)
        buckets, _ = get_json(base, f"{API}/bucketlists/?per_page=100", reader)
        # Items are spread over the buckets at random: take one that holds exactly 10.
        bucket = min(buckets, key=lambda b: (abs(b["item_count"] - 10), b["id"]))
        (deep_bucket,), _ = get_json(base, f"{API}/bucketlists/?per_page=1", deep)
        items = f"{API}/bucketlists/{deep_bucket['id']}/items/?per_page={PER_PAGE}"
        half_way = deep_bucket["item_count"] // PER_PAGE // 2
        _, headers = get_json(base, f"{items}&page={half_way}", deep)
        written, _ = get_json(base, f"{API}/todos/?per_page=1", writer)
        todo_list = f"{API}/todos/?per_page={PER_PAGE}"
        count = f"{deep_bucket['item_count']:,} items"
        page_one = Endpoint(f"GET {count}, page 1", items, deep, target=None, slug="items-page-1")
        return [
            Endpoint(f"GET /todos/?per_page={PER_PAGE}", todo_list, reader, slug="todos"),
            Endpoint(
                f"GET /todos/?per_page={PER_PAGE} X-Fields {{id,title}}",
                todo_list,
                reader,
                headers={"X-Fields": "{id,title}"},
                slug="todos-masked",
            ),
            Endpoint("GET /todos/<id>", f"{API}/todos/{todos[0]['id']}", reader, slug="todo"),
            Endpoint(
                f"GET /bucketlists/<id> ({bucket['item_count']} items)",
                f"{API}/bucketlists/{bucket['id']}",
                reader,
                slug="bucket",
            ),
            page_one,
            Endpoint(
                f"GET {count}, page {half_way + 1:,} (cursor)",
                next_link(headers["Link"]),
                deep,
                target="deep",
                baseline=page_one,
                slug="items-half-way",
            ),
            Endpoint(
                "POST /todos/",
                f"{API}/todos/",
                writer,
                method="POST",
                body=json.dumps({"title": "Benchmark todo", "description": "Made by bench/run.py"}),
                target="write",
                slug="post",
            ),
            Endpoint(
                "PATCH /todos/<id>",
                f"{API}/todos/{written[0]['id']}",
                writer,
                method="PATCH",
                body=json.dumps({"done": True, "description": "Changed by bench/run.py"}),
                target="write",
                slug="patch",
            ),
        ]

    def record(self, base: str, endpoints: list[Endpoint]) -> dict[str, str]:
        """Each endpoint tried once on the API; the GETs' bodies, for the floor."""
        recorded = {}
        for endpoint in endpoints:
            status, _, body = request(
                base + endpoint.path, endpoint.method, endpoint.all_headers, endpoint.body
            )
            expected = 201 if endpoint.method == "POST" else 200
            if status != expected:
                raise RuntimeError(f"{endpoint.name} answered {status}: {body[:300]!r}")
            if endpoint.has_floor:
                recorded[endpoint.floor_key] = body.decode()
        return recorded

    def check_floor(self, base: str, endpoints: list[Endpoint], recorded: dict[str, str]) -> None:
        for endpoint in endpoints:
            if endpoint.has_floor:
                status, _, body = request(base + endpoint.path, headers=endpoint.all_headers)
                if status != 200 or body.decode() != recorded[endpoint.floor_key]:
                    raise RuntimeError(f"the floor does not answer {endpoint.name} as the API did")

    def load(self, base: str, endpoint: Endpoint, seconds: float) -> WrkResult:
        """`seconds` of load on `endpoint`, once the server is idle; wrk's result."""
        settle(base)
        script = self.folder / f"{id(endpoint)}.lua"
        if not script.exists():
            script.write_text(wrk_script(endpoint.method, endpoint.all_headers, endpoint.body))
        argv = [
            self.wrk,
            f"--threads={self.args.wrk_threads}",
            f"--connections={self.args.connections}",
            f"--duration={seconds:g}s",
            "--timeout=10s",
            f"--script={script}",
            base + endpoint.path,
        ]
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed on {endpoint.name}:\n{done.stdout}\n{done.stderr}")
        return parse_wrk(done.stdout + done.stderr)

    def run(self) -> dict:
        with self.api_server() as (api, api_base, accounts):
            floor_port = free_port()
            floor_base = f"http://{HOST}:{floor_port}"
            endpoints = self.endpoints(api_base, accounts)
            recorded = self.record(api_base, endpoints)
            responses = self.folder / "responses.json"
            responses.write_text(json.dumps(recorded))
            floor_env = {
                **self.server_env,
                "FLOOR_RESPONSES": str(responses),
                "FLOOR_DATABASE_URL": self.database_url,
            }
            floor = Server(
                "floor", gunicorn(floor_port, "floor"), floor_env, self.folder / "floor.log"
            )
            reference_port = free_port()
            bases = {"floor": floor_base, "reference": f"http://{HOST}:{reference_port}"}
            reference = Server(
                "reference",
                gunicorn(reference_port, "reference"),
                floor_env,
                self.folder / "reference.log",
            )
            with floor, reference:
                first = endpoints[0]
                floor.wait_until_ready(floor_base + first.path, first.all_headers)
                reference.wait_until_ready(bases["reference"] + first.path, first.all_headers)
                self.check_floor(floor_base, endpoints, recorded)
                return self.measure(api, api_base, bases, endpoints)

    def measure(self, api: Server, api_base: str, bases: dict[str, str], endpoints: list[Endpoint]):
        args = self.args
        floor_base, reference_base = bases["floor"], bases["reference"]
        print(f"Warming up ({args.warmup:g} s per endpoint and server) ...", flush=True)
        for endpoint in endpoints:
            self.load(api_base, endpoint, args.warmup)
            if endpoint.has_floor:
                self.load(floor_base, endpoint, args.warmup)
            if endpoint.has_reference:
                self.load(reference_base, endpoint, args.warmup)
        rss_before = worker_rss_kib(api.pid)
        self.load_average = [os.getloadavg()[0]]
        for number in range(1, args.rounds + 1):
            print(f"Round {number} of {args.rounds}", flush=True)
            for endpoint in endpoints:
                result = self.load(api_base, endpoint, args.duration)
                endpoint.api.append(result)
                self.api_requests += result.requests
                line = f"  {endpoint.name:<48} API {result.rps:8.0f} req/s"
                if endpoint.has_floor:
                    floor = self.load(floor_base, endpoint, args.duration)
                    endpoint.floor.append(floor)
                    line += f"   floor {floor.rps:8.0f} req/s   {result.rps / floor.rps:5.2f}"
                if endpoint.has_reference:
                    reference = self.load(reference_base, endpoint, args.duration)
                    endpoint.reference.append(reference)
                    line += f"   reference {reference.rps:8.0f} req/s"
                print(line, flush=True)
        # The memory reading needs RSS_REQUESTS served since warm-up: the rounds' load,
        # topped up with the everyday GETs when they fall short.
        everyday = [e for e in endpoints if e.target == "floor"]
        deadline = time.monotonic() + TOP_UP_SECONDS
        runs = 0
        while self.api_requests < RSS_REQUESTS and time.monotonic() < deadline:
            if runs == 0:
                print(f"Topping up to {RSS_REQUESTS:,} requests for the memory reading", flush=True)
            endpoint = everyday[runs % len(everyday)]
            self.api_requests += self.load(api_base, endpoint, args.duration).requests
            runs += 1
        rss_after = worker_rss_kib(api.pid)
        self.load_average.append(os.getloadavg()[0])
        return {"endpoints": endpoints, "rss": (rss_before, rss_after)}


# Reporting.


def git_commit() -> str:
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    return done.stdout.strip() or "unknown"


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return ""
    return "–" if math.isnan(value) else f"{value:,.{digits}f}"


def results_table(endpoints: list[Endpoint]) -> list[str]:
    lines = [
        "| endpoint | API req/s | floor req/s | API / floor | API p50 ms | API p99 ms "
        "| floor p50 ms | floor p99 ms | ratio by round | reference req/s | reference / floor "
        "| API / reference | errors | target | met |",
        "|---|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|---|---|",
    ]
    for endpoint in endpoints:
        s = summarize(endpoint)
        target, met = verdict(endpoint, s)
        by_round = ", ".join(f"{r:.2f}" for r in s.round_ratios)
        cells = [
            endpoint.name.replace("|", "\\|"),
            fmt(s.rps, 0),
            fmt(s.floor_rps, 0),
            fmt(s.ratio, 2),
            fmt(s.p50_ms, 2),
            fmt(s.p99_ms, 2),
            fmt(s.floor_p50_ms, 2),
            fmt(s.floor_p99_ms, 2),
            by_round,
            fmt(s.reference_rps, 0),
            fmt(s.reference_ratio, 2),
            fmt(s.to_reference, 2),
            str(s.errors),
            target,
            met,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def rss_table(rss: tuple[dict[int, int], dict[int, int]], requests: int) -> list[str]:
    before, after = rss
    lines = [
        f"| API worker | RSS after warm-up | RSS after {requests:,} requests | growth | met (< {RSS_GROWTH_TARGET:g}%) |",  # noqa: E501
        "|---|--:|--:|--:|---|",
    ]
    for pid in sorted(set(before) | set(after)):
        if pid in before and pid in after:
            growth = (after[pid] - before[pid]) / before[pid] * 100
            met = "yes" if growth < RSS_GROWTH_TARGET else "no"
            cells = [f"{before[pid] / 1024:.1f} MiB", f"{after[pid] / 1024:.1f} MiB"]
            cells += [f"{growth:+.1f}%", met]
        else:
            # A worker replaced during the run: its growth cannot be told.
            cells = [f"{before[pid] / 1024:.1f} MiB" if pid in before else "(new)"]
            cells += [f"{after[pid] / 1024:.1f} MiB" if pid in after else "(gone)", "", "no"]
        lines.append(f"| pid {pid} | " + " | ".join(cells) + " |")
    return lines


def report(args, kind: str, outcome: dict, requests: int, command: str, load: list) -> str:
    endpoints = outcome["endpoints"]
    today = datetime.date.today().isoformat()
    errors = sum(summarize(e).errors for e in endpoints)
    lines = [
        f"# Benchmark, {today}, {'SQLite' if kind == 'sqlite' else 'PostgreSQL'}",
        "",
        f"`{command}`",
        "",
        f"* Commit {git_commit()}; Python {platform.python_version()}; "
        f"{os.cpu_count()} cores; wrk {args.wrk_threads} thread(s), "
        f"{args.connections} connections, {args.duration:g} s per run, "
        f"{args.rounds} rounds, API, floor and reference interleaved within each round.",
        f"* Every server: gunicorn with bench/gunicorn.conf.py (the production settings "
        f"with sync workers and worker recycling off), {WORKERS} workers, on {HOST}.",
        "* Reference: bench/reference.py, bare Flask running the same queries through the "
        "driver, with orjson and none of the API's behaviour; its bodies are not the API's.",
        f"* Data: {TODOS:,} todos, {BUCKETS} bucket lists holding {BUCKET_ITEMS:,} items, "
        f"and one bucket list of {DEEP_ITEMS:,} items; writes by an account of their own.",
        "* req/s, p50 and p99 are medians over the rounds; the ratio is of the medians.",
        f"* Load average (1 min) at the first round and after the last: "
        f"{' and '.join(f'{value:.2f}' for value in load)}.",
        "",
        *results_table(endpoints),
        "",
        "## Worker memory",
        "",
        *rss_table(outcome["rss"], requests),
        "",
    ]
    if errors:
        lines += [f"**{errors} requests failed** (non-2xx/3xx or socket errors).", ""]
    return "\n".join(lines)


def chart(endpoints: list[Endpoint], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summaries = [summarize(e) for e in endpoints]
    names = [re.sub(r" (X-Fields|\(|page)", r"\n\1", e.name, count=1) for e in endpoints]
    positions = range(len(endpoints))
    figure, (rates, ratios) = plt.subplots(2, 1, figsize=(12, 9), height_ratios=[3, 2])
    width = 0.28
    bars = [
        ("API", [s.rps for s in summaries], "C0"),
        ("bare Flask + queries (reference)", [s.reference_rps or 0 for s in summaries], "C1"),
        ("floor", [s.floor_rps or 0 for s in summaries], "#999999"),
    ]
    for offset, (label, values, color) in zip((-width, 0, width), bars, strict=True):
        rates.bar([p + offset for p in positions], values, width, label=label, color=color)
    rates.set_yscale("log")
    rates.set_ylabel("requests/s, median of rounds (log scale)")
    rates.set_xticks(list(positions), names, fontsize=7)
    rates.legend()
    rates.set_title(title)
    # The lower panel: each everyday GET against the reference, its target drawn; the
    # other rows show their own target's figure.
    values = [s.to_reference or 0 for s in summaries]
    ratios.bar(list(positions), values, color=["C2" if v >= GET_TARGET else "C3" for v in values])
    ratios.axhline(GET_TARGET, linestyle="--", color="black", linewidth=1)
    ratios.text(len(endpoints) - 0.5, GET_TARGET, f" target {GET_TARGET}", va="bottom", ha="right")
    for position, endpoint, summary in zip(positions, endpoints, summaries, strict=True):
        if summary.to_reference is not None:
            label = f"{summary.to_reference:.2f}"
        elif endpoint.target == "deep" and endpoint.baseline is not None:
            slower = summary.p50_ms / summarize(endpoint.baseline).p50_ms
            label = f"p50 {slower:.2f}× page 1's\n(target ≤ {DEEP_TARGET:g}×)"
        elif endpoint.target == "write":
            p99 = "none answered" if math.isnan(summary.p99_ms) else f"{summary.p99_ms:.1f} ms"
            label = f"p99 {p99}\n(target < {WRITE_P99_MS:g} ms)"
        else:
            label = ""
        ratios.text(position, values[position], label, ha="center", va="bottom", fontsize=8)
    ratios.set_ylim(0, max(0.6, *values) * 1.2)
    ratios.set_ylabel("API / reference req/s")
    ratios.set_xticks(list(positions), names, fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved rounds (default 3).")
    parser.add_argument("--duration", type=float, default=5, help="Seconds per wrk run (5).")
    parser.add_argument("--warmup", type=float, default=2, help="Warm-up seconds per run (2).")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (8).")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (1).")
    parser.add_argument(
        "--database-url",
        help="A PostgreSQL server to run on, e.g. postgresql://postgres@127.0.0.1:5432/test; "
        "the run creates a database of its own there and drops it. Default: SQLite.",
    )
    parser.add_argument(
        "--output-dir", type=Path, default=BENCH / "results", help="Default bench/results."
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.duration <= 0 or args.connections < 1 or args.wrk_threads < 1:
        parser.error("rounds, duration, connections and wrk threads must be positive")
    if args.wrk_threads > args.connections:
        parser.error("wrk needs at least one connection per thread")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    # A TERM (a CI time-out, say) unwinds like Ctrl-C, so every server is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    command = " ".join(["python bench/run.py", *(argv if argv is not None else sys.argv[1:])])
    with tempfile.TemporaryDirectory(prefix="todos-bench-") as folder:
        folder = Path(folder)
        with database(args.database_url, folder) as (url, kind):
            bench = Bench(args, folder, url)
            outcome = bench.run()
    text = report(args, kind, outcome, bench.api_requests, command, bench.load_average)
    print()
    print(text)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{datetime.date.today().isoformat()}-{kind}"
    markdown, picture = args.output_dir / f"{stem}.md", args.output_dir / f"{stem}.png"
    markdown.write_text(text)
    try:
        chart(outcome["endpoints"], picture, f"API, reference and floor, {stem}")
    except ImportError:
        print("matplotlib is missing: pip install -e '.[bench]' for the chart.", file=sys.stderr)
    else:
        print(f"Wrote {markdown} and {picture}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
