"""gunicorn settings for the benchmark: the production file's, with three changes.

Both the API (`manage.py serve -c bench/gunicorn.conf.py`) and the floor run under
this file, so they share every setting: worker class, timeouts, logging.

* Sync workers, one request at a time each, as the performance bar is stated. The
  production `gthread` worker keeps a keep-alive connection on the worker that accepted
  it, so wrk's 8 connections split between the 2 workers however the accepts fell: all
  8 on one worker halves the throughput. Measured on the floor, back to back: 3,338 and
  9,386 req/s. A sync worker closes each connection after its response, so every
  request is accepted afresh by whichever worker is free, and runs repeat.
* Worker recycling (`max_requests`) is off, so that the memory reading after 50,000
  requests follows the same worker processes as the reading after warm-up; recycling
  would hide the very growth being measured.
* `post_fork` drops the API's database connections as in production, and does nothing
  for the floor (a bare WSGI function) or the reference (Flask without SQLAlchemy).
"""

import os
import runpy
import types

_production = runpy.run_path(
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gunicorn.conf.py")
)
globals().update(
    (name, value)
    for name, value in _production.items()
    if not name.startswith("_") and not isinstance(value, types.ModuleType)
)

worker_class = "sync"
threads = 1
max_requests = 0
max_requests_jitter = 0
_production_post_fork = _production["post_fork"]


def post_fork(server, worker):
    if "sqlalchemy" in getattr(worker.app.wsgi(), "extensions", {}):
        _production_post_fork(server, worker)
