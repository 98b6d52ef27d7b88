"""The ``text`` benchmark suite's cells: the response game under ``pbrl bench text``.

Tasks are ``text/sentiment`` and ``text/arithmetic`` (``pbrl/ResponseGame-v0`` with that
task); a cell's "steps" are responses. Methods:

- ``sft``: the SFT policy itself (the zero of the normalised score, as the random policy is
  elsewhere); trained once per task (seed 0) into ``OUT/runs/sft-TASK`` and shared by every
  seed's cells, as a fixed pretrained checkpoint is in LM work: the seeds vary RL, the
  labels and the evaluation samples;
- ``ppo``: PPO on the hidden score itself with the KL penalty (the ceiling; for arithmetic the
  verifier's reward, RLVR);
- ``rloo``, ``grpo``: the group methods (:mod:`pbrl.group_ppo`) on the hidden score with the same
  KL penalty and responses as ``ppo``, each prompt answered 4 times;
- ``pbrl``: preference learning at the cell's label budget (synthetic teacher, reward ensemble
  of small transformers, PPO on the learned reward with the KL penalty);
- ``pbrl:teacher=judge-lm`` (optional: ``--method``, with the ``hf`` extra): preference
  learning on labels from SmolLM2-135M-Instruct as an LM judge (:mod:`pbrl.text.lm_judge`,
  the task's default principle), imported once into ``OUT/runs/judge-smollm2``;
- ``dpo``: DPO of the SFT policy on the comparisons of the ``pbrl`` cell with the same budget
  and seed (run first if it has not been).

Every cell's ``true_return_mean`` is the mean hidden score of the policy's sampled responses
to 256 fixed prompts; ``kl`` its KL to the SFT policy.

The suite plugs into :mod:`pbrl.bench` by name (``Suite.runner``: :func:`run_text_cell`;
``Suite.report``: :data:`REPORT`, its explanation, seed table and bar plot): the generic
runner and report import nothing of the language-model side.
"""

from __future__ import annotations

import fcntl
import json
import time
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from pbrl import plots
from pbrl.bench import Cell, best_seconds
from pbrl.bench_report import (
    SPEED_FILE,
    SuiteReport,
    cell_seconds,
    label,
    method_groups,
    short_name,
    succeeded,
)
from pbrl.errors import InputError
from pbrl.group_ppo import BASELINES
from pbrl.io import atomic_write

ENV_ID = "pbrl/ResponseGame-v0"
# SFT steps per task: sentiment's corpus is learned well; arithmetic's SFT model is left short
# of perfect (a fully trained one answers ~99% of sums and leaves the verifier nothing to teach)
SFT_STEPS = {"sentiment": 2000, "arithmetic": 1000}
KL_TARGET, KL_COEF, KL_HORIZON = 2.0, 0.2, 500  # beta adapts within a few thousand responses
EVAL_PROMPTS = 256
JUDGE_MODEL = "smollm2"  # the LM judge of pbrl:teacher=judge-lm (pbrl.text.hf's name for SmolLM2-135M-Instruct)


def text_task(task: str) -> str:
    return task.split("/", 1)[1]


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # one worker builds a shared input; the others wait for it
        yield


def ensure_sft(out: Path, task: str) -> Path:
    from pbrl.text.sft import SFTConfig, train_sft

    path = out / "runs" / f"sft-{task}"
    with _locked(path):
        if not (path / "lm.json").exists():
            train_sft(SFTConfig(task=task, steps=SFT_STEPS[task], seed=0), path)
    return path


def ensure_judge(out: Path) -> Path:
    """SmolLM2-135M-Instruct (the ``hf`` extra) as a model directory ``OUT/runs/judge-smollm2``
    for the LM judge, imported once and shared by every cell."""
    from pbrl.text import hf

    path = out / "runs" / "judge-smollm2"
    with _locked(path):
        if not (path / "lm.json").exists():  # without the hf extra: an error naming scripts/setup-hf.sh
            hf.import_model(JUDGE_MODEL, path, task="sentiment", prompt_tokens=16, response_tokens=12)
    return path


