"""RLOO and GRPO: PPO's clipped policy loss with a group baseline instead of a value network.

For one-step episodes (the response game: a prompt, a response, a reward) whose env answers
each prompt ``K`` times in a row (``group_size``), the ``K`` rewards of a prompt are each
other's baseline:

- **RLOO** (Ahmadian et al. 2024, "Back to Basics"; TRL's ``RLOOTrainer``): the advantage of
  response ``i`` is ``r_i - mean_{j != i} r_j = K / (K - 1) * (r_i - mean_j r_j)``.
- **GRPO** (Shao et al. 2024, DeepSeekMath; TRL's ``GRPOTrainer``): ``(r_i - mean_j r_j) /
  (std_j r_j + 1e-4)``, the group-normalised reward.

The KL to the reference policy stays in the reward (``pbrl.text.rl.KLPenalty``: ``r - beta *
KL``, k1 or k3), as in TRL's RLOO; DeepSeekMath puts a k3 KL in GRPO's loss instead, which
differs in where the penalty's gradient enters, not in what it pulls towards. The value head
is not trained (``vf_coef = 0``) and advantages are not normalised again per minibatch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3 import PPO

from pbrl.errors import InputError

BASELINES = ("rloo", "grpo")


def group_advantages(rewards: np.ndarray, group_size: int, baseline: str) -> np.ndarray:
    """Advantages of ``rewards [steps, envs]`` whose ``group_size`` consecutive steps of each
    env answer one prompt (``steps`` a multiple of ``group_size``)."""
    steps, envs = rewards.shape
    if group_size < 2 or steps % group_size:
        raise InputError(f"group baselines need groups of >= 2 responses that fill a rollout: n_steps {steps} is not "
                         f"a multiple of group_size {group_size}")
    r = rewards.reshape(steps // group_size, group_size, envs).astype(np.float64)
    centred = r - r.mean(axis=1, keepdims=True)
    if baseline == "rloo":
        advantages = centred * group_size / (group_size - 1)
    elif baseline == "grpo":
        advantages = centred / (r.std(axis=1, keepdims=True) + 1e-4)
    else:
        raise InputError(f"unknown group baseline {baseline!r}; choose one of {', '.join(BASELINES)}")
    return advantages.reshape(steps, envs)


class GroupPPO(PPO):
    """PPO whose advantages are a group baseline's (:func:`group_advantages`); the group size
    is the env's ``group_size`` (responses per prompt in a row)."""

    baseline = "rloo"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("vf_coef", 0.0)
        kwargs["normalize_advantage"] = False
        super().__init__(*args, **kwargs)
        assert self.env is not None  # PPO was given an env
        sizes = set(self.env.get_attr("group_size"))
        if len(sizes) != 1 or min(sizes) < 2:
            raise InputError(f"{self.baseline} needs every env to answer each prompt >= 2 times in a row "
                             f"(group_size), got {sorted(sizes)}")
        self.group_size = sizes.pop()
        if self.n_steps % self.group_size:
            raise InputError(f"{self.baseline}: n_steps {self.n_steps} must be a multiple of group_size "
                             f"{self.group_size}, so that a rollout holds whole groups")

    def train(self) -> None:
        buffer = self.rollout_buffer
        advantages = group_advantages(buffer.rewards, self.group_size, self.baseline)
        buffer.advantages = advantages.astype(np.float32)
        buffer.returns = (advantages + buffer.values).astype(np.float32)  # unused: the value loss weighs 0
        super().train()


class RLOO(GroupPPO):
    baseline = "rloo"


class GRPO(GroupPPO):
    baseline = "grpo"
