"""The benchmark's helpers (bench/run.py): it is not a test, but its parsing must not rot."""

import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

RUN_PY = Path(__file__).resolve().parent.parent / "bench" / "run.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_run", RUN_PY)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_run", module)
    spec.loader.exec_module(module)
    return module


bench = load_bench()

WRK_OUTPUT = """\
Running 5s test @ http://127.0.0.1:41234/api/v1/todos/?per_page=20
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.76ms    3.09ms  16.23ms   62.76%
    Req/Sec     1.60k   103.55     1.79k    70.00%
  7968 requests in 5.00s, 2.99MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   1593.60
Transfer/sec:    612.00KB
BENCH-WRK {"requests": 7968, "duration_us": 5000000, "p50_us": 4250, "p99_us": 15875, \
"errors": {"connect": 0, "read": 1, "write": 0, "status": 3, "timeout": 0}}
"""

SEED_OUTPUT = """\
Seeding
Added 1 account, each with 10,000 todos, 100 bucket lists and 1,000 items, in 0.3 s (seed 1).
Demo login: demo2@example.com / u8xINxSrM4ACwH3o
API key (shown once): tdk_zznXrGGo6vZcbsqOgj8ML--6CbC8C5zDTC45PvK4PRU
"""

STATUS = """\
Name:\tgunicorn: worker [todos-api]
State:\tS (sleeping)
Pid:\t1037
PPid:\t1015
VmPeak:\t  301234 kB
VmRSS:\t   81532 kB
Threads:\t3
"""


def test_parse_wrk_reads_the_done_hook_line():
    result = bench.parse_wrk(WRK_OUTPUT)
    assert result.requests == 7968
    assert result.seconds == 5.0
    assert result.rps == pytest.approx(1593.6)
    assert (result.p50_ms, result.p99_ms) == (4.25, 15.875)
    assert result.errors == 4


def test_parse_wrk_without_a_result_line_fails_loudly():
    with pytest.raises(ValueError, match="no result line"):
        bench.parse_wrk(WRK_OUTPUT.rsplit("BENCH-WRK", 1)[0])


def test_parse_seed():
    account = bench.parse_seed(SEED_OUTPUT)
    assert account.email == "demo2@example.com"
    assert account.password == "u8xINxSrM4ACwH3o"
    assert account.key == "tdk_zznXrGGo6vZcbsqOgj8ML--6CbC8C5zDTC45PvK4PRU"
    with pytest.raises(ValueError):
        bench.parse_seed("Seeding\nAdded 1 account\n")


def test_parse_rss_and_parent():
    assert bench.parse_rss_kib(STATUS) == 81532
    with pytest.raises(ValueError):
        bench.parse_rss_kib("Name:\tkthreadd\nState:\tS (sleeping)\n")
    # The command name is in parentheses and may hold spaces and parentheses.
    assert bench.parse_ppid("1037 (gunicorn: (w) x) S 1015 1015 1015 0 -1") == 1015


def test_worker_rss_reads_the_children_of_a_master(tmp_path):
    processes = {
        "1015": ("1015 (python) S 1 1015", "VmRSS:\t  50000 kB\n"),
        "1037": ("1037 (gunicorn: worker) S 1015 1015", STATUS),
        "1041": ("1041 (gunicorn: worker) S 1015 1015", "VmRSS:\t  90000 kB\n"),
        "2000": ("2000 (wrk) S 1 2000", "VmRSS:\t  1000 kB\n"),
    }
    for pid, (stat, status) in processes.items():
        (tmp_path / pid).mkdir()
        (tmp_path / pid / "stat").write_text(stat)
        (tmp_path / pid / "status").write_text(status)
    (tmp_path / "self").mkdir()
    assert bench.worker_rss_kib(1015, proc=tmp_path) == {1037: 81532, 1041: 90000}


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_worker_rss_of_a_real_child():
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as child:
        try:
            rss = bench.worker_rss_kib(os.getpid())
            assert rss[child.pid] > 1000
        finally:
            child.kill()


def test_next_link():
    header = (
        '<http://127.0.0.1:8000/api/v1/todos/?per_page=20&page=1>; rel="first", '
        '<http://127.0.0.1:8000/api/v1/todos/?per_page=20&cursor=WyJuIiwyXQ.x-Y_z>; rel="next", '
        '<http://127.0.0.1:8000/api/v1/todos/?per_page=20&cursor=WyJsIl0.abc>; rel="last"'
    )
    assert bench.next_link(header) == "/api/v1/todos/?per_page=20&cursor=WyJuIiwyXQ.x-Y_z"
    with pytest.raises(ValueError):
        bench.next_link(header.replace('rel="next"', 'rel="prev"'))


def test_lua_strings_need_no_escaping():
    assert bench.lua_string("{id,title}") == "[[{id,title}]]"
    assert bench.lua_string('{"a": [[1]]}') == '[=[{"a": [[1]]}]=]'


class Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list = []

    def do_PATCH(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append((self.command, self.path, dict(self.headers), body))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_script_sends_method_headers_and_body(tmp_path):
    body = json.dumps({"done": True, "title": "a ]] b"})
    script = tmp_path / "patch.lua"
    headers = {"X-API-KEY": "tdk_x", "X-Fields": "{id,title}", "Content-Type": "application/json"}
    script.write_text(bench.wrk_script("PATCH", headers, body))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/api/v1/todos/7"
        argv = ["wrk", "-t1", "-c1", "-d1s", "--timeout=2s", f"--script={script}", url]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    result = bench.parse_wrk(done.stdout + done.stderr)
    assert result.requests > 0 and result.errors == 0
    method, path, sent, received = Recorder.seen[0]
    assert (method, path, received.decode()) == ("PATCH", "/api/v1/todos/7", body)
    assert sent["X-API-KEY"] == "tdk_x" and sent["X-Fields"] == "{id,title}"


def result(requests, p50=4.0, p99=9.0):
    return bench.WrkResult(requests=requests, seconds=5.0, p50_ms=p50, p99_ms=p99, errors=0)


def test_medians_ratios_and_targets():
    listing = bench.Endpoint("GET /todos/", "/api/v1/todos/", "k")
    listing.api = [result(2000), result(2500), result(1500)]
    listing.floor = [result(4000), result(4000), result(5000)]
    summary = bench.summarize(listing)
    assert (summary.rps, summary.floor_rps, summary.ratio) == (400, 800, 0.5)
    assert summary.round_ratios == [0.5, 0.625, 0.3]
    listing.reference = [result(5000), result(6000), result(4000)]
    summary = bench.summarize(listing)
    # 400 req/s against the reference's 1,000
    assert (summary.to_reference, bench.verdict(listing, summary)) == (
        0.4,
        ("≥ 0.35 of reference", "yes"),
    )
    listing.reference = [result(6000)]
    assert bench.verdict(listing, bench.summarize(listing)) == ("≥ 0.35 of reference", "no")

    page_one = bench.Endpoint("page 1", "/p1", "k", target=None, api=[result(100, p50=20)])
    deep = bench.Endpoint("deep", "/p2", "k", target="deep", baseline=page_one)
    deep.api = [result(90, p50=31)]
    assert bench.verdict(deep, bench.summarize(deep)) == ("p50 ≤ 1.5× page 1", "no (1.55×)")


def test_a_run_with_no_answer_fails_its_target():
    post = bench.Endpoint("POST /todos/", "/t", "k", method="POST", body="{}", target="write")
    post.api = [result(0, p50=0, p99=0)]
    summary = bench.summarize(post)
    assert summary.rps == 0
    assert bench.verdict(post, summary) == ("p99 < 25 ms", "no (no request completed)")


def test_the_reference_median_and_ratio():
    listing = bench.Endpoint("GET /todos/", "/api/v1/todos/", "k")
    listing.api, listing.floor = [result(2000)], [result(4000)]
    listing.reference = [result(3000), result(2500), result(3500)]
    summary = bench.summarize(listing)
    assert (summary.reference_rps, summary.reference_ratio) == (600, 0.75)
    assert listing.has_reference
    assert not bench.Endpoint("deep", "/p", "k", target="deep").has_reference


@pytest.fixture
def reference(app, database, monkeypatch):
    """bench/reference.py's app on the test database, through the floor's connection."""
    from bench import floor
    from bench import reference as module

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if database is not None:
        url += f"?options=-csearch_path%3D{database['schema']}"
    monkeypatch.setenv("FLOOR_DATABASE_URL", url)
    monkeypatch.setattr(floor, "_local", threading.local())
    yield module.app.test_client()
    floor.connection().close()


def test_the_reference_runs_the_owner_scoped_queries(client, alice, bob, reference):
    """The reference is no fake: it answers from the database, for the key's owner only."""
    api = "/api/v1"
    titles = ["first", "second", "third"]
    ids = [
        client.post(f"{api}/todos/", json={"title": t}, headers=alice.headers).get_json()["id"]
        for t in titles
    ]
    theirs = client.post(f"{api}/todos/", json={"title": "bob's"}, headers=bob.headers)
    bucket = client.post(f"{api}/bucketlists/", json={"name": "trips"}, headers=alice.headers)
    bucket_id = bucket.get_json()["id"]
    for name in ("north", "south"):
        item = {"name": name}
        client.post(f"{api}/bucketlists/{bucket_id}/items/", json=item, headers=alice.headers)

    assert reference.get(f"{api}/todos/").status_code == 401
    assert reference.get(f"{api}/todos/", headers={"X-API-KEY": "tdk_unknown"}).status_code == 401
    page = reference.get(f"{api}/todos/?per_page=2", headers=alice.headers).get_json()
    assert [(todo["id"], todo["title"]) for todo in page] == [(ids[0], "first"), (ids[1], "second")]
    masked = reference.get(
        f"{api}/todos/", headers={**alice.headers, "X-Fields": "{id,title}"}
    ).get_json()
    assert masked[0] == {"id": ids[0], "title": "first"}
    one = reference.get(f"{api}/todos/{ids[1]}", headers=alice.headers).get_json()
    assert (one["title"], one["done"]) == ("second", False)
    bobs = theirs.get_json()["id"]
    assert reference.get(f"{api}/todos/{bobs}", headers=alice.headers).status_code == 404
    found = reference.get(f"{api}/bucketlists/{bucket_id}", headers=alice.headers).get_json()
    assert (found["name"], [item["name"] for item in found["items"]]) == (
        "trips",
        ["north", "south"],
    )
    assert reference.get(f"{api}/bucketlists/{bucket_id}", headers=bob.headers).status_code == 404


def test_the_instruction_count_is_read_from_the_newest_callgrind_dump(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(RUN_PY.parent))
    instructions = importlib.import_module("instructions")
    old, new = tmp_path / "callgrind.41.1", tmp_path / "callgrind.41.2"
    old.write_text("events: Ir\nsummary: 0\ntotals: 5\n")
    new.write_text("events: Ir\nsummary: 0\ntotals: 123456789\n")
    os.utime(old, (1, 1))
    assert instructions.dumped(tmp_path, 41) == 123456789
