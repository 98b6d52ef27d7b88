"""What every label store shares (:mod:`pbrl.store`: SQLite; :mod:`pbrl.store_pg`:
PostgreSQL): the operations, in SQL both backends speak (``?`` placeholders, ``ON CONFLICT``
upserts), and the translation of a backend's errors into pbrl's. A label is unique per
(query, rater), so writing the same answer again is harmless, and a query is answered by the
rater holding its lease only. A backend adds its connection, its transactions and what only
it has (SQLite's checkpoint, PostgreSQL's row locks and media).
"""

from __future__ import annotations

import functools
import inspect
import io
import json
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from pbrl.errors import InputError, UnknownNameError
from pbrl.types import Clip, Label, Outcome, Query, frame_strip, stacked_views

SCHEMA_VERSION = 2  # 2: clip text, query model version, broken queries, retractions, trainer status

# a query waiting for a rater: no label, not marked broken
_OPEN = "NOT EXISTS (SELECT 1 FROM labels l WHERE l.query_id = q.query_id) AND q.broken IS NULL"
_UPSERT_CLAIM = ("INSERT INTO claims (query_id, rater, expires_at) VALUES (?, ?, ?) ON CONFLICT (query_id) DO UPDATE "
                 "SET rater = excluded.rater, expires_at = excluded.expires_at")


def guarded(cls: type) -> type:
    """Every public method of ``cls`` turns the backend's own errors into pbrl's (its
    ``_translate``: an error naming the store and the fix, or None to let it through)."""
    for name in dir(cls):
        method = getattr(cls, name)
        if name.startswith("_") or not inspect.isfunction(method):
            continue

        def call(self: LabelStore, *args: Any, _method: Any = method, **kwargs: Any) -> Any:
            try:
                return _method(self, *args, **kwargs)
            except Exception as exc:
                translated = self._translate(exc)
                if translated is None:
                    raise
                raise translated from None

        functools.update_wrapper(call, method)
        setattr(cls, name, call)
    return cls


