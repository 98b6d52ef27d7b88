"""Kill anywhere: SIGKILL ``pbrl train`` at random moments (start-up included), then go on in
the same directory (``--resume`` where a run was created, else the same command again), and
check that every run finishes with no label lost or duplicated and an intact store.

    python -m pbrl.reliability --kills 30 --out benchmarks/reliability

writes ``kills.json`` (every trial) there; ``pbrl bench --report`` puts its table in
BENCHMARKS.md. Each trial is a small CartPole run (a synthetic teacher: the labels a run
ends with are known), killed once at a moment drawn uniformly over an unkilled run's length.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from pbrl.io import write_json

RESULT_FILE = "kills.json"
BEGIN, END = "<!-- reliability: BEGIN (pbrl bench --report) -->", "<!-- reliability: END -->"


def train_command(out: Path, seed: int, labels: int, steps: int) -> list[str]:
    return [sys.executable, "-m", "pbrl", "train", "pbrl/CartPole-v1", "--labels", str(labels), "--steps", str(steps),
            "--no-video", "--eval-episodes", "2", "--seed", str(seed), "--out", str(out)]


def _read_only(path: Path, sql: str) -> list[tuple] | None:
    """The rows of ``sql`` on the store at ``path`` read without changing it (a read-only
    connection: the ``-wal`` a kill left is read, not folded in); None when there is no
    store, or no tables yet."""
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()
    except sqlite3.Error:  # created but no tables yet
        return None


def stored_labels(path: Path) -> set[tuple[str, str, str | None]]:
    """(query, rater, outcome) of every label in the store at ``path`` (read-only)."""
    return set(_read_only(path, "SELECT query_id, rater, outcome FROM labels") or ())


def queried(path: Path) -> bool:
    """Whether the store at ``path`` holds a query (read-only)."""
    return bool((_read_only(path, "SELECT COUNT(*) FROM queries") or [(0,)])[0][0])


def stage(out: Path) -> str:
    """How far a killed start got, from what it left."""
    if not out.exists():
        return "no directory"
    if not (out / "config.json").exists():
        return "directory, no config.json" if not (out / "labels.sqlite").exists() else "store, no config.json"
    if not (out / "reward_model").exists():
        return "created, before the first fit"
    progress = json.loads((out / "progress.json").read_text()) if (out / "progress.json").exists() else {}
    return f"checkpointed at {progress.get('env_steps', 0):,} steps"


def check_store(path: Path) -> dict[str, Any]:
    """Labels, distinct queries among them and SQLite's own integrity check, of a finished run."""
    db = sqlite3.connect(path)
    try:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        rows = db.execute("SELECT q.clip_ids FROM labels l JOIN queries q ON q.query_id = l.query_id").fetchall()
        labels = db.execute("SELECT COUNT(*) FROM labels").fetchone()[0]
        queries = db.execute("SELECT clip_ids FROM queries").fetchall()
    finally:
        db.close()
    return {"integrity": integrity, "labels": labels,
            "repeated_labelled_queries": len(rows) - len({frozenset(json.loads(r[0])) for r in rows}),
            "repeated_queries": len(queries) - len({frozenset(json.loads(r[0])) for r in queries})}


def trial(out: Path, seed: int, kill_after: float, labels: int, steps: int, timeout: float = 600) -> dict[str, Any]:
    """One run killed after ``kill_after`` seconds, then finished in the same directory."""
    command = train_command(out, seed, labels, steps)
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=kill_after)
        killed = False  # it finished first
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed = True
    before = stored_labels(out / "labels.sqlite")
    at_kill = stage(out)
    # a created run with queries must be resumed; one stopped before its first query may also be
    # started again with the same command (every other such trial is), which replaces it
    resumable = (out / "config.json").exists() and (queried(out / "labels.sqlite") or seed % 2 == 0)
    again = [sys.executable, "-m", "pbrl", "train", "--resume", str(out)] if resumable else command
    result = subprocess.run(again, capture_output=True, text=True, timeout=timeout)
    row: dict[str, Any] = {"seed": seed, "kill_after_s": round(kill_after, 2), "killed": killed, "stage": at_kill,
                           "labels_at_kill": len(before), "then": "resume" if "--resume" in again else "fresh start",
                           "returncode": result.returncode, "seconds": round(time.perf_counter() - started, 1)}
    if result.returncode != 0:
        row["error"] = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        return row
    after = stored_labels(out / "labels.sqlite")
    summary = json.loads((out / "summary.json").read_text())
    row.update(check_store(out / "labels.sqlite"), lost=len(before - after), summary_labels=summary["labels"],
               finished=summary["steps"] >= steps and summary["labels"] == labels)
    return row


