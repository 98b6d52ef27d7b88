"""The durable label store: SQLite (WAL, synchronous=FULL, one transaction per label).

Holds the clips that were queried (arrays as ``.npz`` blobs, never pickles), the queries and
the labels, with rater and shown / answered times. A label is unique per (query, rater), so
writing the same answer again is harmless.
"""

from __future__ import annotations

import functools
import io
import json
import sqlite3
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from pbrl.errors import InputError, MissingFileError, StateError, UnknownNameError
from pbrl.types import Clip, Label, Outcome, Query

SCHEMA_VERSION = 2  # 2: clip text, query model version, broken queries, retractions, trainer status

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

# a query waiting for a rater: no label, not marked broken
_OPEN = "NOT EXISTS (SELECT 1 FROM labels l WHERE l.query_id = q.query_id) AND q.broken IS NULL"


def _damaged(path: Path, exc: BaseException) -> InputError:
    return InputError(f"{path} is damaged ({type(exc).__name__}: {exc}); restore it from a copy (`sqlite3 {path.name} "
                      "'.recover'` salvages what it can into a new file); nothing was changed")


def _guarded(cls: type) -> type:
    """Every public method of ``cls`` turns SQLite's damage reports into an error naming the file."""
    for name, method in list(vars(cls).items()):
        if name.startswith("_") or not callable(method):
            continue

        def call(self: PreferenceStore, *args: Any, _method: Any = method, **kwargs: Any) -> Any:
            try:
                return _method(self, *args, **kwargs)
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise StateError(f"{self.path} stayed locked by another process for 30 s ({exc}); stop the "
                                     "other process and run this again; nothing was changed") from None
                raise _damaged(self.path, exc) from None
            except sqlite3.DatabaseError as exc:
                raise _damaged(self.path, exc) from None

        functools.update_wrapper(call, method)
        setattr(cls, name, call)
    return cls


