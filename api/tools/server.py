"""The production server: the application under gunicorn, through gunicorn's Python API."""

import runpy
from collections.abc import Callable

from flask import Flask
from gunicorn.app.base import BaseApplication


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
