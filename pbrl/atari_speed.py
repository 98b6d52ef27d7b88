"""Where an Atari preference-learning run spends its time: ``pbrl bench atari --speed``.

Each part of a run is timed alone on one game (best of a few repeats after a warm-up, on the
device the Atari family uses: CUDA when there is a GPU): stepping the emulators, the policy's
forward pass in the rollout, a PPO update, the reward ensemble's inference (one VecEnv step at
a time, and over a whole rollout at once) and a reward-model fit step. From them follow the
agent steps per second of true-reward PPO and of preference learning at a budget (steps,
labels), and the ratio of their wall times: the parts a run adds to PPO are the reward's
inference at every step and the fits the label schedule asks for (:func:`fit_steps`).
The measured end-to-end ratio is the benchmark cells' (``pbrl bench atari``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pbrl.bench import best_seconds
from pbrl.bench_report import SPEED_FILE
from pbrl.io import atomic_write

GAME = "pbrl/Pong-v5"


def fit_steps(labels: int, initial_fraction: float = 0.1, growth: float = 1.5, epochs: float = 4.0,
              min_steps: int = 50, batch: int = 64, max_labels: int = 3000, validation: float = 1 / math.e) -> int:
    """Gradient steps of every fit of a run that gathers ``labels``: a fit at the first
    ``initial_fraction`` of them, then each time they have grown by ``growth`` (pbrl's
    schedule), each ``max(min_steps, epochs * training labels / batch)`` over at most the
    ``max_labels`` most recent."""
    total, n = 0, max(1, round(initial_fraction * labels))
    while True:
        train = (1 - validation) * min(n, max_labels or n)
        total += max(min_steps, math.ceil(epochs * train / batch))
        if n >= labels:
            return total
        n = min(labels, max(n + 1, math.ceil(n * growth)))


def _fit_rate(model: Any, random_frames: Callable[[int], np.ndarray], repeats: int,
              batch: int | None = None) -> tuple[float, int]:
    """Gradient steps per second of ``model``'s fit (every member on its own batch of pairs of
    25-step clips, as a fit draws them: its own batch size, or ``batch``), and the batch."""
    from pbrl.dataset import PreferenceDataset
    from pbrl.types import Clip, Label, Outcome, Query

    rng = np.random.default_rng(1)
    data = PreferenceDataset(seed=0, validation_fraction=0.0)
    clips = {str(i): Clip(str(i), model.env_id, random_frames(25), np.zeros(25, np.int64), np.zeros(25), 25)
             for i in range(128)}
    for i in range(0, 128, 2):
        query = Query(f"q{i}", (str(i), str(i + 1)))
        data.add(query, Label(query.query_id, Outcome.LEFT), clips)
    t = model._tensors(data)
    batch = batch or min(model._batch_size, model.config.max_batch_steps // 50)
    m = model.config.n_members

    def fit_step() -> None:
        picks = torch.as_tensor(rng.integers(0, len(data), size=(m, batch)), device=model.device)
        loss = model._member_losses(t, picks, crop=True).sum()
        model.optimizer.zero_grad()
        loss.backward()
        model.optimizer.step()

    model.net.train()
    rate = 1 / best_seconds(fit_step, repeats, model.device)
    model.net.eval()
    return rate, batch


def _update_rate(agent: Any, frames_np: np.ndarray, rng: np.random.Generator, batch: int, epochs: int, repeats: int,
                 device: torch.device) -> float:
    """Agent steps per second of PPO's update: a minibatch of ``batch`` frames forward and
    back through the policy and value heads, ``epochs`` times per step."""
    import gymnasium as gym
    from stable_baselines3.common.policies import ActorCriticPolicy

    policy = agent.policy
    assert isinstance(policy, ActorCriticPolicy) and isinstance(agent.action_space, gym.spaces.Discrete)  # Atari's
    frames = torch.as_tensor(frames_np[:batch], device=device)
    actions = torch.as_tensor(rng.integers(0, int(agent.action_space.n), size=batch), device=device)

    def update() -> None:
        values, logp, entropy = policy.evaluate_actions(frames, actions)
        assert entropy is not None  # a categorical policy's
        loss = -logp.mean() - 0.01 * entropy.mean() + values.pow(2).mean()
        policy.optimizer.zero_grad()
        loss.backward()
        policy.optimizer.step()

    return batch / best_seconds(update, repeats, device) / epochs


def _budget_rows(steps: int, budgets: tuple[int, ...], config: Any, seconds: dict[str, float],
                 rates: dict[str, float]) -> list[tuple[str, float, str, str]]:
    """What the parts add up to for ``steps`` agent steps at each label budget, now and before
    (pbrl a56112b: SB3's PPO defaults, fits in batches of 64 pairs on every label)."""
    rows = []
    for labels in budgets:
        fits = fit_steps(labels, epochs=config.epochs, min_steps=config.min_steps, batch=config.batch_size,
                         max_labels=config.max_labels)
        # pbrl rates each VecEnv step as it comes (per_step): over a whole rollout it ran no faster
        total = seconds["ppo"] + steps / rates["per_step"] + fits / rates["fit"]
        rows.append((f"preference learning, {steps:,} steps and {labels:,} labels", steps / total, "agent steps",
                     f"+ reward inference at each step + {fits:,} fit steps: {total / seconds['ppo']:.2f}x PPO's "
                     "wall time"))
    for labels in budgets:
        fits = fit_steps(labels, epochs=config.epochs, min_steps=config.min_steps, batch=64, max_labels=0)
        total = seconds["before"] + steps / rates["per_step"] + fits / rates["fit_before"]
        rows.append((f"before: preference learning, {steps:,} steps and {labels:,} labels", steps / total,
                     "agent steps", f"SB3's PPO defaults, {fits:,} fit steps of 64 pairs on every label: "
                     f"{total / seconds['ppo']:.2f}x the Zoo PPO's wall time"))
    return rows


def measure_speed(env_id: str = GAME, repeats: int = 3, steps: int = 1_000_000, budgets: tuple[int, ...] = (1000, 3300)
                  ) -> list[dict[str, Any]]:
    """The parts' speeds on this machine, and what they make of a run of ``steps`` agent steps
    at each label budget (rows of ``part``, ``per_second``, ``unit``, ``note``)."""
    import gymnasium as gym

    from pbrl import rl
    from pbrl.family import family_for
    from pbrl.reward_config import RewardModelConfig
    from pbrl.reward_model import RewardEnsemble
    from pbrl.reward_nets import torch_device

    family = family_for(env_id)
    device = torch_device(family.device)
    n_envs, kwargs = family.hyperparameters("ppo", env_id)
    venv = rl.make_env(env_id, 0, n_envs)
    agent = rl.make_algo("ppo", venv, env_id, 0)
    rng = np.random.default_rng(0)
    obs = np.asarray(venv.reset())
    rows: list[dict[str, Any]] = []

    def row(part: str, per_second: float, unit: str, note: str = "") -> None:
        rows.append({"part": part, "per_second": per_second, "unit": unit, "note": note})

    def step_envs() -> None:
        for _ in range(32):
            venv.step(np.array([venv.action_space.sample() for _ in range(n_envs)]))

    emulators = 32 * n_envs / best_seconds(step_envs, repeats, device)
    row(f"emulators ({n_envs} envs, random actions)", emulators, "agent steps")
    obs_t = torch.as_tensor(obs, device=device)
    with torch.no_grad():
        rollout = best_seconds(lambda: agent.policy(obs_t), repeats * 5, device)
    row(f"policy forward in the rollout (batch {n_envs})", n_envs / rollout, "agent steps")

    def random_frames(n: int) -> np.ndarray:
        return rng.integers(0, 255, size=(n, *obs.shape[1:])).astype(np.uint8)

    zoo_epochs, zoo_batch = kwargs["n_epochs"], kwargs["batch_size"]
    sb3_epochs, sb3_batch = 10, 64  # SB3's PPO defaults, which pbrl's Atari runs took before the Zoo's
    zoo = _update_rate(agent, random_frames(256), rng, zoo_batch, zoo_epochs, repeats, device)
    row(f"PPO update ({zoo_epochs} epochs of {zoo_batch}, the Zoo's)", zoo, "agent steps")
    before = _update_rate(agent, random_frames(256), rng, sb3_batch, sb3_epochs, repeats, device)
    row(f"PPO update ({sb3_epochs} epochs of {sb3_batch}, SB3's defaults)", before, "agent steps")

    env = gym.make(env_id)
    config = RewardModelConfig().resolved(family.reward_defaults)
    model = RewardEnsemble(env.observation_space, env.action_space, config, env_id=env_id, kind=family.reward_kind,
                           device=family.device)
    rollout_obs = random_frames(n_envs * kwargs["n_steps"])
    no_actions = np.zeros(len(rollout_obs), np.int64)
    per_step = n_envs / best_seconds(lambda: model.predict_reward(obs, no_actions[:n_envs]), repeats * 5, device)
    row(f"reward inference, each step ({n_envs} frames x {model.config.n_members} members)", per_step, "agent steps")
    whole = len(rollout_obs) / best_seconds(lambda: model.predict_reward(rollout_obs, no_actions), repeats, device)
    row(f"reward inference, a whole rollout ({len(rollout_obs)} frames)", whole, "agent steps")

    fit_rate, batch = _fit_rate(model, random_frames, repeats)
    row(f"reward fit step ({model.config.n_members} members x {batch} pairs of 25-step clips)", fit_rate,
        "gradient steps")
    fit_rate_before, before_batch = _fit_rate(model, random_frames, max(1, repeats - 1), batch=64)
    row(f"reward fit step ({model.config.n_members} members x {before_batch} pairs, the batch before)",
        fit_rate_before, "gradient steps")

    ppo = 1 / (1 / rows[0]["per_second"] + 1 / rows[1]["per_second"] + 1 / zoo)
    row("true-reward PPO (emulators + policy + update)", ppo, "agent steps", "the parts above, one after the other")
    emulate_and_act = 1 / rows[0]["per_second"] + 1 / rows[1]["per_second"]
    seconds = {"ppo": steps / ppo, "before": steps * (emulate_and_act + 1 / before)}
    rates = {"per_step": per_step, "fit": fit_rate, "fit_before": fit_rate_before}
    for values in _budget_rows(steps, budgets, config, seconds, rates):
        row(*values)
    venv.close()
    return rows


def write_speed(out: str | Path, rows: list[dict[str, Any]], machine: str, command: str) -> Path:
    """``OUT/speed.md``: the table the suite's report shows."""
    lines = [f"### Where an Atari run's time goes ({machine})", "",
             f"Each part timed alone (best of a few repeats after a warm-up) by `{command}`; the last rows add them "
             "up (pbrl.atari_speed).", "",
             "| part | per second | unit | note |", "|---|---:|---|---|"]
    lines += [f"| {r['part']} | {r['per_second']:,.{2 if r['per_second'] < 10 else 0}f} | {r['unit']} | {r['note']} |"
              for r in rows]
    path = Path(out) / SPEED_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: f.write(("\n".join(lines) + "\n").encode()))
    return path
