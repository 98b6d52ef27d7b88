"""What the reward members read: steps (observation, action) turned into their input.

Each member kind (:data:`pbrl.reward_nets.MEMBERS`) pairs its networks with an
:class:`Encoder`: the MLP's normalises observations and appends actions, the CNN's keeps
frames as uint8 and scales them per minibatch, the text kind's (``pbrl.text.reward``) joins
prompt and response ids. The ensemble calls the encoder and never asks which kind it has.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeGuard

import gymnasium as gym
import numpy as np
import torch

from pbrl.errors import UnsupportedError
from pbrl.reward_config import RewardModelConfig


def is_image_space(space: gym.Space) -> TypeGuard[gym.spaces.Box]:
    """Stacked uint8 frames ``[C, H, W]`` (Atari), what the CNN members read."""
    return isinstance(space, gym.spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3


def is_text_space(observation_space: gym.Space, action_space: gym.Space) -> TypeGuard[gym.spaces.Box]:
    """The response game's spaces: prompt ids (an integer Box) and a MultiDiscrete response
    (the type checker learns the observation space's type from it)."""
    return (isinstance(action_space, gym.spaces.MultiDiscrete) and isinstance(observation_space, gym.spaces.Box)
            and np.issubdtype(observation_space.dtype, np.integer))


def _dims(space: gym.Space) -> tuple[int, ...]:
    """The shape of a space a reward model reads (Box, Discrete, MultiDiscrete: never None)."""
    if space.shape is None:
        raise UnsupportedError(f"pbrl reward models support Box, Discrete and MultiDiscrete spaces, not {space}")
    return space.shape


class Encoder:
    """Turns N steps into a member stack's input ``[N, ...]``.

    ``obs_mean`` / ``obs_std`` are the observation statistics every checkpoint holds (its
    format has them for every kind); only :class:`VectorEncoder` learns and uses them.

    :param observation_space: the env's observation space.
    :param action_space: the env's action space.
    :param config: the ensemble's (resolved) settings.
    """

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, config: RewardModelConfig) -> None:
        obs_dim = int(np.prod(_dims(observation_space)))
        self.obs_mean = np.zeros(obs_dim, np.float32)
        self.obs_std = np.ones(obs_dim, np.float32)

    def features(self, obs: np.ndarray, actions: np.ndarray) -> torch.Tensor:
        """The members' input for N (observation, action) steps, ``[N, ...]``."""
        raise NotImplementedError

    def stored(self, obs: np.ndarray, actions: np.ndarray) -> torch.Tensor:
        """The form a fit keeps its whole dataset in; :meth:`batch` turns a minibatch of it into
        input. The features themselves unless they are much larger than the data."""
        return self.features(obs, actions)

    def batch(self, x: torch.Tensor) -> torch.Tensor:
        """A minibatch of :meth:`stored` rows as the members' input."""
        return x

    def observe(self, observations: Iterable[np.ndarray]) -> None:
        """Update input statistics from the observations a fit sees (arrays ``[n, ...]``; an
        iterable, so that kinds without statistics never gather them)."""


class VectorEncoder(Encoder):
    """The MLP's input: the observation flattened and standardised (statistics of the labelled
    and recent clips, refreshed at each fit), then the action (one-hot where Discrete) when
    ``config.use_actions``."""

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, config: RewardModelConfig) -> None:
        super().__init__(observation_space, action_space, config)
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        if isinstance(action_space, gym.spaces.Discrete):
            act_dim = int(action_space.n)
        else:
            act_dim = int(np.prod(_dims(action_space)))
        self.act_dim = act_dim if config.use_actions else 0
        self.width = len(self.obs_mean) + self.act_dim  # the input width

    def features(self, obs: np.ndarray, actions: np.ndarray) -> torch.Tensor:
        n = len(obs)
        x = (np.asarray(obs, np.float32).reshape(n, -1) - self.obs_mean) / self.obs_std
        if not self.act_dim:
            return torch.from_numpy(x)
        if self.discrete:
            a = np.zeros((n, self.act_dim), np.float32)
            a[np.arange(n), np.asarray(actions).reshape(n).astype(np.int64)] = 1.0
        else:
            a = np.asarray(actions, np.float32).reshape(n, -1)
        return torch.from_numpy(np.concatenate([x, a], axis=1))

    def observe(self, observations: Iterable[np.ndarray]) -> None:
        arrays = list(observations)
        if not arrays:
            return
        obs = np.concatenate(arrays).reshape(-1, len(self.obs_mean)).astype(np.float64)
        self.obs_mean = obs.mean(0).astype(np.float32)
        self.obs_std = np.maximum(obs.std(0), 1e-3).astype(np.float32)


class ImageEncoder(Encoder):
    """The CNN's input: uint8 frames scaled to [0, 1]. A fit keeps its dataset as uint8 (4x
    smaller than float) and scales each minibatch."""

    def features(self, obs: np.ndarray, actions: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(obs), dtype=torch.float32) / 255.0

    def stored(self, obs: np.ndarray, actions: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(obs))

    def batch(self, x: torch.Tensor) -> torch.Tensor:
        return x.float() / 255.0
