"""A run directory: config.json, labels.sqlite, reward_model/, policy, curves (CSV + PNG),
logs/ (SB3 CSV + TensorBoard), final.mp4 and summary.json."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from pbrl.errors import InputError, MissingFileError, PbrlError, RunExistsError, StateError
from pbrl.io import write_json, write_text

if TYPE_CHECKING:
    from pbrl.store_base import LabelStore

PROGRESS_FILE = "progress.json"  # env steps, resumes and reward-model version at the last checkpoint
CURVE_FIELDS = ("steps", "true_return", "learned_return", "labels", "val_accuracy", "reward_corr", "disagreement",
                "time")

# env steps between two points of a run's curve, at least: a point per rollout, but
# MountainCarContinuous's rollouts are 8 steps (12,500 points per 100k steps otherwise)
CURVE_GAP = 1000


def curve_point_due(curve: Sequence[Mapping[str, Any]], steps: float) -> bool:
    """Whether a curve takes a point at ``steps`` env steps: its first, or one at least
    :data:`CURVE_GAP` steps after its last (the trainer's, true-reward RL's, a report's)."""
    return not curve or steps - curve[-1]["steps"] >= CURVE_GAP


@dataclass(frozen=True)
class RunDir:
    path: Path

    @classmethod
    def create(cls, path: Path, config: dict[str, Any], store: str = "") -> tuple[RunDir, IO[str]]:
        """Make a new run directory, complete or not at all: the directory, its lock, an
        initialised label store, then config.json (written last, atomically: it marks a run).
        A directory that holds a run is refused (nothing is overwritten), unless what it holds
        is the leftover of a start that was stopped before its first query; that is replaced,
        and said. ``store``: a PostgreSQL database to keep the labels in (TrainConfig.store;
        the run's config goes there too, for raters with no run directory). Returns the run
        directory and its lock (:func:`lock_run_dir`), held by the caller.
        """
        from pbrl.store import open_store, store_location
        from pbrl.store_pg import PostgresStore

        try:
            path.mkdir(parents=True, exist_ok=True)
            lock = lock_run_dir(path)
        except OSError as exc:
            if isinstance(exc, PbrlError):
                raise
            raise InputError(f"--out {_short(path)}: cannot make the run directory there ({exc.strerror}); choose a "
                             "writable directory with a shorter name") from None
        remote = None
        try:
            remote = PostgresStore(store_location(path, store), media_root=path) if store else None
            if remote is not None and remote.count_queries():
                raise RunExistsError(f"{remote.location} already holds a run with queries; resume it with pbrl train "
                                     f"--resume {path} --store ..., or choose another --out (nothing was changed)")
            leftover = _leftover(path)
            if leftover:
                print(f"pbrl: {path} holds a run that was stopped before its first query ({', '.join(leftover)}); "
                      "starting it afresh", file=sys.stderr)
                for name in leftover:
                    target = path / name
                    if target.is_dir():
                        shutil.rmtree(target)
                    else:
                        target.unlink(missing_ok=True)  # -wal and -shm go when the store is closed
            if remote is None:
                open_store(store_location(path)).close()
            else:
                remote.set_config(config)  # for raters with no run directory
            write_json(path / "config.json", config)
        except BaseException:
            lock.close()
            raise
        finally:
            if remote is not None:
                remote.close()
        return cls(path), lock

    @staticmethod
    def set_aside(path: Path) -> None:
        """Rename an interrupted run directory out of the way (``NAME.interrupted-MTIME``), so
        its cell can start again and nothing of it is lost."""
        if path.exists():
            path.rename(path.with_name(f"{path.name}.interrupted-{int(os.path.getmtime(path))}"))

    @classmethod
    def open(cls, path: Path) -> RunDir:
        """An existing run directory (to resume or rate); a clear error when it is not one."""
        if not path.exists():
            raise MissingFileError(f"run directory {path} does not exist; give the --out of a `pbrl train` run")
        if not path.is_dir():
            raise MissingFileError(f"{path} is a file, not a run directory; give the --out of a `pbrl train` run")
        if not (path / "config.json").is_file():
            raise MissingFileError(
                f"{path} is not a pbrl run directory (it has no config.json); give the --out of a `pbrl train` run"
            )
        return cls(path)

    def open_store(self, server: str = "", create: bool = False) -> LabelStore:
        """The run's label store: RUN/labels.sqlite, or the PostgreSQL schema its config.json
        names (``server``: that database's URL with its password, when config.json's has none
        and PGPASSWORD or ~/.pgpass do not give it). ``create``: make it when it is missing
        (a trainer resuming a start that was killed before its store existed)."""
        from pbrl.store import open_store, store_location

        return open_store(store_location(self.path, server or str(self.config.get("store") or "")), create=create,
                          media_root=self.path)

    @property
    def config(self) -> dict[str, Any]:
        path = self.path / "config.json"
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{path} is corrupt ({exc}); put back a copy of it; nothing was changed") from exc
        if not isinstance(data, dict):
            raise InputError(f"{path} is corrupt (not a JSON object); put back a copy of it; nothing was changed")
        return data

    def read_curves(self) -> list[dict[str, Any]]:
        """The rows written by :meth:`write_curves` (a resumed run goes on from them)."""
        return self._read_rows("curves.csv")

    def read_refits(self) -> list[dict[str, Any]]:
        """The rows written by :meth:`write_refits`."""
        return self._read_rows("refits.csv")

    def _read_rows(self, name: str) -> list[dict[str, Any]]:
        path = self.path / name
        if not path.exists():
            return []
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        return [{k: float(v) if v not in ("", None) else float("nan") for k, v in row.items()} for row in rows]

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_json(self.path / "summary.json", summary)

    def write_curves(self, rows: list[dict[str, Any]], baseline: list[dict[str, Any]] | None = None,
                     plot: bool = True) -> None:
        """curves.csv and (with ``plot``) curves.png: true return vs env steps; learned return
        and labels beside."""
        # a family's own columns (text: score, KL, entropy, beta) after the common ones
        fields = CURVE_FIELDS + tuple(dict.fromkeys(k for r in rows for k in r if k not in CURVE_FIELDS))
        self._write_rows("curves.csv", rows, fields)
        if not rows or not plot:
            return
        from pbrl.plots import run_curves  # matplotlib only when a figure is drawn

        run_curves(rows, self.path / "curves.png", self.path.name, baseline)

    def write_refits(self, rows: list[dict[str, Any]]) -> None:
        """refits.csv: one row per reward-model fit (pbrl.diagnostics: accuracy and reward
        correlation on the current policy's unqueried clips, beside the fit's own figures)."""
        if rows:
            self._write_rows("refits.csv", rows, tuple(rows[0]))

    def _write_rows(self, name: str, rows: list[dict[str, Any]], fields: tuple[str, ...]) -> None:
        """``rows`` as the CSV file ``name`` (columns ``fields``; other keys left out), atomically."""
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        write_text(self.path / name, buffer.getvalue())

    def write_video(self, frames: list[np.ndarray], fps: float) -> Path:
        """final.mp4 at the env's frame rate (the clip-media writer: mp4v, written atomically)."""
        from pbrl.media import write_mp4

        path = self.path / "final.mp4"
        write_mp4(frames, path, fps)
        return path


# what a start leaves before its first query: the lock, the store, config.json, progress.json
# and SB3's empty logs (a start killed at any moment leaves some of these and nothing else)
_START_FILES = ("config.json", "labels.sqlite", "labels.sqlite-wal", "labels.sqlite-shm", "progress.json", "logs")


def _short(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 80 else f"{text[:40]}...{text[-20:]} ({len(text)} characters)"


def _leftover(path: Path) -> list[str]:
    """The files of ``path`` to replace for a new run: those of a start stopped before its
    first query, or none. Raises FileExistsError when ``path`` holds a run worth keeping."""
    from pbrl.store import PreferenceStore

    names = sorted(p.name for p in path.iterdir() if p.name != "trainer.lock")
    # a write killed half-way leaves its temporary file (pbrl.io: ".NAME.RANDOM.tmp")
    started = [n for n in names if n in _START_FILES or (n.startswith(".") and ".tmp" in n
                                                         and n[1:].split(".tmp")[0].rsplit(".", 1)[0] in _START_FILES)]
    if not any(n in ("config.json", "labels.sqlite") or n.startswith(".") for n in started):
        return []  # an empty or unrelated directory: the run goes in beside what is there
    others = [n for n in names if n not in started]
    queries = 0
    if "labels.sqlite" in names:
        try:
            store = PreferenceStore(path / "labels.sqlite", create=False)
            try:
                queries = store.count_queries()
            finally:
                store.db.close()  # read only: no checkpoint of someone else's store
        except ValueError:
            queries = -1  # unreadable: never deleted
    if others or queries:
        what = f"{queries} queries" if queries > 0 else "a label store pbrl cannot read" if queries < 0 else \
            ", ".join(others)
        raise RunExistsError(f"{path} already holds a run ({what}); resume it with pbrl train --resume {path} or "
                              "choose another --out (nothing was changed)")
    return started


def lock_run_dir(run_path: Path) -> IO[str]:
    """An exclusive lock on the run directory for this trainer's life (released when closed,
    or when the process ends, however it ends)."""
    handle = open(run_path / "trainer.lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StateError(f"another trainer is running on {run_path}; stop it first (its labels are safe)") from None
    return handle
