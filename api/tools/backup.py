"""Backups of the embedded SQLite database: `manage.py backup` and `manage.py restore`.

`backup` copies the database with SQLite's online backup API, in one step: the copy is
one consistent snapshot, taken while the API goes on serving (in WAL mode, writers do not
wait for a reader), and it holds every write committed before it began. It is written
beside its destination under a temporary name, checked with `PRAGMA integrity_check`, and
only then moved into place, so a failed backup leaves nothing behind.

`restore` refuses to run while a server uses the database. `manage.py serve` and
`manage.py run` hold a shared lock on a file beside the database (`<database>.lock`) for
as long as they run; a restore takes it exclusively, so neither can happen during the
other. The lock is the kernel's (`flock`): a server that dies releases it.

PostgreSQL has its own tools (`pg_dump`, `pg_restore`); both commands say so.
"""

import contextlib
import fcntl
import os
import sqlite3
import time
from pathlib import Path
from typing import NamedTuple

from sqlalchemy.engine import make_url

PG_DUMP = "pg_dump --format=custom --file=todos.dump <DATABASE_URL>"
PG_RESTORE = "pg_restore --clean --if-exists --dbname=<DATABASE_URL> todos.dump"


class BackupError(Exception):
    """A backup or restore that cannot be done; its message says why and what to do."""


class Report(NamedTuple):
    path: Path
    size: int  # bytes
    seconds: float
    integrity: str  # what PRAGMA integrity_check answered: "ok"


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite database URL; None for another database or one in memory."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def sqlite_database(url: str) -> Path:
    """The file of an SQLite database URL; BackupError for any other database."""
    found = sqlite_file(url)
    if found is not None:
        return found
    backend = make_url(url).get_backend_name()
    if backend != "sqlite":
        raise BackupError(
            f"The database is {backend}, not SQLite: use its own tools, "
            f"e.g. `{PG_DUMP}` and `{PG_RESTORE}`."
        )
    raise BackupError("The database is in memory: there is no file to back up.")


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


def take_lock(database: Path, exclusive: bool) -> int | None:
    """The descriptor of `database`'s lock file, locked shared (a server) or exclusively
    (a restore), or None when the other kind holds it; it stays locked until closed."""
    descriptor = os.open(lock_path(database), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    return descriptor


def hold_server_lock(database: Path) -> int:
    """Take the shared lock of a server using `database`; returns its file descriptor,
    which must stay open as long as the server runs (its processes inherit it).

    Raises BackupError while a restore holds the lock.
    """
    descriptor = take_lock(database, exclusive=False)
    if descriptor is None:
        raise BackupError(f"A restore of {database} is under way; start the server after it.")
    return descriptor


def hold_for_server(app) -> None:
    """Keep restores out of `app`'s SQLite database for as long as this process (and the
    workers it forks) runs; nothing for other databases or an in-memory one."""
    database = sqlite_file(app.config["SQLALCHEMY_DATABASE_URI"])
    if database is not None:
        app.extensions["server_lock"] = hold_server_lock(database)


def integrity(connection: sqlite3.Connection) -> str:
    return "; ".join(row[0] for row in connection.execute("PRAGMA integrity_check"))


def backup(database: Path, target: Path, force: bool = False) -> Report:
    """Copy `database` to `target` while servers use it; BackupError if it cannot be done,
    in which case nothing is written. An existing `target` is replaced only with `force`."""
    started = time.perf_counter()
    if not database.is_file():
        raise BackupError(f"There is no database at {database}.")
    if target.exists() and not force:
        raise BackupError(f"{target} exists; pass --force to replace it.")
    folder = target.parent
    if not folder.is_dir():
        raise BackupError(f"Cannot write {target}: {folder} is not a folder.")
    if not os.access(folder, os.W_OK):
        raise BackupError(f"Cannot write {target}: no permission to write in {folder}.")
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        source = sqlite3.connect(database)
        try:
            copy = sqlite3.connect(partial)
            try:
                source.backup(copy)
                # One self-contained file: no write-ahead log beside it.
                copy.execute("PRAGMA journal_mode = DELETE")
                checked = integrity(copy)
            finally:
                copy.close()
        finally:
            source.close()
        if checked != "ok":
            raise BackupError(f"The copy failed its integrity check: {checked}")
        if force:
            os.replace(partial, target)
        else:
            # A hard link refuses to replace a file that appeared meanwhile.
            os.link(partial, target)
            partial.unlink()
    except (OSError, sqlite3.Error) as error:
        raise BackupError(f"Cannot write {target}: {describe(error)}") from None
    finally:
        with contextlib.suppress(OSError):  # its folder may not even exist
            partial.unlink(missing_ok=True)
    return Report(target, target.stat().st_size, time.perf_counter() - started, checked)


def restore(backup_file: Path, database: Path) -> Report:
    """Replace `database`'s content with `backup_file`'s, when no server is using it.

    BackupError when a server holds the database, or `backup_file` is not a sound
    backup of this API (nothing is changed then).
    """
    started = time.perf_counter()
    if not backup_file.is_file():
        raise BackupError(f"There is no backup at {backup_file}.")
    try:
        source = sqlite3.connect(backup_file)
    except sqlite3.Error as error:
        raise BackupError(f"Cannot open {backup_file}: {describe(error)}") from None
    try:
        check_backup(source, backup_file)
        descriptor = take_lock(database, exclusive=True)
        if descriptor is None:
            raise BackupError(f"A server is using {database}: stop it, then restore.")
        try:
            restored = sqlite3.connect(database)
            try:
                source.backup(restored)
                checked = integrity(restored)
            finally:
                restored.close()
        finally:
            os.close(descriptor)
    except sqlite3.Error as error:
        raise BackupError(f"Cannot restore {database}: {describe(error)}") from None
    finally:
        source.close()
    return Report(database, database.stat().st_size, time.perf_counter() - started, checked)


def check_backup(source: sqlite3.Connection, path: Path) -> None:
    """BackupError unless `source` is a sound SQLite database made by this API."""
    try:
        checked = integrity(source)
        tables = {row[0] for row in source.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} is not an SQLite database: {describe(error)}") from None
    if checked != "ok":
        raise BackupError(f"{path} fails its integrity check: {checked}")
    if not {"users", "api_keys", "todos"} <= tables:
        raise BackupError(f"{path} is not a backup of this API's database.")


def describe(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error)