def ensure_pbrl_run(out: Path, task: str, labels: int, responses: int, seed: int, teacher: str = "") -> Path:
    """The pbrl run of a budget and seed, trained first if it has not been; ``teacher``: the
    cell's ``pbrl:teacher=NAME`` (default: the synthetic teacher; ``judge-lm``: SmolLM2 as
    an LM judge with the task's principle)."""
    from pbrl.trainer import TrainConfig, train

    sft = ensure_sft(out, task)
    path = out / "runs" / (f"pbrl-{task}-{labels}-s{seed}" + (f"-{teacher}" if teacher else ""))
    if teacher not in ("", "judge-lm"):
        raise InputError(f"the text suite has no teacher {teacher!r}; it knows judge-lm")
    spec = f"judge-lm:{ensure_judge(out)}" if teacher else "perfect"
    with _locked(path):
        if not (path / "summary.json").exists():
            from pbrl.run_dir import RunDir

            RunDir.set_aside(path)  # an interrupted run starts again
            train(TrainConfig(env_id=ENV_ID, env_kwargs={"task": task}, sft=str(sft), labels=labels, steps=responses,
                              seed=seed, kl_coef=KL_COEF, kl_target=KL_TARGET, kl_horizon=KL_HORIZON, video=False,
                              eval_episodes=32, teacher=spec), path)
    return path


def run_text_cell(cell: Cell, out: str) -> dict[str, Any]:
    """One cell of the text suite (its ``Suite.runner``); the row's result part. Its
    ``train_seconds``, the cell's wall time, is the method's training alone."""
    from pbrl.text.load import load_lm
    from pbrl.text.model_dir import lm_env_kwargs
    from pbrl.text.rl import TextRLConfig, evaluate_text, train_text

    out_path, task = Path(out), text_task(cell.task)
    method, labels, seed, responses = cell.method, cell.labels, cell.seed, cell.steps
    sft = ensure_sft(out_path, task)
    ref = load_lm(sft)
    pairs = None
    if method == "dpo":  # its comparisons come from the pbrl cell's run (made first if need be); not timed
        from pbrl.text.align import pairs_from_store

        pairs = pairs_from_store(ensure_pbrl_run(out_path, task, labels, responses, seed))
    start = time.perf_counter()
    extra: dict[str, Any] = {}
    if method == "sft":
        policy = ref
    elif method in ("ppo", *BASELINES):
        run = out_path / "runs" / f"{method}-{task}-s{seed}"
        summary = train_text(TextRLConfig(task=task, sft=str(sft), responses=responses, kl_coef=KL_COEF,
                                          kl_target=KL_TARGET, kl_horizon=KL_HORIZON, seed=seed, eval_prompts=16,
                                          algo=method), run)
        policy, extra = load_lm(run / "policy"), {"responses_per_second": summary["responses_per_second"]}
    elif method == "pbrl" or method.startswith("pbrl:teacher="):
        run = ensure_pbrl_run(out_path, task, labels, responses, seed, method.partition("=")[2])
        summary = json.loads((run / "summary.json").read_text())
        # reward_corr: the learned reward against the hidden score on the final policy's newest responses
        policy, extra = load_lm(run / "text_policy"), {"labels": summary["labels"],
                                                        "label_agreement": summary.get("label_agreement"),
                                                        "reward_corr": summary.get("reward_corr")}
    elif method == "dpo":
        from pbrl.text.align import AlignConfig, align

        run = out_path / "runs" / f"dpo-{task}-{labels}-s{seed}"
        assert pairs is not None  # read above, before the clock started
        align(AlignConfig(method="dpo", sft=str(sft), task=task, seed=seed, eval_prompts=16), pairs, run)
        policy, extra = load_lm(run / "policy"), {"labels": len(pairs)}
    else:
        raise InputError(f"the text suite has no method {method!r}")
    seconds = time.perf_counter() - start
    result = evaluate_text(policy, task, EVAL_PROMPTS, seed, ref, lm_env_kwargs(sft))
    return {"true_return_mean": result["score_sampled"], "true_return_std": result["score_sampled_std"],
            "score_greedy": result["score_greedy"], "kl": result.get("kl_sampled", 0.0), "train_seconds": seconds,
            "curve": [], **extra}


