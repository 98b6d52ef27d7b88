"""True-reward RL on a pbrl env: the baseline every preference-learning run is compared with.

The agent gets the true reward through ``reveal_true_reward=True`` on exactly the env that
preference learning uses (same paper changes, same episode lengths, same hyperparameters).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pbrl import rl
from pbrl.errors import InputError, check_numbers
from pbrl.family import family_for, family_name
from pbrl.progress import Progress


@dataclass(frozen=True)
class BaselineConfig:
    """Configuration of ``pbrl baseline``."""

    env_id: str = "pbrl/CartPole-v1"
    """a registered pbrl id"""
    algo: str = "ppo"
    """ppo or a2c (tuned per-env defaults), or dqn, sac, td3 (SB3 defaults)"""
    steps: int = 40_000
    """environment steps to train for"""
    seed: int = 0
    """seed of envs, policy and evaluation"""
    eval_episodes: int = 10
    """episodes of the final (deterministic) policy whose true return is averaged"""

    def __post_init__(self) -> None:
        rl.check_algo(self.algo)
        if self.steps < 1:
            raise InputError(f"steps must be >= 1, got {self.steps}")
        if self.eval_episodes < 1:
            raise InputError(f"eval_episodes must be >= 1, got {self.eval_episodes}")
        check_numbers(self, seed=">= 0")
        family_name(self.env_id)


def run_baseline(config: BaselineConfig, label: str = "true-reward") -> dict[str, float]:
    """Train ``config.algo`` on the true reward and report the final policy's true return."""
    n_envs, kwargs = family_for(config.env_id).hyperparameters(config.algo, config.env_id)
    venv = rl.wrap_normalize(rl.make_env(config.env_id, config.seed, n_envs, {"reveal_true_reward": True}),
                             config.env_id, kwargs)
    rl.check_algo(config.algo, venv.action_space, config.env_id)
    model = rl.make_algo(config.algo, venv, config.env_id, config.seed)
    start = time.perf_counter()
    progress = Progress(config.steps, label=label)
    model.learn(config.steps, callback=progress)
    seconds = time.perf_counter() - start
    result = rl.final_result(model, config.env_id, config.eval_episodes, config.seed, rl.obs_normaliser(venv), seconds,
                             progress.curve)
    venv.close()
    return result
