"""The durable label store: SQLite (WAL, synchronous=FULL, one transaction per label).

Holds the clips that were queried (arrays as ``.npz`` blobs, never pickles), the queries and
the labels, with rater and shown / answered times. A label is unique per (query, rater), so
writing the same answer again is harmless.
"""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from pbrl.types import Clip, Label, Outcome, Query

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS clips (
    clip_id TEXT PRIMARY KEY, env_id TEXT NOT NULL, length INTEGER NOT NULL, step INTEGER NOT NULL,
    frames_path TEXT, data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS queries (
    query_id TEXT PRIMARY KEY, clip_ids TEXT NOT NULL, step INTEGER NOT NULL, created_at REAL NOT NULL
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
"""


class PreferenceStore:
    """A run's clips, queries and labels in one SQLite file.

    :param path: the database file (created if missing).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA busy_timeout=30000")
            self.db.executescript(SCHEMA)
            row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{self.path}: not a readable pbrl label store ({exc}); nothing was changed") from exc
        if row is None:
            self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) != SCHEMA_VERSION:
            raise ValueError(f"{self.path}: label store schema {row[0]}, this pbrl reads schema {SCHEMA_VERSION}")

    def close(self) -> None:
        self.db.close()

    # --- writes (each its own transaction) --------------------------------------------------

    def add_clips(self, clips: Iterable[Clip]) -> None:
        rows = [(c.clip_id, c.env_id, c.length, c.step, c.frames_path, _pack(c)) for c in clips]
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR IGNORE INTO clips VALUES (?, ?, ?, ?, ?, ?)", rows)

    def add_queries(self, queries: Iterable[Query], created_at: float, clips: Iterable[Clip] = ()) -> None:
        """Store queries (and the clips they show) in one transaction."""
        clip_rows = [(c.clip_id, c.env_id, c.length, c.step, c.frames_path, _pack(c)) for c in clips]
        rows = [(q.query_id, json.dumps(list(q.clip_ids)), q.step, created_at) for q in queries]
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR IGNORE INTO clips VALUES (?, ?, ?, ?, ?, ?)", clip_rows)
            self.db.executemany("INSERT OR IGNORE INTO queries VALUES (?, ?, ?, ?)", rows)

    def add_query(self, query: Query, created_at: float) -> None:
        self.add_queries([query], created_at)

    def add_label(self, label: Label) -> None:
        """Store one label in one transaction; the same (query, rater) again changes nothing."""
        outcome = label.outcome.value if label.outcome is not None else None
        ranking = json.dumps(list(label.ranking)) if label.ranking is not None else None
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute(
                "INSERT OR IGNORE INTO labels (query_id, rater, outcome, ranking, shown_at, answered_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (label.query_id, label.rater, outcome, ranking, label.shown_at, label.answered_at),
            )

    # --- reads ------------------------------------------------------------------------------

    def labels(self) -> list[Label]:
        rows = self.db.execute(
            "SELECT query_id, outcome, ranking, rater, shown_at, answered_at FROM labels ORDER BY id"
        ).fetchall()
        return [
            Label(q, Outcome(o) if o else None, tuple(json.loads(r)) if r else None, rater, s, a)
            for q, o, r, rater, s, a in rows
        ]

    def query(self, query_id: str) -> Query:
        row = self.db.execute("SELECT clip_ids, step FROM queries WHERE query_id=?", (query_id,)).fetchone()
        if row is None:
            raise KeyError(f"no query {query_id!r} in {self.path}")
        return Query(query_id, tuple(json.loads(row[0])), row[1])

    def clip(self, clip_id: str) -> Clip:
        row = self.db.execute("SELECT env_id, length, step, frames_path, data FROM clips WHERE clip_id=?", (clip_id,)).fetchone()
        if row is None:
            raise KeyError(f"no clip {clip_id!r} in {self.path}")
        env_id, length, step, frames_path, data = row
        arrays = np.load(io.BytesIO(data), allow_pickle=False)
        next_obs = arrays["next_obs"] if "next_obs" in arrays.files else None
        return Clip(clip_id, env_id, arrays["obs"], arrays["actions"], arrays["true_rewards"], length, step, frames_path, next_obs)

    # --- leases: one rater per query -------------------------------------------------------

    def claim_next(self, rater: str, now: float, lease_seconds: float = 120.0) -> Query | None:
        """Claim the oldest query that has no label and no live claim by another rater, for
        ``lease_seconds``; None when there is none. A rater's own live claim is returned
        again (a restarted app picks up where it was), and a claim whose lease ran out (a
        crashed app) goes back to the queue. Atomic across processes (BEGIN IMMEDIATE)."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            row = self.db.execute(
                "SELECT q.query_id FROM queries q LEFT JOIN claims c ON c.query_id = q.query_id "
                "WHERE NOT EXISTS (SELECT 1 FROM labels l WHERE l.query_id = q.query_id) "
                "AND (c.query_id IS NULL OR c.expires_at <= ? OR c.rater = ?) "
                "ORDER BY (c.rater = ?) DESC, q.created_at, q.rowid LIMIT 1",
                (now, rater, rater),
            ).fetchone()
            if row is None:
                return None
            self.db.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?)", (row[0], rater, now + lease_seconds))
        return self.query(row[0])

    def release(self, query_id: str, rater: str) -> None:
        """Give a claimed query back to the queue (the rater closed the app without answering)."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("DELETE FROM claims WHERE query_id = ? AND rater = ?", (query_id, rater))

    def retract(self, query_id: str, rater: str) -> None:
        """Delete a rater's label (undo); the query stays claimed by that rater."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("DELETE FROM labels WHERE query_id = ? AND rater = ?", (query_id, rater))

    def count_labels(self, include_skipped: bool = False) -> int:
        sql = "SELECT COUNT(*) FROM labels" + ("" if include_skipped else " WHERE outcome IS NULL OR outcome != 'skip'")
        return int(self.db.execute(sql).fetchone()[0])


def _pack(clip: Clip) -> bytes:
    buffer = io.BytesIO()
    extra = {"next_obs": clip.next_obs} if clip.next_obs is not None else {}
    np.savez_compressed(buffer, obs=clip.obs, actions=clip.actions, true_rewards=clip.true_rewards, **extra)
    return buffer.getvalue()