def measure_speed(sft: str | Path, task: str, batches: tuple[int, ...] = (32, 128), repeats: int = 5,
                  device: str = "cpu") -> list[dict[str, Any]]:
    """Responses per second of the text policy: its rollout (``forward``: sample a response,
    its summed log-probability and the value of the prompt) and a PPO update (one
    teacher-forced pass with gradients, backward and an Adam step), at each batch size; the
    best of ``repeats`` timings (after one warm-up), on ``device``."""
    import gymnasium as gym
    import numpy as np
    import torch

    from pbrl.text.model_dir import lm_env_kwargs
    from pbrl.text.policy import TextPolicy

    env = gym.make(ENV_ID, task=task, **lm_env_kwargs(sft))
    policy = TextPolicy(env.observation_space, env.action_space, lambda _: 1e-4, lm_path=str(sft)).to(device)
    rng = np.random.default_rng(0)

    def update(obs: torch.Tensor, actions: torch.Tensor) -> None:
        values, logp, entropy = policy.evaluate_actions(obs, actions)
        loss = -(logp.mean() + 0.01 * entropy.mean()) + values.pow(2).mean()
        policy.optimizer.zero_grad()
        loss.backward()
        policy.optimizer.step()

    rows = []
    for batch in batches:
        obs = torch.as_tensor(np.stack([env.reset(seed=int(rng.integers(1 << 30)))[0] for _ in range(batch)]),
                              device=device)
        with torch.no_grad():
            actions = policy(obs)[0]
            rollout = best_seconds(partial(policy, obs), repeats, device)
        rows.append({"task": task, "batch": batch, "device": device, "threads": torch.get_num_threads(),
                     "rollout_per_second": batch / rollout,
                     "update_per_second": batch / best_seconds(partial(update, obs, actions), repeats, device)})
    return rows


def write_speed(out: str | Path, rows: list[dict[str, Any]], machine: str,
                command: str = "pbrl bench text --speed") -> Path:
    """``OUT/speed.md``: the speed table the suite's report shows."""
    lines = [f"### Speed of the text policy ({machine})", "",
             "Responses per second of the text policy's rollout (sample a response, its log-probability and the "
             "prompt's value) and of a PPO update (teacher-forced pass, backward, Adam step); best of 5 after a "
             f"warm-up. Measured by `{command}`.", "",
             "| task | device | torch threads | batch | rollout (responses/s) | PPO update (responses/s) |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['task']} | {r['device']} | {r['threads']} | {r['batch']} | {r['rollout_per_second']:,.0f} | "
              f"{r['update_per_second']:,.0f} |" for r in rows]
    path = Path(out) / SPEED_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: f.write(("\n".join(lines) + "\n").encode()))
    return path


EXPLAINED = (
    "Final true return: the mean hidden score (sentiment: VADER compound in [-1, 1]; arithmetic: accuracy) of the "
    "policy's sampled responses to 256 fixed prompts per seed, then mean +- std over seeds; the greedy score and "
    "the KL to the SFT policy are in every seed's table. Normalised score: (R - R_SFT) / (R_PPO - R_SFT) per seed, "
    "where PPO is KL-penalised PPO on the hidden score itself (for arithmetic the verifier: RLVR). Steps are "
    "responses. Wall time: the method's training alone (the shared SFT model and DPO's labels, gathered by the pbrl "
    "cell of the same seed, are not counted).")


