"""Where an Atari policy's learned return comes from: the steps around a point, or the rest.

    python scripts/atari_learned_return_probe.py RUN_DIR POLICY_DIR [POLICY_DIR ...] [--episodes 3]

Plays each policy (a directory holding a run's ``policy.json``, ``policy.pt`` and
``config.json``: the run directory itself, or a copy of those files taken earlier in the run)
for a few episodes, sampling its actions as in training, and rates every step with RUN_DIR's
reward model (the one the agent trained on after its last refit). For each policy it prints
the true and learned return and the episode length, and splits the learned return into the
steps near a point (from 10 steps before the score changes to 3 after) and the rest, with the
rest's mean per step. Two policies from either side of a stretch where the learned return
fell while the true return rose tell whether the agent traded reward near the points (it
changed what happens there) or the level of the reward elsewhere moved under a fixed model.
Read-only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import pbrl  # noqa: F401  (registers the pbrl/... ids)
from pbrl import rl
from pbrl.reward_model import RewardEnsemble

BEFORE, AFTER = 10, 3


def play(policy_dir: Path, model: RewardEnsemble, episodes: int, seed: int) -> list[dict[str, float]]:
    saved = rl.load_policy(policy_dir)
    env = gym.make(saved.env_id, **saved.env_kwargs)
    rows = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + 20_000 + episode)
        frames, actions, true = [], [], []
        done = False
        while not done:
            action, _ = saved.model.predict(obs, deterministic=False)
            frames.append(obs)
            actions.append(action)
            obs, _, terminated, truncated, info = env.step(action)
            true.append(info["true_reward"])
            done = terminated or truncated
        stacked, acts = np.stack(frames), np.stack(actions)
        learned = np.concatenate([model.predict_reward(stacked[i:i + 512], acts[i:i + 512])
                                  for i in range(0, len(stacked), 512)])
        rows.append(split(np.asarray(true, dtype=float), learned.astype(float)))
    env.close()
    return rows


def split(true: np.ndarray, learned: np.ndarray) -> dict[str, float]:
    near = np.zeros(len(true), dtype=bool)
    for i in np.flatnonzero(true != 0):
        near[max(0, i - BEFORE): i + AFTER + 1] = True
    return {"true": true.sum(), "length": len(true), "learned": learned.sum(), "near": learned[near].sum(),
            "rest": learned[~near].sum(), "rest_per_step": learned[~near].mean() if (~near).any() else np.nan,
            "won": int((true > 0).sum()), "lost": int((true < 0).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("policies", type=Path, nargs="+")
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = RewardEnsemble.load(args.run_dir / "reward_model")
    print(f"reward model of {args.run_dir}; near a point: {BEFORE} steps before the score changes to {AFTER} after")
    print("| policy | episodes | true return | won/lost | length | learned return | near points | rest "
          "| rest per step |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for policy in args.policies:
        rows = play(policy, model, args.episodes, args.seed)
        m = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        print(f"| {policy} | {len(rows)} | {m['true']:.1f} | {m['won']:.1f}/{m['lost']:.1f} | {m['length']:.0f} | "
              f"{m['learned']:+.2f} | {m['near']:+.2f} | {m['rest']:+.2f} | {m['rest_per_step']:+.5f} |", flush=True)


if __name__ == "__main__":
    main()
