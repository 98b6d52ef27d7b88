"""Per-env RL hyperparameters.

CartPole-v1 PPO and A2C are the RL Baselines3 Zoo's published settings
(rl-baselines3-zoo, hyperparams/ppo.yml and a2c.yml, entry ``CartPole-v1``); ``lin_X`` in the
Zoo means a learning rate (or clip range) decayed linearly from X to 0. Ids without an
entry use SB3's defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def linear(start: float) -> Callable[[float], float]:
    """SB3 schedule decaying linearly from ``start`` (progress 1) to 0 (progress 0)."""

    def schedule(progress_remaining: float) -> float:
        return progress_remaining * start

    return schedule


# (n_envs, algorithm keyword arguments)
ZOO: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {
    ("ppo", "CartPole-v1"): (
        8,
        dict(
            n_steps=32,
            batch_size=256,
            gae_lambda=0.8,
            gamma=0.98,
            n_epochs=20,
            ent_coef=0.0,
            learning_rate=linear(0.001),
            clip_range=linear(0.2),
        ),
    ),
    ("a2c", "CartPole-v1"): (8, dict(ent_coef=0.0)),
}


def defaults(algo: str, env_id: str) -> tuple[int, dict[str, Any]]:
    """(n_envs, keyword arguments) for ``algo`` on ``env_id`` (``pbrl/`` prefix optional)."""
    name = env_id.split("/", 1)[-1]
    n_envs, kwargs = ZOO.get((algo, name), (4, {}))
    return n_envs, dict(kwargs)