def text_table(rows: list[dict[str, Any]]) -> str:
    """The text suite, seed by seed: sampled and greedy hidden score, KL to the SFT policy,
    labels (with how often they agree with the hidden score: diagnostics.label_agreement),
    the learned reward's correlation with the hidden score on the final policy's responses
    (reward hacking shows as a low one), training time and (RL on the hidden score) responses
    trained on per second."""
    lines = ["| task | method | seed | score (sampled) | score (greedy) | KL to SFT | labels | learned reward vs "
             "hidden (corr.) | training | responses/s |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for task in sorted({r["task"] for r in rows}):
        for group in method_groups(rows, task).values():
            for r in group:
                if r.get("error"):
                    lines.append(f"| {short_name(task)} | {label(r)} | {r['seed']} | failed: {r['error'][:100]} "
                                 "| | | | | | |")
                    continue
                speed = f"{r['responses_per_second']:.0f}" if r.get("responses_per_second") else "-"
                labels = str(r.get("labels_used") or "-")
                if r.get("label_agreement") is not None:
                    labels += f" ({r['label_agreement']:.0%} agree)"
                corr = f"{r['reward_corr']:.2f}" if r.get("reward_corr") is not None else "-"
                lines.append(f"| {short_name(task)} | {label(r)} | {r['seed']} | {r['true_return_mean']:.3f} | "
                             f"{r.get('score_greedy', float('nan')):.3f} | {r.get('kl', 0.0):.2f} | "
                             f"{labels} | {corr} | {cell_seconds(r):.0f} s | {speed} |")
    return "\n".join(lines)


def plot_task(rows: list[dict[str, Any]], task: str, path: Path) -> None:
    """No learning curves here: each method's final hidden score and KL to the SFT policy,
    bars over seeds, with the KL target the penalty steers towards."""
    groups = [succeeded(g) for g in method_groups(rows, task).values() if succeeded(g)]
    values = {key: [[r.get(key, 0.0) for r in g] for g in groups] for key in ("true_return_mean", "kl")}
    panels = [plots.BarPanel("hidden score of sampled responses", values["true_return_mean"]),
              plots.BarPanel("KL to the SFT policy", values["kl"], (KL_TARGET, f"KL target {KL_TARGET:g}"))]
    plots.seed_bars([f"{label(g[0])}\n({len(g)} seeds)" for g in groups], panels, path, task)


README_METHODS = {"sft": "SFT policy (the start and the KL reference)", "ppo": "PPO on the hidden score + KL",
                  "rloo": "RLOO on the hidden score + KL", "grpo": "GRPO on the hidden score + KL",
                  "pbrl": "PPO on a reward learned from {labels} comparisons + KL",
                  "pbrl:teacher=judge-lm": "the same, comparisons by SmolLM2 as LM judge",
                  "dpo": "DPO on the same {labels} comparisons (no KL control)"}


def readme_table(rows: list[dict[str, Any]]) -> str:
    """The README's table of the suite: each method's mean hidden score of sampled responses
    over seeds (+- std) and mean KL to the SFT policy, per task (the worst seed beside it)."""
    tasks = sorted({r["task"] for r in rows}, key=lambda t: t != "text/sentiment")
    header = {"text/sentiment": "sentiment: VADER score", "text/arithmetic": "arithmetic: accuracy (RLVR)"}
    lines = ["| method | " + " | ".join(f"{header.get(t, short_name(t))} (worst seed), KL" for t in tasks) + " |",
             "|---|" + "---:|" * len(tasks)]
    keys = sorted({(r["method"], r["labels"]) for r in rows if r["method"] in README_METHODS},
                  key=lambda k: (list(README_METHODS).index(k[0]), k[1]))
    for method, labels in keys:
        cells = []
        for task in tasks:
            group = succeeded([r for r in rows if (r["task"], r["method"], r["labels"]) == (task, method, labels)])
            scores = [r["true_return_mean"] for r in group]
            cells.append(f"{np.mean(scores):.3f} +- {np.std(scores):.3f} ({min(scores):.3f}), "
                         f"{np.mean([r.get('kl', 0.0) for r in group]):.2f}" if group else "-")
        lines.append(f"| {README_METHODS[method].format(labels=labels)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# the suite's report hook (Suite.report): how its scores read, its seed table, bar plot and README table
REPORT = SuiteReport(explained=EXPLAINED, seed_table=text_table, plot_task=plot_task, digits=3,
                     readme_table=readme_table)