def ok(row: dict[str, Any]) -> bool:
    """A trial that ended as it should: finished, nothing lost or repeated, the store intact."""
    return (row["returncode"] == 0 and row.get("finished", False) and row.get("lost", 1) == 0
            and row.get("repeated_labelled_queries", 1) == 0 and row.get("integrity") == "ok")


def kill_anywhere(kills: int, out: Path, seed: int = 0, labels: int = 30, steps: int = 6000,
                  keep: bool = False) -> dict[str, Any]:
    """``kills`` trials in ``out/runs``; returns (and writes to ``out/kills.json``) the lot."""
    runs = out / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    runs.mkdir(parents=True)
    started = time.perf_counter()
    reference = subprocess.run(train_command(runs / "unkilled", seed, labels, steps), capture_output=True, text=True)
    if reference.returncode != 0:
        raise RuntimeError(f"the unkilled reference run failed: {reference.stderr.strip()[-500:]}")
    length = time.perf_counter() - started
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(kills):
        kill_after = float(rng.uniform(0, length))
        row = trial(runs / f"t{i:02d}", seed + i, kill_after, labels, steps)
        rows.append(row)
        print(f"{i + 1}/{kills}: killed after {kill_after:.1f} s ({row['stage']}), {row['then']}: "
              f"{'ok' if ok(row) else 'FAILED ' + json.dumps(row)}", flush=True)
    result = {"command": f"python -m pbrl.reliability --kills {kills} --seed {seed}", "labels": labels,
              "steps": steps, "unkilled_seconds": round(length, 1), "trials": rows,
              "machine": f"{platform.machine()}, {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d")}
    write_json(out / RESULT_FILE, result)
    if not keep:
        shutil.rmtree(runs, ignore_errors=True)
    return result


def table(result: dict[str, Any]) -> str:
    """The BENCHMARKS.md section of a ``kills.json``."""
    rows = result["trials"]
    good = sum(ok(r) for r in rows)
    stages: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        stages.setdefault(r["stage"].split(" at ")[0], []).append(r)
    lines = [f"`{result['command']}` ({result['machine']}, {result['date']}): {len(rows)} runs of "
             f"`pbrl train pbrl/CartPole-v1 --labels {result['labels']} --steps {result['steps']}`, each SIGKILLed "
             f"once at a moment drawn uniformly over an unkilled run's {result['unkilled_seconds']} s, then "
             f"`--resume`d (or started again where no run had been created) in the same directory. "
             f"**{good} of {len(rows)}** finished with all {result['labels']} labels, none lost or asked twice, "
             "and `PRAGMA integrity_check` ok.", "",
             "| where the kill landed | runs | then | labels at the kill | labels lost | ended ok |",
             "|---|---:|---|---:|---:|---:|"]
    for name, group in stages.items():
        then = ", ".join(sorted({r["then"] for r in group}))
        held = [r["labels_at_kill"] for r in group]
        lines.append(f"| {name} | {len(group)} | {then} | {min(held)}-{max(held)} | "
                     f"{sum(r.get('lost', 0) for r in group)} | {sum(ok(r) for r in group)} |")
    failed = [r for r in rows if not ok(r)]
    lines += [f"\nFailed: {json.dumps(r)}" for r in failed]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pbrl.reliability", description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/reliability")
    parser.add_argument("--keep", action="store_true", help="keep the run directories (OUT/runs)")
    args = parser.parse_args(argv)
    result = kill_anywhere(args.kills, Path(args.out), args.seed, keep=args.keep)
    print(table(result))
    return 0 if all(ok(r) for r in result["trials"]) else 1


if __name__ == "__main__":
    sys.exit(main())
