"""True-reward RL on a pbrl env: the baseline every preference-learning run is compared with.

The agent gets the true reward through ``reveal_true_reward=True`` on exactly the env that
preference learning uses (same paper changes, same episode lengths).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

import pbrl  # noqa: F401  (registers the ids)
from pbrl.hyperparams import defaults

ALGOS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "a2c": A2C}


@dataclass(frozen=True)
class BaselineConfig:
    """Configuration of ``pbrl baseline``."""

    env_id: str = "pbrl/CartPole-v1"
    """a registered pbrl id"""
    algo: str = "ppo"
    """ppo or a2c"""
    steps: int = 40_000
    """environment steps to train for"""
    seed: int = 0
    """seed of envs, policy and evaluation"""
    eval_episodes: int = 10
    """episodes of the final (deterministic) policy whose true return is averaged"""

    def __post_init__(self) -> None:
        if self.algo not in ALGOS:
            raise ValueError(f"unknown algorithm {self.algo!r}; choose one of {', '.join(ALGOS)}")
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.eval_episodes < 1:
            raise ValueError(f"eval_episodes must be >= 1, got {self.eval_episodes}")
        pbrl.envs.entry_for(self.env_id)


class _Progress(BaseCallback):
    """One status line every ``every`` steps: steps done, steps/s, mean true return."""

    def __init__(self, total: int, every: int) -> None:
        super().__init__()
        self.total, self.every, self.next = total, every, every
        self.start = time.perf_counter()

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.next:
            self.next += self.every
            rate = self.num_timesteps / (time.perf_counter() - self.start)
            returns = [ep["r"] for ep in self.model.ep_info_buffer]
            mean = f"{np.mean(returns):.1f}" if returns else "-"
            print(f"  {self.num_timesteps:>8,}/{self.total:,} steps  {rate:,.0f} steps/s  true return (last 100 ep) {mean}", flush=True)
        return True


def evaluate_true_return(model: BaseAlgorithm, env_id: str, episodes: int, seed: int) -> list[float]:
    """True return of ``model``'s deterministic policy over ``episodes`` episodes."""
    env = gym.make(env_id)
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + 10_000 + episode)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, _, terminated, truncated, info = env.step(action)
            total += info["true_reward"]
            done = terminated or truncated
        returns.append(total)
    env.close()
    return returns


def run_baseline(config: BaselineConfig) -> dict[str, float]:
    """Train ``config.algo`` on the true reward and report the final policy's true return."""
    torch.set_num_threads(1)  # see FACTS: 2 threads collapse SB3 throughput on 2 cores
    n_envs, kwargs = defaults(config.algo, config.env_id)
    venv = make_vec_env(config.env_id, n_envs=n_envs, seed=config.seed, env_kwargs={"reveal_true_reward": True})
    model = ALGOS[config.algo]("MlpPolicy", venv, seed=config.seed, device="cpu", verbose=0, **kwargs)
    start = time.perf_counter()
    model.learn(config.steps, callback=_Progress(config.steps, every=max(config.steps // 10, 1)))
    seconds = time.perf_counter() - start
    returns = evaluate_true_return(model, config.env_id, config.eval_episodes, config.seed)
    venv.close()
    return {
        "true_return_mean": float(np.mean(returns)),
        "true_return_std": float(np.std(returns)),
        "train_seconds": seconds,
        "steps": float(model.num_timesteps),
    }
