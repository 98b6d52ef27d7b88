"""Benchmark suites: ``pbrl bench SUITE``.

A suite is a grid of cells (task, method, label budget, seed). Methods: ``ppo`` (true-reward
RL, the ceiling), ``pbrl`` (preference learning with a synthetic teacher) at each budget, and
the suite's variants (teachers, query strategies). Every cell writes its own JSON file
under ``OUT/cells/`` when it finishes (temporary name, fsync, rename), and a re-run skips
the cells whose files exist, so a suite survives interruption and can be spread over
sessions or machines; ``--workers N`` runs cells in N processes. The report (``--report``,
also written after every run) is a CSV of curves, a PNG per task (true return vs env steps,
mean over seeds with a band of +-1 std) and a markdown table.
"""

from __future__ import annotations

import json
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pbrl.files import atomic_write
from pbrl.run_dir import RunDir

# task -> env steps (PPO with the RL Zoo's per-env settings converges within them)
CLASSIC = {"pbrl/CartPole-v1": 50_000, "pbrl/Acrobot-v1": 100_000, "pbrl/MountainCarContinuous-v0": 100_000,
           "pbrl/Pendulum-v1": 100_000}
MUJOCO = {f"pbrl/{name}-v5": 1_000_000 for name in ("HalfCheetah", "Hopper", "Walker2d", "Ant", "Swimmer", "Reacher",
                                                   "InvertedPendulum", "InvertedDoublePendulum")}
ATARI = {f"pbrl/{name}-v5": 10_000_000 for name in ("Pong", "BeamRider", "Enduro")}
TEACHERS = ("perfect", "boltzmann", "myopic", "mistake", "skip", "equal")
QUERIES = ("uniform", "disagreement", "entropy")


@dataclass(frozen=True)
class Cell:
    """One run of a suite: a task, a method, a label budget (0 for true-reward RL), a seed."""

    task: str
    method: str  # "ppo", "pbrl", "pbrl:teacher=NAME", "pbrl:query=NAME"
    labels: int
    seed: int
    steps: int

    @property
    def name(self) -> str:
        return f"{self.task.split('/')[-1]}__{self.method.replace(':', '-').replace('=', '-')}__{self.labels}__s{self.seed}"


@dataclass(frozen=True)
class Suite:
    name: str
    tasks: dict[str, int]
    labels: tuple[int, ...]
    variants: tuple[str, ...] = ("pbrl",)
    ceiling: bool = True  # true-reward PPO cells


SUITES: dict[str, Suite] = {
    "classic": Suite("classic", CLASSIC, (100,)),
    "mujoco": Suite("mujoco", MUJOCO, (700,)),
    "atari": Suite("atari", ATARI, (5500,)),
    "teachers": Suite("teachers", {"pbrl/Pendulum-v1": 100_000}, (200,), tuple(f"pbrl:teacher={t}" for t in TEACHERS)),
    "queries": Suite("queries", {"pbrl/Pendulum-v1": 100_000}, (200,), tuple(f"pbrl:query={q}" for q in QUERIES)),
}


def cells(suite: Suite, seeds: tuple[int, ...], labels: tuple[int, ...] | None = None, steps: int | None = None,
          tasks: tuple[str, ...] | None = None) -> list[Cell]:
    """The suite's grid, true-reward PPO first (it is the yardstick of every other cell)."""
    chosen = {t: s for t, s in suite.tasks.items() if not tasks or t in tasks or t.split("/")[-1] in tasks}
    if tasks and not chosen:
        raise ValueError(f"no task of suite {suite.name} matches {list(tasks)}; its tasks: {', '.join(suite.tasks)}")
    grid = []
    for task, default_steps in chosen.items():
        n = steps or default_steps
        for seed in seeds:
            if suite.ceiling:
                grid.append(Cell(task, "ppo", 0, seed, n))
            for budget in labels or suite.labels:
                grid += [Cell(task, variant, budget, seed, n) for variant in suite.variants]
    return grid


def run_cell(cell: Cell, out: str) -> dict[str, Any]:
    """Run one cell and write its result file; returns the result."""
    from pbrl.baseline import BaselineConfig, run_baseline
    from pbrl.trainer import TrainConfig, train

    start = time.perf_counter()
    if cell.method == "ppo":
        result = run_baseline(BaselineConfig(cell.task, "ppo", cell.steps, cell.seed), label=f"ppo {cell.task} s{cell.seed}")
    else:
        options = dict(part.split("=", 1) for part in cell.method.split(":")[1:])
        config = TrainConfig(env_id=cell.task, labels=cell.labels, steps=cell.steps, seed=cell.seed, video=False,
                             teacher=options.get("teacher", "perfect"), query=options.get("query", "disagreement"))
        run_path = Path(out) / "runs" / cell.name
        RunDir.set_aside(run_path)  # an interrupted cell starts again
        try:
            result = train(config, run_path)
        except (RuntimeError, ValueError) as exc:  # a cell that cannot work: recorded, the suite goes on
            result = {"error": str(exc), "true_return_mean": float("nan"), "labels": 0, "curve": [],
                      "train_seconds": time.perf_counter() - start}
    row = {**result, "labels_used": result.get("labels", 0), **cell.__dict__,  # "labels" is the cell's budget
           "wall_seconds": time.perf_counter() - start, "finished_at": time.time(),
           "machine": f"{os.cpu_count()} cores, {platform.machine()}"}
    path = Path(out) / "cells" / f"{cell.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(row, indent=1).encode()
    atomic_write(path, lambda f: f.write(text))
    return row


