"""The label store on a PostgreSQL server: raters on other machines need nothing but its URL.

    postgresql://USER:PASSWORD@HOST:PORT/DATABASE/RUN

Each run is a schema of its own (``pbrl_RUN``) in the database, with the tables of the
SQLite store (:class:`pbrl.store_base.LabelStore` holds the operations both speak) and two more:
``media``, the clips' MP4 bytes, so that a rater's app reads videos from the server, and the
run's ``config.json`` in ``meta``. The guarantees are SQLite's: one transaction per label,
committed before ``add_label`` returns (the server's own durability); a label unique per
(query, rater); leases taken with ``SELECT ... FOR NO KEY UPDATE SKIP LOCKED`` and an upsert that
only replaces a lease that ran out; a schema version, upgraded in place. psycopg 3 is the
driver (``pip install pbrl[postgres]``).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pbrl.errors import InputError, MissingDependencyError, MissingFileError, StateError
from pbrl.store_base import SCHEMA_VERSION, LabelStore, guarded
from pbrl.types import Clip

SCHEME = "postgresql://"
PREFIX = "pbrl_"  # a run's schema is PREFIX + its name
INSTALL = "pip install 'pbrl[postgres]' (psycopg 3)"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS clips (
    clip_id TEXT PRIMARY KEY, env_id TEXT NOT NULL, length INTEGER NOT NULL, step BIGINT NOT NULL,
    frames_path TEXT, data BYTEA NOT NULL, text TEXT
);
CREATE TABLE IF NOT EXISTS media (clip_id TEXT PRIMARY KEY REFERENCES clips(clip_id), data BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS queries (
    query_id TEXT PRIMARY KEY, clip_ids TEXT NOT NULL, step BIGINT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
    model_version INTEGER NOT NULL DEFAULT 0, broken TEXT, seq BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE TABLE IF NOT EXISTS claims (
    query_id TEXT PRIMARY KEY REFERENCES queries(query_id),
    rater TEXT NOT NULL, expires_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS labels (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    query_id TEXT NOT NULL REFERENCES queries(query_id),
    rater TEXT NOT NULL, outcome TEXT, ranking TEXT,
    shown_at DOUBLE PRECISION NOT NULL, answered_at DOUBLE PRECISION NOT NULL,
    UNIQUE (query_id, rater)
);
CREATE TABLE IF NOT EXISTS retractions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, query_id TEXT NOT NULL, rater TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS status (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# upgrades from each older version of this schema, applied in order in one transaction (none yet:
# PostgreSQL stores began at the SQLite store's version 2)
MIGRATIONS: dict[int, str] = {}


def is_url(location: str | Path) -> bool:
    return str(location).startswith(SCHEME)


def split_url(url: str) -> tuple[str, str]:
    """``postgresql://.../DATABASE/RUN`` -> (the server's URL with the database, the run's
    name); an error naming the form when either part is missing."""
    parts = urlsplit(url)
    database, _, run = parts.path.strip("/").partition("/")
    if parts.scheme != "postgresql" or not database or not run or "/" in run:
        raise InputError(f"{redacted(url)}: a PostgreSQL store is postgresql://USER:PASSWORD@HOST:PORT/DATABASE/RUN "
                         "(RUN: the run's name, one path part)")
    if len((PREFIX + run).encode()) > 63:
        raise InputError(f"run name {run!r} is too long for a PostgreSQL schema (at most {63 - len(PREFIX)} bytes)")
    return urlunsplit(parts._replace(path=f"/{database}")), run


def check_server(url: str) -> str:
    """A trainer's ``--store``: ``postgresql://USER:PASSWORD@HOST:PORT/DATABASE`` (the run's
    name is added to it); an error naming the form otherwise."""
    parts = urlsplit(url)
    if parts.scheme != "postgresql" or not parts.hostname or "/" in parts.path.strip("/") or not parts.path.strip("/"):
        raise InputError(f"--store {redacted(url)}: give a PostgreSQL database, postgresql://USER@HOST:PORT/DATABASE "
                         "(the run becomes its schema pbrl_RUN), or leave --store out for RUN/labels.sqlite")
    return url


def without_password(url: str) -> str:
    """The URL with no password (what config.json records: give it through PGPASSWORD or
    ~/.pgpass, or --store again with --resume)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", "@", 1)))


