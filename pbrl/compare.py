"""Preference learning beside true-reward RL, same env, steps, seeds and hyperparameters,
timed in one invocation: ``pbrl compare``. Results go to ``results.jsonl`` in the output
directory, one line per (method, seed); a rerun skips what is already there (resumable)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from pbrl import rl

from pbrl.baseline import BaselineConfig, run_baseline
from pbrl.run_dir import RunDir
from pbrl.trainer import TrainConfig, train


def random_return(env_id: str, episodes: int = 10, seed: int = 0) -> float:
    """Mean true return of a uniformly random policy."""
    returns, _ = rl.evaluate(None, env_id, episodes, seed)
    return float(np.mean(returns))


def normalised_score(method: float, random: float, rl: float) -> float:
    """``(R_method - R_random) / (R_rl - R_random)``: 1 matches true-reward RL, 0 is random."""
    return (method - random) / (rl - random) if rl != random else float("nan")


@dataclass(frozen=True)
class CompareConfig:
    train: TrainConfig
    seeds: tuple[int, ...] = (0,)
    out: str = "runs/compare"


def _done(path: Path) -> dict[tuple[str, int], dict[str, Any]]:
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {(r["method"], r["seed"]): r for r in rows}


def _append(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def compare(config: CompareConfig) -> list[dict[str, Any]]:
    """Run every missing (method, seed) cell, then return all rows of this comparison."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.jsonl"
    base = config.train
    for seed in config.seeds:
        done = _done(results)
        if ("random", seed) not in done:
            _append(results, {"method": "random", "seed": seed, "true_return_mean": random_return(base.env_id, seed=seed)})
        if ("rl", seed) not in done:
            print(f"== true-reward {base.algo.upper()}, {base.env_id}, seed {seed}", flush=True)
            r = run_baseline(BaselineConfig(base.env_id, base.algo, base.steps, seed, base.eval_episodes))
            _append(results, {"method": "rl", "seed": seed, **r})
        if ("preferences", seed) not in done:
            print(f"== preferences ({base.labels} labels, {base.teacher} teacher), {base.env_id}, seed {seed}", flush=True)
            run_path = out / f"seed{seed}"
            RunDir.set_aside(run_path)  # an interrupted run starts again
            r = train(replace(base, seed=seed), run_path)
            _append(results, {"method": "preferences", "seed": seed, **r})
    rows = [r for r in _done(results).values() if r["seed"] in config.seeds]
    return sorted(rows, key=lambda r: (r["seed"], r["method"]))


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-seed normalised scores and wall-time ratios, and their medians."""
    by_seed: dict[int, dict[str, dict[str, Any]]] = {}
    for r in rows:
        by_seed.setdefault(r["seed"], {})[r["method"]] = r
    per_seed = []
    for seed, m in sorted(by_seed.items()):
        if not {"random", "rl", "preferences"} <= set(m):
            continue
        pref, rl, rnd = m["preferences"], m["rl"], m["random"]
        per_seed.append({
            "seed": seed,
            "preferences": pref["true_return_mean"],
            "rl": rl["true_return_mean"],
            "random": rnd["true_return_mean"],
            "score": normalised_score(pref["true_return_mean"], rnd["true_return_mean"], rl["true_return_mean"]),
            "ratio_raw": pref["true_return_mean"] / rl["true_return_mean"] if rl["true_return_mean"] else float("nan"),
            "time_ratio": pref["train_seconds"] / rl["train_seconds"],
            "labels": pref["labels"],
            "pref_seconds": pref["train_seconds"],
            "rl_seconds": rl["train_seconds"],
        })
    med = lambda key: float(np.nanmedian([p[key] for p in per_seed])) if per_seed else float("nan")  # noqa: E731
    return {"per_seed": per_seed, "median_score": med("score"), "median_time_ratio": med("time_ratio"),
            "median_preferences": med("preferences"), "median_rl": med("rl"),
            "mean_preferences": float(np.mean([p["preferences"] for p in per_seed])) if per_seed else float("nan"),
            "min_preferences": float(np.min([p["preferences"] for p in per_seed])) if per_seed else float("nan")}


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    """True return vs env steps: preferences and true-reward RL, one line per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours = {"preferences": "tab:blue", "rl": "tab:orange"}
    names = {"preferences": "preferences", "rl": "true-reward RL"}
    for method in ("preferences", "rl"):
        for i, r in enumerate(r for r in rows if r["method"] == method and r.get("curve")):
            ax.plot([p["steps"] for p in r["curve"]], [p["true_return"] for p in r["curve"]], color=colours[method],
                    alpha=0.8, label=names[method] if i == 0 else None)
    randoms = [r["true_return_mean"] for r in rows if r["method"] == "random"]
    if randoms:
        ax.axhline(float(np.mean(randoms)), color="grey", linestyle=":", label="random policy")
    ax.set_xlabel("env steps")
    ax.set_ylabel("true return (mean of last 100 training episodes)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def format_summary(config: CompareConfig, summary: dict[str, Any]) -> str:
    t = config.train
    lines = [
        f"{t.env_id}: {t.labels} labels ({t.teacher} teacher, {t.query} queries), {t.steps:,} steps, {t.algo.upper()}",
        "| seed | preferences | true-reward RL | random | normalised score | wall-time ratio |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for p in summary["per_seed"]:
        lines.append(f"| {p['seed']} | {p['preferences']:.1f} | {p['rl']:.1f} | {p['random']:.1f} | {p['score']:.2f} | "
                     f"{p['time_ratio']:.2f} ({p['pref_seconds']:.0f} s / {p['rl_seconds']:.0f} s) |")
    lines.append(f"| median | {summary['median_preferences']:.1f} | {summary['median_rl']:.1f} | | "
                 f"{summary['median_score']:.2f} | {summary['median_time_ratio']:.2f} |")
    return "\n".join(lines)