@_guarded
class PreferenceStore:
    """A run's clips, queries and labels in one SQLite file.

    :param path: the database file.
    :param create: create the file if it is missing (False: a missing file is an error; the
        rating app never creates a store).
    """

    def __init__(self, path: str | Path, create: bool = True) -> None:
        self.path = Path(path)
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
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                now = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
                if int(now) == 1:  # another process may have upgraded it meanwhile
                    for statement in MIGRATE_1_TO_2.strip().split(";")[:-1]:
                        self.db.execute(statement)
                    self.db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
        self.db.executescript(SCHEMA)
        if version is None:
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            self.checkpoint()  # the tables are in labels.sqlite itself from the start

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
        """The largest row id a label ever had in this store (AUTOINCREMENT: an undone
        label's id is never reused, so this never goes down unless labels were lost)."""
        row = self.db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'labels'").fetchone()
        return int(row[0]) if row else 0

    # --- writes (each its own transaction) --------------------------------------------------

    def add_clips(self, clips: Iterable[Clip]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR IGNORE INTO clips VALUES (?, ?, ?, ?, ?, ?, ?)",
                                [_clip_row(c) for c in clips])

    def add_queries(self, queries: Iterable[Query], created_at: float, clips: Iterable[Clip] = (),
                    model_version: int = 0) -> None:
        """Store queries (and the clips they show) in one transaction.

        :param model_version: the reward model's version when the queries were chosen (the
            policy step is each query's ``step``).
        """
        clip_rows = [_clip_row(c) for c in clips]
        rows = [(q.query_id, json.dumps(list(q.clip_ids)), q.step, created_at, model_version) for q in queries]
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR IGNORE INTO clips VALUES (?, ?, ?, ?, ?, ?, ?)", clip_rows)
            self.db.executemany(
                "INSERT OR IGNORE INTO queries (query_id, clip_ids, step, created_at, model_version) "
                "VALUES (?, ?, ?, ?, ?)", rows
            )

    def add_query(self, query: Query, created_at: float) -> None:
        self.add_queries([query], created_at)

    def add_label(self, label: Label, require_claim: bool = False) -> bool:
        """Store one label in one transaction; the same (query, rater) again changes nothing.
        When this returns True, the label is on disk (synchronous=FULL).

        :param require_claim: refuse (return False, write nothing) when another rater holds
            the query's claim (this rater's lease ran out while the app stood still and
            someone else took the query): two raters never answer one query.
        """
        outcome = label.outcome.value if label.outcome is not None else None
        ranking = json.dumps(list(label.ranking)) if label.ranking is not None else None
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            if require_claim:
                holder = self.db.execute("SELECT rater FROM claims WHERE query_id = ?", (label.query_id,)).fetchone()
                if holder is not None and holder[0] != label.rater:
                    return False
            self.db.execute(
                "INSERT OR IGNORE INTO labels (query_id, rater, outcome, ranking, shown_at, answered_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (label.query_id, label.rater, outcome, ranking, label.shown_at, label.answered_at),
            )
        return True

    def mark_broken(self, query_id: str, reason: str) -> None:
        """Take a query out of the queue for good (its media is missing or unreadable)."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("UPDATE queries SET broken = ? WHERE query_id = ?", (reason, query_id))
            self.db.execute("DELETE FROM claims WHERE query_id = ?", (query_id,))

    def withdraw_unanswered(self, reason: str) -> int:
        """Take every query still waiting out of the queue (the run has ended); returns how many."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            cursor = self.db.execute(f"UPDATE queries AS q SET broken = ? WHERE {_OPEN}", (reason,))
            self.db.execute("DELETE FROM claims WHERE query_id IN "
                            "(SELECT query_id FROM queries WHERE broken IS NOT NULL)")
        return cursor.rowcount

    def set_status(self, **values: Any) -> None:
        """The trainer's status for the rating app (policy step, reward-model version, ...)."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany("INSERT OR REPLACE INTO status VALUES (?, ?)",
                                [(k, json.dumps(v)) for k, v in values.items()])

    # --- reads ------------------------------------------------------------------------------

    def labels(self) -> list[Label]:
        return [label for _, label in self.labels_after(0)]

    def labels_after(self, label_id: int) -> list[tuple[int, Label]]:
        """Labels written after the one with row id ``label_id``, with their row ids, oldest first."""
        rows = self.db.execute(
            "SELECT id, query_id, outcome, ranking, rater, shown_at, answered_at FROM labels WHERE id > ? ORDER BY id",
            (label_id,),
        ).fetchall()
        return [
            (i, Label(q, Outcome(o) if o else None, tuple(json.loads(r)) if r else None, rater, s, a))
            for i, q, o, r, rater, s, a in rows
        ]

    def retractions_after(self, retraction_id: int) -> list[tuple[int, str, str]]:
        """Undone labels after row id ``retraction_id``: (row id, query id, rater)."""
        return self.db.execute(
            "SELECT id, query_id, rater FROM retractions WHERE id > ? ORDER BY id", (retraction_id,)
        ).fetchall()

    def label_records(self) -> list[dict[str, Any]]:
        """Every label with its query's context: policy step and reward-model version at query time."""
        rows = self.db.execute(
            "SELECT l.query_id, q.clip_ids, l.rater, l.outcome, l.ranking, l.shown_at, l.answered_at, q.step, "
            "q.model_version FROM labels l JOIN queries q ON q.query_id = l.query_id ORDER BY l.id"
        ).fetchall()
        keys = ("query_id", "clip_ids", "rater", "outcome", "ranking", "shown_at", "answered_at", "policy_step",
                "model_version")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def status(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.db.execute("SELECT key, value FROM status")}

    def query(self, query_id: str) -> Query:
        row = self.db.execute("SELECT clip_ids, step FROM queries WHERE query_id=?", (query_id,)).fetchone()
        if row is None:
            raise UnknownNameError(f"no query {query_id!r} in {self.path}")
        return Query(query_id, tuple(json.loads(row[0])), row[1])

    def queries(self) -> list[Query]:
        rows = self.db.execute("SELECT query_id, clip_ids, step FROM queries ORDER BY rowid").fetchall()
        return [Query(q, tuple(json.loads(c)), s) for q, c, s in rows]

    def clip(self, clip_id: str) -> Clip:
        row = self.db.execute(
            "SELECT env_id, length, step, frames_path, data, text FROM clips WHERE clip_id=?", (clip_id,)
        ).fetchone()
        if row is None:
            raise UnknownNameError(f"no clip {clip_id!r} in {self.path}")
        env_id, length, step, frames_path, data, text = row
        try:
            arrays = np.load(io.BytesIO(data), allow_pickle=False)
            arrays = {name: arrays[name] for name in arrays.files}
            if not {"obs", "actions", "true_rewards"} <= set(arrays):
                raise KeyError("obs, actions and true_rewards")
        except (zipfile.BadZipFile, ValueError, KeyError, OSError, EOFError) as exc:
            raise InputError(f"{self.path}: the arrays of clip {clip_id!r} are damaged ({type(exc).__name__}: {exc}); "
                             "restore the store from a copy; nothing was changed") from None
        optional = {name: arrays[name] for name in ("next_obs", "states") if name in arrays}
        return Clip(clip_id, env_id, arrays["obs"], arrays["actions"], arrays["true_rewards"], length, step,
                    frames_path, text=text, **optional)

    def clip_media(self, clip_id: str) -> tuple[str | None, str | None]:
        """What a person sees of a clip, without unpacking its arrays: (media path, text)."""
        row = self.db.execute("SELECT frames_path, text FROM clips WHERE clip_id=?", (clip_id,)).fetchone()
        if row is None:
            raise UnknownNameError(f"no clip {clip_id!r} in {self.path}")
        return row[0], row[1]

    # --- leases: one rater per query -------------------------------------------------------

    def claim(self, rater: str, now: float, limit: int = 1, lease_seconds: float = 120.0) -> list[Query]:
        """Up to ``limit`` queries for ``rater``, each leased to them for ``lease_seconds``.

        The rater's own live claims come first (their leases renewed: a restarted app picks
        up where it was), then the oldest queries that have no label and no live claim by
        another rater; a claim whose lease ran out (a crashed app) is back in the queue.
        Atomic across processes (BEGIN IMMEDIATE), so two raters never hold one query.
        """
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            rows = self.db.execute(
                "SELECT q.query_id FROM queries q LEFT JOIN claims c ON c.query_id = q.query_id "
                f"WHERE {_OPEN} AND (c.query_id IS NULL OR c.expires_at <= ? OR c.rater = ?) "
                "ORDER BY (c.rater = ? AND c.expires_at > ?) DESC, q.created_at, q.rowid LIMIT ?",
                (now, rater, rater, now, limit),
            ).fetchall()
            self.db.executemany("INSERT OR REPLACE INTO claims VALUES (?, ?, ?)",
                                [(r[0], rater, now + lease_seconds) for r in rows])
        return [self.query(r[0]) for r in rows]

    def claim_next(self, rater: str, now: float, lease_seconds: float = 120.0) -> Query | None:
        """The first query :meth:`claim` gives ``rater``, or None when none is waiting."""
        claimed = self.claim(rater, now, 1, lease_seconds)
        return claimed[0] if claimed else None

    def waiting(self, rater: str, now: float) -> int:
        """Queries this rater could still answer: no label, not broken, not held by another."""
        return int(self.db.execute(
            "SELECT COUNT(*) FROM queries q LEFT JOIN claims c ON c.query_id = q.query_id "
            f"WHERE {_OPEN} AND (c.query_id IS NULL OR c.expires_at <= ? OR c.rater = ?)",
            (now, rater),
        ).fetchone()[0])

    def unanswered(self) -> int:
        """Queries with no label yet (claimed or not), broken ones excepted."""
        return int(self.db.execute(f"SELECT COUNT(*) FROM queries q WHERE {_OPEN}").fetchone()[0])

    def release(self, query_id: str, rater: str) -> None:
        """Give a claimed query back to the queue (the rater closed the app without answering)."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("DELETE FROM claims WHERE query_id = ? AND rater = ?", (query_id, rater))

    def retract(self, query_id: str, rater: str, now: float = 0.0, lease_seconds: float = 120.0) -> None:
        """Delete a rater's label (undo); the query is leased to that rater again, and the
        retraction is recorded so that a trainer that already read the label drops it."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            cursor = self.db.execute("DELETE FROM labels WHERE query_id = ? AND rater = ?", (query_id, rater))
            if cursor.rowcount:
                self.db.execute("INSERT INTO retractions (query_id, rater, at) VALUES (?, ?, ?)",
                                (query_id, rater, now))
                self.db.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?)",
                                (query_id, rater, now + lease_seconds))

    def count_labels(self, include_skipped: bool = False, rater: str | None = None) -> int:
        sql = "SELECT COUNT(*) FROM labels WHERE " + (
            "1" if include_skipped else "(outcome IS NULL OR outcome != 'skip')")
        if rater is not None:
            return int(self.db.execute(sql + " AND rater = ?", (rater,)).fetchone()[0])
        return int(self.db.execute(sql).fetchone()[0])

    def answer_seconds(self, recent: int = 10) -> float | None:
        """Median seconds from shown to answered over the ``recent`` newest labels (None: none yet)."""
        rows = self.db.execute("SELECT answered_at - shown_at FROM labels ORDER BY id DESC LIMIT ?",
                               (recent,)).fetchall()
        return float(np.median([r[0] for r in rows])) if rows else None

    def count_queries(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM queries").fetchone()[0])


def _clip_row(clip: Clip) -> tuple:
    return (clip.clip_id, clip.env_id, clip.length, clip.step, clip.frames_path, _pack(clip), clip.text)


def _pack(clip: Clip) -> bytes:
    buffer = io.BytesIO()
    extra = {name: getattr(clip, name) for name in ("next_obs", "states") if getattr(clip, name) is not None}
    np.savez_compressed(buffer, obs=clip.obs, actions=clip.actions, true_rewards=clip.true_rewards, **extra)
    return buffer.getvalue()
