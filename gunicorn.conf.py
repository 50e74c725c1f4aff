"""gunicorn settings for `python manage.py serve`, the production server.

The flags of `serve` (--bind, --workers, --threads) take precedence over these.
"""

import gc
import multiprocessing
import os

# Loopback by default: a reverse proxy or load balancer on the same host forwards to it.
# Pass --bind 0.0.0.0:8000 to listen on every interface.
bind = ["127.0.0.1:8000"]

# The usual rule of thumb for a service that mostly waits on its database: two workers
# per core plus one. WEB_CONCURRENCY, which many platforms set, overrides it.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# A few threads per worker overlap database waits; each thread uses one pooled
# connection at a time, well within DB_POOL_SIZE + DB_MAX_OVERFLOW.
worker_class = "gthread"
threads = 2

# A worker silent for `timeout` seconds is killed and replaced; on restart or shutdown,
# requests in flight get `graceful_timeout` seconds to finish.
timeout = 30
graceful_timeout = 30
# Seconds an idle keep-alive connection stays open (between the proxy and us).
keepalive = 5
# Recycle workers now and then to cap slow memory growth; the jitter keeps them from
# restarting all at once.
max_requests = 10_000
max_requests_jitter = 1_000

# The application logs every request itself, with its request id and timing, so
# gunicorn's access log would only repeat it. gunicorn's own messages go to stderr.
accesslog = None
errorlog = "-"
loglevel = "info"
proc_name = "todos-api"

# X-Forwarded-* headers are the application's to believe, as far as TRUSTED_PROXIES says
# (werkzeug's ProxyFix): gunicorn itself believes none, whatever the client's address.
forwarded_allow_ips = ""
secure_scheme_headers = {}

# gunicorn 25.1+ opens a control socket at one fixed path per user; every server the
# user runs would share it. Manage the server with signals (HUP, TTIN, TTOU, TERM).
control_socket_disable = True

# preload_app: the master builds the application once, then forks the workers.
# * A bad configuration (no SECRET_KEY, a wrong DATABASE_URL scheme) stops the server
#   at start-up with one clear error, instead of every worker failing in a loop.
# * Workers share the loaded code (copy-on-write), so they start fast and use less memory.
# * The price: new code needs a full restart (HUP reloads settings only), and anything
#   the master opened before forking would be shared; post_fork below drops any
#   database connections, so each worker opens its own.
preload_app = True


def pre_fork(server, worker):
    # Everything the master has built (the application, its modules) lives as long as the
    # workers do: moved out of the collector's reach, a worker's full collections skip it
    # and do not write to those shared pages (copy-on-write). See gc.freeze().
    gc.freeze()


def child_exit(server, worker):
    # With metrics on, a worker that has exited must stop counting in the live gauges
    # (connections in use); its counters stay, so that no request goes uncounted.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_fork(server, worker):
    if not server.cfg.preload_app:
        return
    from models import db

    app = worker.app.wsgi()
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)
