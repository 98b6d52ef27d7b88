"""The pbrl environment suite: hidden-reward versions of classic control, MuJoCo and Atari.

``import pbrl`` registers every ``pbrl/...`` id with gymnasium (gymnasium 1.x has no
entry-point plugins); ``gym.register_envs(pbrl)`` and ``gym.make("pbrl:pbrl/X")`` work too.
"""

from __future__ import annotations

import gymnasium as gym

from pbrl.envs.factory import MissingDependencyError, dependency_installed, valid_keywords
from pbrl.envs.hidden_reward import HiddenReward, RewardModelLike, TrueReturnInfo
from pbrl.envs.registry import FAMILIES, SUITE, SuiteEntry, entry_for

ENV_IDS: tuple[str, ...] = tuple(entry.id for entry in SUITE)


def register_envs() -> None:
    """Register every pbrl id with gymnasium (idempotent)."""
    for entry in SUITE:
        if entry.id in gym.registry:
            continue
        # Atari's base ids live in ale-py (an optional import); their episodes end on game over.
        # A response game is one step long.
        max_steps = None if entry.family in ("atari", "text") else gym.spec(entry.base_id).max_episode_steps
        gym.register(
            id=entry.id,
            entry_point="pbrl.envs.factory:make_env",
            kwargs={"_pbrl_id": entry.id},
            max_episode_steps=max_steps,
        )


__all__ = [
    "ENV_IDS",
    "FAMILIES",
    "SUITE",
    "HiddenReward",
    "MissingDependencyError",
    "RewardModelLike",
    "SuiteEntry",
    "TrueReturnInfo",
    "dependency_installed",
    "entry_for",
    "register_envs",
    "valid_keywords",
]