def redacted(url: str) -> str:
    """The URL without its password (for messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise MissingDependencyError(f"a PostgreSQL store needs psycopg: {INSTALL}") from None
    return psycopg


@guarded
class PostgresStore(LabelStore):
    """A run's clips, queries, labels and clip videos in a PostgreSQL schema.

    :param url: ``postgresql://USER:PASSWORD@HOST:PORT/DATABASE/RUN``.
    :param create: create the run's schema when it is missing (False: an error, as for a
        missing ``labels.sqlite``).
    :param media_root: the run directory the clips' ``frames_path`` are relative to (the
        trainer's): their MP4 bytes are stored with them.
    """

    placeholder = "%s"
    for_update = " FOR UPDATE"
    # NO KEY UPDATE: a label's foreign-key check (KEY SHARE on its query) never waits on a claim's
    # row lock, which had made a rater labelling Q and one claiming deadlock over Q's claim
    skip_locked = " FOR NO KEY UPDATE OF q SKIP LOCKED"
    order = "seq"

    def __init__(self, url: str, create: bool = True, media_root: str | Path | None = None) -> None:
        psycopg = _psycopg()
        from psycopg import sql

        self.url = url
        server, self.run = split_url(url)
        self.location = redacted(url)
        self.schema = PREFIX + self.run
        self.media_root = Path(media_root) if media_root is not None else None
        self._cache: Path | None = None  # where media_path writes the videos it reads
        try:
            self.db = psycopg.connect(server, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise StateError(f"cannot reach the PostgreSQL server of {self.location} ({str(exc).strip()}); start "
                             "it (scripts/start-postgres.sh starts a local one) or fix the URL; nothing was changed"
                             ) from None
        schema = sql.Identifier(self.schema)
        with self.db.transaction():
            self.db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.schema,))  # one creator at a time
            exists = self.db.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)).fetchone()
            if not exists and not create:
                raise MissingFileError(f"{self.location}: no run {self.run!r} in this database (no schema "
                                       f"{self.schema}); check the run's name, or start its trainer with --store")
            self.db.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
            self.db.execute(sql.SQL("SET search_path TO {}").format(schema))
            version = self._version() if exists else None
            if version is not None and version > SCHEMA_VERSION:
                raise InputError(f"{self.location}: label store format {version} was written by a newer pbrl; this "
                                 f"pbrl reads formats up to {SCHEMA_VERSION}. Upgrade pbrl; nothing was changed")
            for old in range(version or SCHEMA_VERSION, SCHEMA_VERSION):
                self.db.execute(MIGRATIONS[old])
            self.db.execute(SCHEMA)
            self.db.execute("INSERT INTO meta VALUES ('schema_version', %s) ON CONFLICT (key) DO UPDATE "
                            "SET value = excluded.value", (str(SCHEMA_VERSION),))

    def _version(self) -> int | None:
        present = self.db.execute("SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'meta'",
                                  (self.schema,)).fetchone()
        row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() if present else None
        return int(row[0]) if row else None

    def _translate(self, exc: Exception) -> Exception | None:
        import psycopg

        if isinstance(exc, psycopg.OperationalError):
            return StateError(f"lost the PostgreSQL server of {self.location} ({str(exc).strip()}); what was "
                              "committed is kept: run this again once the server answers")
        if isinstance(exc, psycopg.DatabaseError):
            return InputError(f"{self.location}: the server refused an operation ({type(exc).__name__}: "
                              f"{str(exc).strip()}); nothing was changed")
        return None

    @contextmanager
    def _write(self) -> Iterator[None]:
        with self.db.transaction():  # READ COMMITTED; leases and labels lock their rows
            yield

    def checkpoint(self) -> bool:
        """Nothing to do: a committed transaction is the server's to keep."""
        return True

    def close(self) -> None:
        self.db.close()

    def last_label_id(self) -> int:
        row = self._execute("SELECT last_value FROM pg_sequences WHERE schemaname = ? AND sequencename = ?",
                            (self.schema, "labels_id_seq")).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    # --- the clips' videos, through the server --------------------------------------------------

    def _add_clips(self, clips: list[Clip]) -> None:
        super()._add_clips(clips)
        for clip in clips:  # the MP4 each clip has in the trainer's run directory
            if clip.frames_path is None or self.media_root is None:
                continue
            path = self.media_root / clip.frames_path
            if not path.is_file():
                raise MissingFileError(f"{path}: clip {clip.clip_id}'s video is missing; nothing was stored")
            self._execute("INSERT INTO media VALUES (?, ?) ON CONFLICT DO NOTHING", (clip.clip_id, path.read_bytes()))

    def reopen(self) -> PostgresStore:
        return PostgresStore(self.url, create=False, media_root=self.media_root)

    def media_path(self, clip_id: str) -> Path | None:
        """The clip's MP4 read from the server into a temporary folder of this process (once)."""
        media, _ = self.clip_media(clip_id)
        if media is None:
            return None
        if self._cache is None:
            self._cache = Path(tempfile.mkdtemp(prefix=f"pbrl-{self.run}-"))
        path = self._cache / f"{clip_id}.mp4"
        if not path.exists():
            row = self._execute("SELECT data FROM media WHERE clip_id = ?", (clip_id,)).fetchone()
            if row is None:
                raise MissingFileError(f"{self.location}: clip {clip_id}'s video is not in the database")
            path.write_bytes(bytes(row[0]))
        return path

    # --- the run's config, for raters with no run directory -------------------------------------

    def set_config(self, config: dict[str, Any]) -> None:
        with self._write():
            self._execute("INSERT INTO meta VALUES ('config', ?) ON CONFLICT (key) DO UPDATE "
                          "SET value = excluded.value", (json.dumps(config),))

    def config(self) -> dict[str, Any]:
        row = self._execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
        return json.loads(row[0]) if row else {}
