"""The production server: the application under gunicorn, through gunicorn's Python API."""

import contextlib
import os
import runpy
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from flask import Flask
from gunicorn.app.base import BaseApplication

from api.plumbing.metrics import MULTIPROCESS_DIR


class GunicornServer(BaseApplication):
    """gunicorn running `factory()`, with the settings of a gunicorn config file.

    `options` (from the command line) win over the file; None means "not given".
    Whether the factory runs once in the master or once per worker is the file's
    `preload_app` setting.
    """

    def __init__(self, factory: Callable[[], Flask], config_file: str | None = None, options=None):
        self.factory = factory
        self.config_file = config_file
        self.options = options or {}
        super().__init__()

    def load_config(self):
        settings = runpy.run_path(self.config_file) if self.config_file else {}
        settings.update((key, value) for key, value in self.options.items() if value is not None)
        # The file's globals also hold its imports; only gunicorn's own names are settings.
        for key, value in settings.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self):
        return self.factory()


@contextlib.contextmanager
def metrics_folder(enabled: bool) -> Iterator[str | None]:
    """The folder where the workers' metrics meet (prometheus_client's multiprocess mode),
    set as PROMETHEUS_MULTIPROC_DIR for this process and the workers it forks.

    A folder the environment names is emptied of an earlier run's files first, as
    prometheus_client requires; otherwise a new temporary folder serves this run and is
    removed at the end. Yields None, and sets nothing, when metrics are off.
    """
    if not enabled:
        yield None
        return
    given = os.environ.get(MULTIPROCESS_DIR)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
        yield str(folder)
        return
    folder = tempfile.mkdtemp(prefix="todos-metrics-")
    os.environ[MULTIPROCESS_DIR] = folder
    try:
        yield folder
    finally:
        os.environ.pop(MULTIPROCESS_DIR, None)
        shutil.rmtree(folder, ignore_errors=True)