def done(out: str | Path) -> dict[str, dict[str, Any]]:
    """Finished cells' results, by cell name."""
    folder = Path(out) / "cells"
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}


def run_suite(grid: list[Cell], out: str, workers: int = 1) -> list[dict[str, Any]]:
    """Run the cells without a result file (in ``workers`` processes); every finished row."""
    finished = done(out)
    todo = [c for c in grid if c.name not in finished]
    print(f"{len(grid)} cells, {len(grid) - len(todo)} already done, {len(todo)} to run with {workers} worker(s) -> {out}",
          flush=True)
    if workers <= 1:
        for i, cell in enumerate(todo, 1):
            print(f"== [{i}/{len(todo)}] {cell.name}", flush=True)
            run_cell(cell, out)
    else:
        import multiprocessing as mp

        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(run_cell, cell, out): cell for cell in todo}
            for i, future in enumerate(as_completed(futures), 1):
                future.result()
                print(f"== [{i}/{len(todo)}] finished {futures[future].name}", flush=True)
    names = {c.name for c in grid}
    return [row for name, row in done(out).items() if name in names]


# --- report ------------------------------------------------------------------------------------


def _label(row: dict[str, Any]) -> str:
    return "true-reward PPO" if row["method"] == "ppo" else f"{row['method']} {row['labels']} labels"


def _ratio(method: float, ppo: float) -> float:
    """method / PPO; for tasks whose returns are negative (Pendulum), PPO / method, so that
    below 1 is worse than PPO either way."""
    if ppo == 0 or method == 0:
        return float("nan")
    return method / ppo if ppo > 0 else ppo / method


def summary_table(rows: list[dict[str, Any]]) -> str:
    """Markdown: final true return (mean +- std over seeds), ratio to true-reward PPO, labels,
    wall time and its ratio to PPO's, per task and method."""
    lines = ["| task | method | seeds | true return | ratio to PPO (negative returns: PPO / method) | labels used | wall time | wall-time ratio |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for task in sorted({r["task"] for r in rows}):
        mine = [r for r in rows if r["task"] == task]
        ppo = [r for r in mine if r["method"] == "ppo"]
        ppo_return = float(np.mean([r["true_return_mean"] for r in ppo])) if ppo else float("nan")
        ppo_time = float(np.mean([r["train_seconds"] for r in ppo])) if ppo else float("nan")
        for key in sorted({(r["method"], r["labels"]) for r in mine}, key=lambda k: (k[0] != "ppo", k)):
            group = [r for r in mine if (r["method"], r["labels"]) == key]
            failed = [r for r in group if r.get("error")]
            if failed:
                lines.append(f"| {task.split('/')[-1]} | {_label(group[0])} | {len(group)} | failed on {len(failed)} of "
                             f"{len(group)} seeds: {failed[0]['error'][:90]} | - | - | - | - |")
                group = [r for r in group if not r.get("error")]
                if not group:
                    continue
            returns = [r["true_return_mean"] for r in group]
            seconds = float(np.mean([r["train_seconds"] for r in group]))
            labels = "-" if key[0] == "ppo" else f"{np.mean([r['labels_used'] for r in group]):.0f}"
            ratio = _ratio(float(np.mean(returns)), ppo_return)
            lines.append(f"| {task.split('/')[-1]} | {_label(group[0])} | {len(group)} | {np.mean(returns):.1f} +- "
                         f"{np.std(returns):.1f} | {ratio:.2f} | {labels} | {seconds:.0f} s | {seconds / ppo_time:.2f} |")
    return "\n".join(lines)


def write_report(rows: list[dict[str, Any]], out: str | Path, title: str) -> Path:
    """curves.csv, one PNG per task and summary.md in ``out``; returns the summary's path."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    with open(out / "curves.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["task", "method", "labels", "seed", "steps", "true_return"])
        for r in rows:
            for p in r.get("curve", []):
                writer.writerow([r["task"], r["method"], r["labels"], r["seed"], p["steps"], p["true_return"]])
    for task in sorted({r["task"] for r in rows}):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        mine = [r for r in rows if r["task"] == task and r.get("curve")]
        for key in sorted({(r["method"], r["labels"]) for r in mine}, key=lambda k: (k[0] != "ppo", k)):
            group = [r for r in mine if (r["method"], r["labels"]) == key]
            grid = np.linspace(0, max(p["steps"] for r in group for p in r["curve"]), 100)
            ys = np.array([np.interp(grid, [p["steps"] for p in r["curve"]], [p["true_return"] for p in r["curve"]]) for r in group])
            ax.plot(grid, ys.mean(0), label=f"{_label(group[0])} ({len(group)} seeds)")
            ax.fill_between(grid, ys.mean(0) - ys.std(0), ys.mean(0) + ys.std(0), alpha=0.2)
        ax.set_xlabel("env steps")
        ax.set_ylabel("true return (mean of last 100 training episodes)")
        ax.set_title(task)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        fig.tight_layout()
        fig.savefig(out / f"{task.split('/')[-1]}.png", dpi=90)
        plt.close(fig)
    path = out / "summary.md"
    path.write_text(f"## {title}\n\n{summary_table(rows)}\n")
    return path
