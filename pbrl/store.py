"""The durable label store: SQLite (WAL, synchronous=FULL, one transaction per label), or
PostgreSQL for raters on other machines (:mod:`pbrl.store_pg`); :func:`open_store` opens
either by its location.

Holds the clips that were queried (arrays as ``.npz`` blobs, never pickles), the queries and
the labels, with rater and shown / answered times. The operations are
:class:`pbrl.store_base.LabelStore`'s, shared by both backends.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pbrl.errors import InputError, MissingFileError, StateError
from pbrl.store_base import SCHEMA_VERSION, LabelStore, guarded

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS clips (
    clip_id TEXT PRIMARY KEY, env_id TEXT NOT NULL, length INTEGER NOT NULL, step INTEGER NOT NULL,
    frames_path TEXT, data BLOB NOT NULL, text TEXT
);
CREATE TABLE IF NOT EXISTS queries (
    query_id TEXT PRIMARY KEY, clip_ids TEXT NOT NULL, step INTEGER NOT NULL, created_at REAL NOT NULL,
    model_version INTEGER NOT NULL DEFAULT 0, broken TEXT
);
CREATE TABLE IF NOT EXISTS claims (
    query_id TEXT PRIMARY KEY REFERENCES queries(query_id),
    rater TEXT NOT NULL, expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS labels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    query_id TEXT NOT NULL REFERENCES queries(query_id),
    rater TEXT NOT NULL, outcome TEXT, ranking TEXT,
    shown_at REAL NOT NULL, answered_at REAL NOT NULL,
    UNIQUE (query_id, rater)
);
CREATE TABLE IF NOT EXISTS retractions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, query_id TEXT NOT NULL, rater TEXT NOT NULL, at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS status (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

MIGRATE_1_TO_2 = """
ALTER TABLE clips ADD COLUMN text TEXT;
ALTER TABLE queries ADD COLUMN model_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queries ADD COLUMN broken TEXT;
"""

STORE_FILE = "labels.sqlite"  # a run directory's SQLite store


def store_location(run_path: Path, server: str = "") -> str:
    """Where the run in ``run_path`` keeps its labels: ``RUN/labels.sqlite``, or with a
    PostgreSQL ``server`` (``postgresql://.../DATABASE``) the run's own schema there
    (``.../DATABASE/RUN``, RUN the directory's name)."""
    return f"{server.rstrip('/')}/{run_path.name}" if server else str(run_path / STORE_FILE)


def open_store(location: str | Path, create: bool = True, media_root: str | Path | None = None) -> LabelStore:
    """The store at ``location``: a ``labels.sqlite`` path, or a PostgreSQL store's URL
    (``postgresql://USER:PASSWORD@HOST:PORT/DATABASE/RUN``, :mod:`pbrl.store_pg`; its
    ``media_root``: the run directory whose clip videos it stores)."""
    if str(location).startswith("postgresql://"):
        from pbrl.store_pg import PostgresStore

        return PostgresStore(str(location), create=create, media_root=media_root)
    return PreferenceStore(location, create=create)


def _damaged(path: Path, exc: BaseException) -> InputError:
    return InputError(f"{path} is damaged ({type(exc).__name__}: {exc}); restore it from a copy (`sqlite3 {path.name} "
                      "'.recover'` salvages what it can into a new file); nothing was changed")


@guarded
class PreferenceStore(LabelStore):
    """A run's clips, queries and labels in one SQLite file (``RUN/labels.sqlite``); the clips'
    videos are files of the run directory.

    :param path: the database file.
    :param create: create the file if it is missing (False: a missing file is an error; the
        rating app never creates a store).
    """

    def __init__(self, path: str | Path, create: bool = True) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        if not create and not self.path.is_file():
            raise MissingFileError(f"{self.path}: no label store here (is this a pbrl run directory?)")
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            version = None
            if "meta" in tables:
                row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
                version = int(row[0]) if row else None
        except sqlite3.DatabaseError as exc:
            raise _damaged(self.path, exc) from None
        if version is not None and version > SCHEMA_VERSION:
            self.db.close()
            raise InputError(
                f"{self.path}: label store format {version} was written by a newer pbrl; this pbrl reads formats up to "
                f"{SCHEMA_VERSION}. Upgrade pbrl (pip install -U pbrl); nothing was changed"
            )
        if tables and version is None:
            self.db.close()
            raise InputError(f"{self.path}: an SQLite file that is not a pbrl label store; nothing was changed")
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA busy_timeout=30000")
        if version == 1:  # upgrade in place, in one transaction: every clip, query and label is kept
            with self._write():
                now = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
                if int(now) == 1:  # another process may have upgraded it meanwhile
                    for statement in MIGRATE_1_TO_2.strip().split(";")[:-1]:
                        self.db.execute(statement)
                    self.db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
        self.db.executescript(SCHEMA)
        if version is None:
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            self.checkpoint()  # the tables are in labels.sqlite itself from the start

    def _translate(self, exc: Exception) -> Exception | None:
        if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc)):
            return StateError(f"{self.path} stayed locked by another process for 30 s ({exc}); stop the other process "
                              "and run this again; nothing was changed")
        if isinstance(exc, sqlite3.DatabaseError):
            return _damaged(self.path, exc)
        return None

    @contextmanager
    def _write(self) -> Iterator[None]:
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")  # the write lock at once: one writer at a time, no deadlock
            yield

    def checkpoint(self) -> bool:
        """Copy the write-ahead log into labels.sqlite itself and empty it, so that the main
        file alone holds every label (a copy of it is a whole store; deleting ``-wal`` loses
        nothing). A rating app reading at the same moment is waited for (busy timeout); when it
        still blocks, whatever could be copied is, the rest stays in the log, safe, and this
        returns False."""
        busy, log, copied = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy == 0 and log == copied:
            return True
        busy, log, copied = self.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return busy == 0 and log == copied

    def close(self) -> None:
        """Checkpoint (:meth:`checkpoint`) and close: no pbrl command leaves labels in a
        ``-wal`` file that another process may delete."""
        try:
            self.checkpoint()
        except sqlite3.Error:  # read-only medium, or a store another process holds locked: the log keeps them
            pass
        self.db.close()

    def last_label_id(self) -> int:
        row = self.db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'labels'").fetchone()
        return int(row[0]) if row else 0

    def reopen(self) -> PreferenceStore:
        return PreferenceStore(self.path, create=False)

    def media_path(self, clip_id: str) -> Path | None:
        """The clip's MP4, a file of the run directory beside the store."""
        media, _ = self.clip_media(clip_id)
        return self.path.parent / media if media is not None else None
