"""Per-env RL hyperparameters.

Sources, taken as facts:
- CartPole-v1 PPO and A2C, Pendulum-v1 PPO, Acrobot-v1 PPO, MountainCarContinuous-v0 PPO: the
  RL Baselines3 Zoo's published settings (rl-baselines3-zoo, hyperparams/ppo.yml and a2c.yml);
  ``lin_X`` in the Zoo means a value decayed linearly from X to 0. MountainCarContinuous needs
  the Zoo's: gSDE exploration from a small initial std (log std -3.29) and gamma 0.9999 on one
  env; with SB3's defaults PPO never reaches the flag and settles on standing still.
- MuJoCo PPO: the Zoo's ``normalize: true`` (VecNormalize on observations and rewards) with
  SB3's PPO defaults except n_steps 512 and batch 64 on 4 envs, which learned HalfCheetah to a
  return of 1000 in 224k steps on this 2-core machine (../shared/FACTS.md); the Zoo's tuned
  MuJoCo entries (20 epochs, 256x256 networks, 1 env) run ~3x slower per step here.
- Atari PPO and A2C (every Atari id, :data:`ATARI`): the Zoo's ``atari`` entries (8 envs x 128
  steps, batches of 256, 4 epochs, learning rate 2.5e-4 and clip range 0.1 both decayed
  linearly, entropy 0.01; A2C on 16 envs with RMSprop as TensorFlow's, eps 1e-5).
- The response game (text): pbrl's own choice (pbrl/text/rl.py).
Ids without an entry use SB3's defaults on 4 envs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def linear(start: float) -> Callable[[float], float]:
    """SB3 schedule decaying linearly from ``start`` (progress 1) to 0 (progress 0)."""

    def schedule(progress_remaining: float) -> float:
        return progress_remaining * start

    return schedule


MUJOCO_PPO: tuple[int, dict[str, Any]] = (4, dict(n_steps=512, batch_size=64, n_epochs=10, learning_rate=3e-4))
NORMALIZE = {"HalfCheetah-v5", "Hopper-v5", "Walker2d-v5", "Swimmer-v5", "Ant-v5", "Reacher-v5",
             "InvertedPendulum-v5", "InvertedDoublePendulum-v5", "Acrobot-v1", "MountainCarContinuous-v0"}

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
    ("ppo", "Pendulum-v1"): (
        4,
        dict(n_steps=1024, gae_lambda=0.95, gamma=0.9, n_epochs=10, ent_coef=0.0, learning_rate=1e-3,
             clip_range=0.2, use_sde=True, sde_sample_freq=4),
    ),
    ("ppo", "Acrobot-v1"): (16, dict(n_steps=256, gae_lambda=0.94, gamma=0.99, n_epochs=4, ent_coef=0.0)),
    ("ppo", "MountainCarContinuous-v0"): (
        1,
        dict(n_steps=8, batch_size=256, gamma=0.9999, learning_rate=7.77e-05, ent_coef=0.00429, clip_range=0.1,
             n_epochs=10, gae_lambda=0.9, max_grad_norm=5, vf_coef=0.19, use_sde=True,
             policy_kwargs=dict(log_std_init=-3.29, ortho_init=False)),
    ),
    **{("ppo", name): MUJOCO_PPO for name in NORMALIZE - {"Acrobot-v1", "MountainCarContinuous-v0"}},
    # the response game: one response per step, so a rollout of 32 envs x 4 steps is 128
    # responses; no discounting (an episode is one step); a small learning rate for an LM
    ("ppo", "ResponseGame-v0"): (32, dict(n_steps=4, batch_size=64, n_epochs=4, learning_rate=1e-4, gamma=1.0,
                                          gae_lambda=1.0, ent_coef=0.0)),
    # RLOO and GRPO: PPO's settings; a rollout of 4 steps per env is one prompt's group of 4
    **{(algo, "ResponseGame-v0"): (32, dict(n_steps=4, batch_size=64, n_epochs=4, learning_rate=1e-4, gamma=1.0,
                                            gae_lambda=1.0, ent_coef=0.0)) for algo in ("rloo", "grpo")},
}


def _atari() -> dict[str, tuple[int, dict[str, Any]]]:
    from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike

    return {"ppo": (8, dict(n_steps=128, n_epochs=4, batch_size=256, learning_rate=linear(2.5e-4),
                            clip_range=linear(0.1), vf_coef=0.5, ent_coef=0.01)),
            "a2c": (16, dict(ent_coef=0.01, vf_coef=0.25,
                             policy_kwargs=dict(optimizer_class=RMSpropTFLike, optimizer_kwargs=dict(eps=1e-5))))}


def atari_defaults(algo: str) -> tuple[int, dict[str, Any]]:
    """(n_envs, keyword arguments) for ``algo`` on any Atari game: the Zoo's ``atari`` entry
    for PPO and A2C, SB3's defaults on 8 envs for the others."""
    n_envs, kwargs = _atari().get(algo, (8, {}))
    return n_envs, dict(kwargs)


def defaults(algo: str, env_id: str) -> tuple[int, dict[str, Any]]:
    """(n_envs, keyword arguments) for ``algo`` on ``env_id`` (``pbrl/`` prefix optional)."""
    name = env_id.split("/", 1)[-1]
    n_envs, kwargs = ZOO.get((algo, name), (4, {}))
    return n_envs, dict(kwargs)


def normalize(env_id: str) -> bool:
    """Whether the Zoo wraps ``env_id`` in VecNormalize (observations and rewards)."""
    return env_id.split("/", 1)[-1] in NORMALIZE
