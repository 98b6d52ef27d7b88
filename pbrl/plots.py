"""Every figure pbrl draws, in one style: a run's ``curves.png``, a suite's per-task curves
(mean over seeds with a +-1 std band) and bars over seeds (the text suite's final scores).

The only module that imports matplotlib, and only when a figure is drawn (Agg backend, no
display), so the rest of pbrl imports without it. Callers hand over plain numbers; what a
suite's rows mean stays in the report. Each PNG is written through :func:`pbrl.io.atomic_write`:
a report rewritten while someone reads it never shows half an image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pbrl.io import atomic_write

DPI = 100
GRID_ALPHA = 0.3
LEGEND_SIZE = 8
RETURN_LABEL = "true return (mean of last 100 training episodes)"
# a curve: (env steps, true return) of one seed
Curve = tuple[Sequence[float], Sequence[float]]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _axes(ax: Any, xlabel: str, ylabel: str, title: str | None = None) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=GRID_ALPHA)


def _legend(ax: Any, loc: str = "best") -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc=loc, fontsize=LEGEND_SIZE)


def _save(plt: Any, fig: Any, path: Path, title: str) -> None:
    """Title, layout, the PNG written atomically, the figure closed (pyplot keeps open ones)."""
    fig.suptitle(title)
    fig.tight_layout()
    try:
        atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=DPI))
    finally:
        plt.close(fig)


def run_curves(rows: Sequence[dict[str, Any]], path: str | Path, title: str,
               baseline: Sequence[dict[str, Any]] | None = None) -> None:
    """A run's curves.png: true return vs env steps (and ``baseline``'s, true-reward RL) on the
    left, with the learned reward's return on its own axis (a learned return that climbs while
    the true one does not is the agent exploiting the reward model); labels and the reward
    model's validation accuracy on the right."""
    plt = _pyplot()
    steps = np.array([r["steps"] for r in rows])
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax.plot(steps, [r["true_return"] for r in rows], label="preferences: true return")
    if baseline:
        ax.plot([r["steps"] for r in baseline], [r["true_return"] for r in baseline], label="true-reward RL", alpha=0.8)
    _axes(ax, "env steps", RETURN_LABEL)
    _legend(ax, "upper left")
    learned = np.array([r.get("learned_return", np.nan) for r in rows], dtype=float)
    if np.isfinite(learned).any():
        twin = ax.twinx()
        twin.plot(steps, learned, color="tab:purple", linestyle="--", alpha=0.7, label="preferences: learned return")
        twin.set_ylabel("return of the learned reward", color="tab:purple")
        _legend(twin, "lower right")
    ax2.plot(steps, [r["labels"] for r in rows], color="tab:green", label="labels")
    ax2.set_xlabel("env steps")
    ax2.set_ylabel("labels", color="tab:green")
    accuracy = ax2.twinx()
    accuracy.plot(steps, [r["val_accuracy"] for r in rows], color="tab:red", alpha=0.7, label="validation accuracy")
    accuracy.set_ylim(0, 1.05)
    accuracy.set_ylabel("reward-model validation accuracy", color="tab:red")
    _save(plt, fig, Path(path), title)


def mean_curves(series: Sequence[tuple[str, Sequence[Curve]]], path: str | Path, title: str,
                levels: Sequence[tuple[str, float]] = ()) -> None:
    """One task of a suite (the paper's Figures 1-2): per ``(name, curves)`` the mean over
    seeds on a common grid of env steps with a +-1 std band; ``levels``: flat references
    (the random policy, whose return has no curve) as dotted lines."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, curves in series:
        grid = np.linspace(0, max(max(steps) for steps, _ in curves), 100)
        ys = np.array([np.interp(grid, steps, returns) for steps, returns in curves])
        ax.plot(grid, ys.mean(0), label=f"{name} ({len(curves)} seeds)")
        ax.fill_between(grid, ys.mean(0) - ys.std(0), ys.mean(0) + ys.std(0), alpha=0.2)
    for name, value in levels:
        ax.axhline(value, color="grey", linestyle=":", label=name)
    _axes(ax, "env steps", RETURN_LABEL)
    _legend(ax)
    _save(plt, fig, Path(path), title)


@dataclass(frozen=True)
class BarPanel:
    """One panel of :func:`seed_bars`: per bar, every seed's value."""

    title: str
    values: Sequence[Sequence[float]]
    line: tuple[float, str] | None = None  # a reference (value, legend), e.g. a KL target


def seed_bars(names: Sequence[str], panels: Sequence[BarPanel], path: str | Path, title: str) -> None:
    """Methods without learning curves (the text suite): a bar per method with the mean and
    +-1 std over seeds, every seed a dot on it; one panel per measured quantity."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 4), squeeze=False)
    x = np.arange(len(names))
    for ax, panel in zip(axes[0], panels, strict=True):
        ax.bar(x, [np.mean(v) for v in panel.values], yerr=[np.std(v) for v in panel.values], capsize=4,
               color="tab:blue", alpha=0.8)
        for i, v in enumerate(panel.values):
            ax.scatter([i] * len(v), v, color="black", s=10, zorder=3)
        ax.set_xticks(x, names, fontsize=LEGEND_SIZE)
        ax.set_title(panel.title, fontsize=10)
        ax.grid(axis="y", alpha=GRID_ALPHA)
        if panel.line:
            ax.axhline(panel.line[0], color="tab:red", linestyle="--", label=panel.line[1])
        _legend(ax, "upper left")
    _save(plt, fig, Path(path), title)


def landscape(x: np.ndarray, y: np.ndarray, values: np.ndarray, visited: np.ndarray, labels: tuple[str, str],
              path: str | Path, title: str) -> None:
    """A heat map of ``values[i, j]`` at ``(x[j], y[i])`` with the visited states on top."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 5))
    mesh = ax.pcolormesh(x, y, values, shading="auto", cmap="viridis")
    fig.colorbar(mesh, ax=ax, label="learned reward")
    if len(visited):
        step = max(1, len(visited) // 2000)
        ax.scatter(visited[::step, 0], visited[::step, 1], s=2, c="white", alpha=0.35, label="recent states")
    ax.set_xlim(float(x.min()), float(x.max()))
    ax.set_ylim(float(y.min()), float(y.max()))
    _axes(ax, labels[0], labels[1])
    _legend(ax, loc="upper right")
    _save(plt, fig, Path(path), title)


def performance_profiles(taus: np.ndarray, profiles: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path,
                         title: str) -> None:
    """Performance profiles (Agarwal et al. 2021): per method, the share of runs whose
    normalised score exceeds each threshold, with its confidence band (``bounds[0]`` lower,
    ``bounds[1]`` upper); dotted lines at 0 (random) and 1 (true-reward PPO)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, (share, bounds) in profiles.items():
        ax.plot(taus, share, label=name)
        ax.fill_between(taus, bounds[0], bounds[1], alpha=0.2)
    for x in (0.0, 1.0):
        ax.axvline(x, color="grey", linestyle=":")
    ax.set_ylim(-0.02, 1.02)
    _axes(ax, "normalised score tau (0 = random policy, 1 = true-reward PPO)", "share of runs with score > tau")
    _legend(ax, "lower left")
    _save(plt, fig, Path(path), title)
