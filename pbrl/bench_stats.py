"""A suite's results as the field now reports them (Agarwal et al. 2021, "Deep RL at the Edge
of the Statistical Precipice"), computed by the ``rliable`` package (``pip install
pbrl[bench]``): per method, the interquartile mean (IQM) and the mean of the normalised
scores over every task and seed with 95% stratified-bootstrap confidence intervals (runs
resampled within each task), the probability that pbrl beats imitation on a task at equal
labels with its interval, and performance profiles (the share of runs scoring above each
threshold) drawn by :func:`pbrl.plots.performance_profiles`.

Plain numbers in, markdown out: ``Scores`` maps a method's label to task -> seed -> normalised
score (the report builds it from the cell files). The bootstrap's random state is fixed, so a
report rewritten from the same cells is the same text.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pbrl import plots

Scores = dict[str, dict[str, dict[int, float]]]  # method label -> task -> seed -> normalised score
REPS = 2000  # bootstrap replications (rliable's default for profiles; intervals settle well before)
CONFIDENCE = 0.95
TAUS = np.linspace(0.0, 2.0, 81)  # performance-profile thresholds on the normalised score
BOOTSTRAP_SEED = 0
INSTALL = "pip install -e '.[bench]' (rliable)"


@dataclass(frozen=True)
class Matrix:
    """One method's scores as rliable wants them: ``values[run, task]`` over ``tasks`` and the
    ``seeds`` all of them have; ``left_out``: its tasks that lack one of those seeds."""

    tasks: tuple[str, ...]
    seeds: tuple[int, ...]
    values: np.ndarray
    left_out: tuple[str, ...] = ()


def rectangle(by_task: dict[str, dict[int, float]]) -> Matrix:
    """The largest tasks x seeds rectangle (most runs; then most tasks) whose seed set is one
    task's own: tasks with more seeds give only those, tasks with fewer are left out (named)."""
    best: tuple[int, int, tuple[int, ...]] = (0, 0, ())
    for seeds in {tuple(sorted(s)) for s in by_task.values()}:
        covered = sum(1 for s in by_task.values() if set(seeds) <= set(s))
        best = max(best, (covered * len(seeds), covered, seeds))
    chosen = best[2]
    tasks = tuple(t for t in sorted(by_task) if set(chosen) <= set(by_task[t]))
    values = np.array([[by_task[t][s] for t in tasks] for s in chosen], dtype=np.float64)
    return Matrix(tasks, chosen, values.reshape(len(chosen), len(tasks)),
                  tuple(t for t in sorted(by_task) if t not in tasks))


def _rliable() -> Any:
    """rliable's ``library`` and ``metrics`` modules, or None when it is not installed."""
    try:
        from rliable import library, metrics
    except ImportError:
        return None
    return library, metrics


def _interval(library: Any, data: dict[str, Any], func: Any) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """rliable's estimates with fixed draws, method by method: each from a fresh random state
    (rliable resamples through NumPy's global one), so that a method's interval does not
    depend on which others are reported beside it; the global state is put back after."""
    state = np.random.get_state()
    points, bounds = {}, {}
    try:
        for name, values in data.items():
            np.random.seed(BOOTSTRAP_SEED)
            with warnings.catch_warnings():  # arch deprecates the RandomState argument rliable passes on
                warnings.simplefilter("ignore", FutureWarning)
                point, bound = library.get_interval_estimates(
                    {name: values}, func, reps=REPS, confidence_interval_size=CONFIDENCE,
                    random_state=np.random.RandomState(BOOTSTRAP_SEED))
            points[name], bounds[name] = point[name], bound[name]
    finally:
        np.random.set_state(state)
    return points, bounds


def short(task: str) -> str:
    """``CartPole-v1`` -> ``CartPole``: the tasks column stays readable."""
    return re.sub(r"-v\d+$", "", task)


def _ci(point: float, bounds: np.ndarray, runs: int = 2) -> str:
    """``point [low, high]``; with one run per task a bootstrap has nothing to resample."""
    if runs < 2:
        return f"{point:.2f} (one seed: no interval)"
    low, high = np.ravel(bounds)
    return f"{point:.2f} [{low:.2f}, {high:.2f}]"


def aggregate_table(scores: Scores) -> str:
    """Markdown: per method, tasks, runs per task, IQM and mean with 95% CIs; empty without
    scores; a line saying how to get it when rliable is not installed."""
    matrices = {name: m for name, by_task in scores.items() if (m := rectangle(by_task)).values.size}
    if not matrices:
        return ""
    if (found := _rliable()) is None:
        return f"(Interquartile means with bootstrap intervals and performance profiles need rliable: {INSTALL}.)"
    library, metrics = found
    points, bounds = _interval(library, {n: m.values for n, m in matrices.items()},
                               lambda x: np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x)]))
    lines = ["| method | tasks | seeds per task | IQM [95% CI] | mean [95% CI] | runs scoring >= 0.9 |",
             "|---|---|---:|---:|---:|---:|"]
    for name, m in matrices.items():
        tasks = ", ".join(short(t) for t in m.tasks)
        if m.left_out:
            tasks += f" (not {', '.join(short(t) for t in m.left_out)}: fewer seeds)"
        runs = len(m.seeds)
        lines.append(f"| {name} | {tasks} | {runs} | {_ci(points[name][0], bounds[name][:, 0], runs)} | "
                     f"{_ci(points[name][1], bounds[name][:, 1], runs)} | "
                     f"{int((m.values >= 0.9).sum())} of {m.values.size} |")
    return "\n".join(lines)


def improvement(scores: Scores, pairs: list[tuple[str, str]]) -> str:
    """Markdown lines: for each ``(x, y)`` pair of method labels, P(x > y) (the chance that a
    run of x beats a run of y on the same task, averaged over tasks; 0.5 = level) with its 95%
    stratified-bootstrap interval, over the tasks and seeds both have."""
    found = _rliable()
    if found is None:
        return ""
    library, metrics = found
    lines = []
    for x, y in pairs:
        common = {t: {s: v for s, v in scores[x][t].items() if s in scores[y][t]} for t in scores[x] if t in scores[y]}
        m = rectangle({t: s for t, s in common.items() if s})
        if not m.values.size:
            continue
        theirs = np.array([[scores[y][t][s] for t in m.tasks] for s in m.seeds], dtype=float)
        point, bounds = _interval(library, {"p": [m.values, theirs]}, metrics.probability_of_improvement)
        lines.append(f"- P({x} > {y}) = {_ci(float(point['p']), bounds['p'], len(m.seeds))} over {len(m.tasks)} task"
                     f"{'s' * (len(m.tasks) > 1)} x {len(m.seeds)} seeds")
    return "\n".join(lines)


def profile(scores: Scores, path: Path, title: str) -> bool:
    """``path``: the performance profiles of every method (share of runs scoring above tau,
    with 95% bands); False (nothing drawn) without scores or rliable."""
    matrices = {name: m for name, by_task in scores.items() if (m := rectangle(by_task)).values.size}
    if not matrices or (found := _rliable()) is None:
        return False
    library = found[0]
    points, bounds = _interval(library, {n: m.values for n, m in matrices.items()},
                               lambda x: np.array([np.mean(x > tau) for tau in TAUS]))
    plots.performance_profiles(TAUS, {f"{n} ({m.values.size} runs)": (points[n], bounds[n])
                                      for n, m in matrices.items()}, path, title)
    return True