class LabelStore:
    """A run's clips, queries and labels; the operations both backends share.

    A backend sets ``db`` (a DB-API connection whose ``execute`` returns a cursor),
    ``location`` (for messages), and implements :meth:`_write`, :meth:`checkpoint`,
    :meth:`close`, :meth:`last_label_id` and :meth:`media_path`.
    """

    db: Any
    location: str
    placeholder = "?"  # the backend's parameter marker, for the ``?`` the SQL here is written with
    for_update = ""  # a row lock on the rows a SELECT reads (PostgreSQL); SQLite's writers are serialised
    skip_locked = ""  # the claim's SELECT passes over rows another rater's claim is locking
    order = "rowid"  # the column that orders queries as they were stored

    def _translate(self, exc: Exception) -> Exception | None:
        return None

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    def _execute(self, sql: str, params: tuple | list = ()) -> Any:
        return self.db.execute(self._sql(sql), params)

    def _executemany(self, sql: str, rows: list) -> None:
        """``sql`` once per row, through the driver's own batch (a cursor's ``executemany``, which
        both sqlite3 and psycopg have)."""
        if rows:
            self.db.cursor().executemany(self._sql(sql), rows)

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One transaction; writers never interleave (the backend's locks)."""
        raise NotImplementedError
        yield

    def checkpoint(self) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def last_label_id(self) -> int:
        """The largest row id a label ever had in this store (an undone label's id is never
        reused, so this never goes down unless labels were lost)."""
        raise NotImplementedError

    def media_path(self, clip_id: str) -> Path | None:
        """A local file holding the clip's video (None: a text clip, or none was written)."""
        raise NotImplementedError

    def reopen(self) -> LabelStore:
        """Another connection to this store (for another thread: a connection stays in its own)."""
        raise NotImplementedError

    # --- writes (each its own transaction) --------------------------------------------------

    def add_clips(self, clips: Iterable[Clip]) -> None:
        clips = list(clips)
        with self._write():
            self._add_clips(clips)

    def _add_clips(self, clips: list[Clip]) -> None:
        self._executemany("INSERT INTO clips VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                          [_clip_row(c) for c in clips])

    def add_queries(self, queries: Iterable[Query], created_at: float, clips: Iterable[Clip] = (),
                    model_version: int = 0) -> None:
        """Store queries (and the clips they show) in one transaction.

        :param model_version: the reward model's version when the queries were chosen (the
            policy step is each query's ``step``).
        """
        clips = list(clips)
        rows = [(q.query_id, json.dumps(list(q.clip_ids)), q.step, created_at, model_version) for q in queries]
        with self._write():
            self._add_clips(clips)
            self._executemany("INSERT INTO queries (query_id, clip_ids, step, created_at, model_version) "
                              "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", rows)

    def add_query(self, query: Query, created_at: float) -> None:
        self.add_queries([query], created_at)

    def add_label(self, label: Label, require_claim: bool = False) -> bool:
        """Store one label in one transaction; the same (query, rater) again changes nothing.
        When this returns True, the label is durable.

        :param require_claim: refuse (return False, write nothing) when another rater holds
            the query's claim or has answered it (this rater's lease ran out while the app
            stood still and someone else took the query): two raters never answer one query.
        """
        outcome = label.outcome.value if label.outcome is not None else None
        ranking = json.dumps(list(label.ranking)) if label.ranking is not None else None
        with self._write():
            if require_claim:
                holder = self._execute(f"SELECT rater FROM claims WHERE query_id = ?{self.for_update}",
                                       (label.query_id,)).fetchone()
                if holder is not None and holder[0] != label.rater:
                    return False
                if self._execute("SELECT 1 FROM labels WHERE query_id = ? AND rater != ?",
                                 (label.query_id, label.rater)).fetchone():
                    return False
            self._execute(
                "INSERT INTO labels (query_id, rater, outcome, ranking, shown_at, answered_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (label.query_id, label.rater, outcome, ranking, label.shown_at, label.answered_at),
            )
        return True

    def mark_broken(self, query_id: str, reason: str) -> None:
        """Take a query out of the queue for good (its media is missing or unreadable)."""
        with self._write():
            self._execute("UPDATE queries SET broken = ? WHERE query_id = ?", (reason, query_id))
            self._execute("DELETE FROM claims WHERE query_id = ?", (query_id,))

    def withdraw_unanswered(self, reason: str) -> int:
        """Take every query still waiting out of the queue (the run has ended); returns how many."""
        with self._write():
            cursor = self._execute(f"UPDATE queries AS q SET broken = ? WHERE {_OPEN}", (reason,))
            self._execute("DELETE FROM claims WHERE query_id IN "
                          "(SELECT query_id FROM queries WHERE broken IS NOT NULL)")
        return int(cursor.rowcount)

    def set_status(self, **values: Any) -> None:
        """The trainer's status for the rating app (policy step, reward-model version, ...)."""
        with self._write():
            self._executemany("INSERT INTO status VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                              [(k, json.dumps(v)) for k, v in values.items()])

    # --- reads ------------------------------------------------------------------------------

    def labels(self) -> list[Label]:
        return [label for _, label in self.labels_after(0)]

    def labels_after(self, label_id: int) -> list[tuple[int, Label]]:
        """Labels written after the one with row id ``label_id``, with their row ids, oldest first."""
        rows = self._execute(
            "SELECT id, query_id, outcome, ranking, rater, shown_at, answered_at FROM labels WHERE id > ? ORDER BY id",
            (label_id,),
        ).fetchall()
        return [
            (int(i), Label(q, Outcome(o) if o else None, tuple(json.loads(r)) if r else None, rater, s, a))
            for i, q, o, r, rater, s, a in rows
        ]

    def retractions_after(self, retraction_id: int) -> list[tuple[int, str, str]]:
        """Undone labels after row id ``retraction_id``: (row id, query id, rater)."""
        rows = self._execute("SELECT id, query_id, rater FROM retractions WHERE id > ? ORDER BY id",
                             (retraction_id,)).fetchall()
        return [(int(i), q, rater) for i, q, rater in rows]

    def label_records(self) -> list[dict[str, Any]]:
        """Every label with its query's context: policy step and reward-model version at query time."""
        rows = self._execute(
            "SELECT l.query_id, q.clip_ids, l.rater, l.outcome, l.ranking, l.shown_at, l.answered_at, q.step, "
            "q.model_version FROM labels l JOIN queries q ON q.query_id = l.query_id ORDER BY l.id"
        ).fetchall()
        keys = ("query_id", "clip_ids", "rater", "outcome", "ranking", "shown_at", "answered_at", "policy_step",
                "model_version")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def status(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self._execute("SELECT key, value FROM status").fetchall()}

    def query(self, query_id: str) -> Query:
        row = self._execute("SELECT clip_ids, step FROM queries WHERE query_id = ?", (query_id,)).fetchone()
        if row is None:
            raise UnknownNameError(f"no query {query_id!r} in {self.location}")
        return Query(query_id, tuple(json.loads(row[0])), row[1])

    def queries(self) -> list[Query]:
        rows = self._execute(f"SELECT query_id, clip_ids, step FROM queries ORDER BY {self.order}").fetchall()
        return [Query(q, tuple(json.loads(c)), s) for q, c, s in rows]

    def clip(self, clip_id: str) -> Clip:
        row = self._execute(
            "SELECT env_id, length, step, frames_path, data, text FROM clips WHERE clip_id = ?", (clip_id,)
        ).fetchone()
        if row is None:
            raise UnknownNameError(f"no clip {clip_id!r} in {self.location}")
        env_id, length, step, frames_path, data, text = row
        try:
            arrays = np.load(io.BytesIO(bytes(data)), allow_pickle=False)
            arrays = {name: arrays[name] for name in arrays.files}
            if "frames" in arrays:  # stacked frames, each held once (_pack)
                arrays["obs"], arrays["next_obs"] = stacked_views(arrays.pop("frames"), int(arrays.pop("depth")))
            if not {"obs", "actions", "true_rewards"} <= set(arrays):
                raise KeyError("obs, actions and true_rewards")
        except (zipfile.BadZipFile, ValueError, KeyError, OSError, EOFError) as exc:
            raise InputError(f"{self.location}: the arrays of clip {clip_id!r} are damaged ({type(exc).__name__}: "
                             f"{exc}); restore the store from a copy; nothing was changed") from None
        optional = {name: arrays[name] for name in ("next_obs", "states") if name in arrays}
        return Clip(clip_id, env_id, arrays["obs"], arrays["actions"], arrays["true_rewards"], length, step,
                    frames_path, text=text, **optional)

    def clip_media(self, clip_id: str) -> tuple[str | None, str | None]:
        """What a person sees of a clip, without unpacking its arrays: (media path, text)."""
        row = self._execute("SELECT frames_path, text FROM clips WHERE clip_id = ?", (clip_id,)).fetchone()
        if row is None:
            raise UnknownNameError(f"no clip {clip_id!r} in {self.location}")
        return row[0], row[1]

    # --- leases: one rater per query -------------------------------------------------------

    def claim(self, rater: str, now: float, limit: int = 1, lease_seconds: float = 120.0) -> list[Query]:
        """Up to ``limit`` queries for ``rater``, each leased to them for ``lease_seconds``.

        The rater's own live claims come first (their leases renewed: a restarted app picks
        up where it was), then the oldest queries that have no label and no live claim by
        another rater; a claim whose lease ran out (a crashed app) is back in the queue.
        Atomic across processes (the lease is taken by an upsert that only replaces a claim
        that ran out or is the rater's own), so two raters never hold one query.
        """
        with self._write():
            rows = self._execute(
                "SELECT q.query_id FROM queries q LEFT JOIN claims c ON c.query_id = q.query_id "
                f"WHERE {_OPEN} AND (c.query_id IS NULL OR c.expires_at <= ? OR c.rater = ?) "
                f"ORDER BY COALESCE(c.rater = ? AND c.expires_at > ?, FALSE) DESC, q.created_at, q.{self.order} "
                f"LIMIT ?{self.skip_locked}",
                (now, rater, rater, now, limit),
            ).fetchall()
            claimed = [r[0] for r in rows if self._execute(
                _UPSERT_CLAIM + " WHERE claims.expires_at <= ? OR claims.rater = excluded.rater RETURNING query_id",
                (r[0], rater, now + lease_seconds, now)).fetchone()]
        return [self.query(q) for q in claimed]

    def claim_next(self, rater: str, now: float, lease_seconds: float = 120.0) -> Query | None:
        """The first query :meth:`claim` gives ``rater``, or None when none is waiting."""
        claimed = self.claim(rater, now, 1, lease_seconds)
        return claimed[0] if claimed else None

    def waiting(self, rater: str, now: float) -> int:
        """Queries this rater could still answer: no label, not broken, not held by another."""
        return int(self._execute(
            "SELECT COUNT(*) FROM queries q LEFT JOIN claims c ON c.query_id = q.query_id "
            f"WHERE {_OPEN} AND (c.query_id IS NULL OR c.expires_at <= ? OR c.rater = ?)",
            (now, rater),
        ).fetchone()[0])

    def unanswered(self) -> int:
        """Queries with no label yet (claimed or not), broken ones excepted."""
        return int(self._execute(f"SELECT COUNT(*) FROM queries q WHERE {_OPEN}").fetchone()[0])

    def release(self, query_id: str, rater: str) -> None:
        """Give a claimed query back to the queue (the rater closed the app without answering)."""
        with self._write():
            self._execute("DELETE FROM claims WHERE query_id = ? AND rater = ?", (query_id, rater))

    def retract(self, query_id: str, rater: str, now: float = 0.0, lease_seconds: float = 120.0) -> None:
        """Delete a rater's label (undo); the query is leased to that rater again, and the
        retraction is recorded so that a trainer that already read the label drops it."""
        with self._write():
            cursor = self._execute("DELETE FROM labels WHERE query_id = ? AND rater = ?", (query_id, rater))
            if cursor.rowcount:
                self._execute("INSERT INTO retractions (query_id, rater, at) VALUES (?, ?, ?)", (query_id, rater, now))
                self._execute(_UPSERT_CLAIM, (query_id, rater, now + lease_seconds))

    def count_labels(self, include_skipped: bool = False, rater: str | None = None) -> int:
        sql = "SELECT COUNT(*) FROM labels WHERE " + (
            "TRUE" if include_skipped else "(outcome IS NULL OR outcome != 'skip')")
        if rater is not None:
            return int(self._execute(sql + " AND rater = ?", (rater,)).fetchone()[0])
        return int(self._execute(sql).fetchone()[0])

    def answer_seconds(self, recent: int = 10) -> float | None:
        """Median seconds from shown to answered over the ``recent`` newest labels (None: none yet)."""
        rows = self._execute("SELECT answered_at - shown_at FROM labels ORDER BY id DESC LIMIT ?",
                             (recent,)).fetchall()
        return float(np.median([r[0] for r in rows])) if rows else None

    def count_queries(self) -> int:
        return int(self._execute("SELECT COUNT(*) FROM queries").fetchone()[0])


def _clip_row(clip: Clip) -> tuple:
    return (clip.clip_id, clip.env_id, clip.length, clip.step, clip.frames_path, _pack(clip), clip.text)


def _pack(clip: Clip) -> bytes:
    buffer = io.BytesIO()
    extra = {name: getattr(clip, name) for name in ("next_obs", "states") if getattr(clip, name) is not None}
    frames = frame_strip(clip.obs, clip.next_obs)
    if frames is not None:  # an Atari clip: its distinct frames, not 2 x 25 stacks of 4
        del extra["next_obs"]
        extra.update(frames=frames, depth=np.int64(clip.obs.shape[1]))
    else:
        extra["obs"] = clip.obs
    np.savez_compressed(buffer, actions=clip.actions, true_rewards=clip.true_rewards, **extra)
    return buffer.getvalue()
