"""The preference-learning reward interface: the agent does not see the true reward.

``HiddenReward`` gives the agent 0.0 (or the reward of a learned model, or, for baselines,
the true reward), and puts the true reward in ``info["true_reward"]``. Episode statistics
written by SB3's ``Monitor`` or gymnasium's ``RecordEpisodeStatistics`` (``info["episode"]``,
hence SB3's ``ep_rew_mean``) report the **true** return, so every training curve shows real
progress whatever reward the agent was trained on; the return the agent itself received is
kept beside it as ``info["episode"]["agent_r"]``.
"""

from __future__ import annotations

import copy
import importlib
import math
import os
from collections.abc import Callable
from typing import Any, Protocol, SupportsFloat, runtime_checkable

import gymnasium as gym
import numpy as np

from pbrl.errors import InputError, MissingFileError, UnsupportedError


@runtime_checkable
class RewardModelLike(Protocol):
    """What the ``reward_model=`` hook accepts besides a path: batched reward prediction.

    ``predict_reward(obs, actions)`` takes arrays with a leading batch dimension
    (``obs[N, *obs_shape]``, ``actions[N, *action_shape]``) and returns ``rewards[N]``.
    A plain callable with the same signature works too.
    """

    def predict_reward(self, obs: np.ndarray, actions: np.ndarray) -> np.ndarray: ...


RewardFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


class TrueReturnInfo(dict):
    """An ``info`` dict whose ``"episode"`` entry always reports the true return.

    Episode monitors (SB3 ``Monitor``, gymnasium ``RecordEpisodeStatistics``) sum the reward
    the agent receives and write ``info["episode"] = {"r": ..., "l": ..., ...}`` at the end of
    an episode. For a hidden-reward env that sum is 0, so this dict swaps ``"r"`` for the
    true return accumulated by :class:`HiddenReward` and keeps the monitor's sum as
    ``"agent_r"``. It behaves as a plain dict in every other respect.
    """

    true_return: float | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> TrueReturnInfo:
        # SB3's DummyVecEnv deep-copies every info; the generic path for dict subclasses is slow
        new = TrueReturnInfo()
        new.true_return = self.true_return
        for key, value in self.items():
            dict.__setitem__(new, key, copy.deepcopy(value, memo))
        return new

    def __setitem__(self, key: str, value: Any) -> None:
        if (
            key == "episode"
            and isinstance(value, dict)
            and "r" in value
            and "agent_r" not in value  # already swapped (a wrapper may set it again)
            and self.true_return is not None
        ):
            value = {**value, "agent_r": value["r"], "r": round(self.true_return, 6)}
        super().__setitem__(key, value)


def _check_finite(what: str, value: Any, env_id: str) -> None:
    arr = np.asarray(value)
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise InputError(
            f"{env_id}: the environment returned a non-finite {what} ({arr.ravel()[:8]}...); "
            "a NaN or inf would corrupt the reward model and the policy. Check the env's "
            "dynamics or action bounds (clip actions to the action space)."
        )


def load_reward_model(path: str | os.PathLike[str]) -> Any:
    """Load a saved reward model (a run directory or checkpoint)."""
    if not os.path.exists(path):
        raise MissingFileError(
            f"reward_model={str(path)!r}: no such file or directory. Pass a run directory "
            "written by `pbrl train`, a reward-model checkpoint, or an object with "
            "predict_reward(obs, actions)."
        )
    # named by string and imported only here: envs/ import no learning code (torch) at module level
    return importlib.import_module("pbrl.reward_model").load_reward_model(path)


def as_reward_fn(reward_model: Any) -> RewardFn:
    """Turn the ``reward_model=`` argument (model object or callable) into a function."""
    if isinstance(reward_model, RewardModelLike):
        return reward_model.predict_reward
    if callable(reward_model):
        return reward_model
    raise UnsupportedError(
        f"reward_model must be a path, an object with predict_reward(obs, actions) or a "
        f"callable(obs, actions) -> rewards; got {type(reward_model).__name__}"
    )


class HiddenReward(gym.Wrapper):
    """Hide the reward from the agent; report the true reward in ``info["true_reward"]``.

    Example:
        >>> import gymnasium as gym, pbrl
        >>> env = gym.make("pbrl/CartPole-v1")
        >>> _ = env.reset(seed=0)
        >>> _, reward, _, _, info = env.step(0)
        >>> reward, info["true_reward"]
        (0.0, 1.0)

    :param env: the env whose reward is hidden.
    :param env_id: the pbrl id, used in error messages.
    :param reward_model: None (the agent gets 0.0), or a learned reward: a path, an object
        with ``predict_reward(obs, actions)``, or a callable with that signature. It is
        evaluated on the observation the action was taken in and the action.
    :param reveal_true_reward: give the agent the true reward (true-reward baselines run on
        exactly the same env).
    """

    def __init__(
        self,
        env: gym.Env,
        env_id: str,
        reward_model: Any = None,
        reveal_true_reward: bool = False,
    ) -> None:
        super().__init__(env)
        if reward_model is not None and reveal_true_reward:
            raise InputError(
                f"{env_id}: reward_model and reveal_true_reward=True both choose the reward the "
                "agent gets; pass one of them."
            )
        self._env_id = env_id
        if isinstance(reward_model, (str, os.PathLike)):
            reward_model = load_reward_model(reward_model)
        if hasattr(reward_model, "check_spaces"):
            reward_model.check_spaces(env.observation_space, env.action_space, where=env_id)
        self._reward_fn = as_reward_fn(reward_model) if reward_model is not None else None
        self._needs_next_obs = bool(getattr(reward_model, "needs_next_obs", False))
        self._reveal = reveal_true_reward
        self._last_obs: Any = None
        self._true_return = 0.0

    def _learned_reward(self, args: tuple[np.ndarray, ...]) -> float:
        """The reward model's value for one step: one finite number, else an error that says
        whether the model or its (finite, checked) inputs are to blame."""
        assert self._reward_fn is not None
        try:
            predicted = np.asarray(self._reward_fn(*args), dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise UnsupportedError(f"{self._env_id}: the reward model's output is not numbers ({exc}); it must return "
                                   "one reward per row of its batch of 1 (shape (1,))") from None
        if predicted.size != 1:
            raise UnsupportedError(
                f"{self._env_id}: the reward model returned shape {predicted.shape} for a batch of 1 step; it must "
                "return one reward per row of obs (shape (1,) here)")
        reward = float(predicted.reshape(-1)[0])
        if not math.isfinite(reward):
            raise InputError(f"{self._env_id}: the reward model returned {reward} for a finite observation and "
                             "action; the model is at fault (its weights hold NaN or inf, or it divides by zero)")
        return reward

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        _check_finite("observation", obs, self._env_id)
        self._last_obs = obs
        self._true_return = 0.0
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, true_reward, terminated, truncated, info = self.env.step(action)
        true_reward = float(true_reward)
        if not math.isfinite(true_reward):
            _check_finite("reward", true_reward, self._env_id)
        _check_finite("observation", obs, self._env_id)
        if self._reveal:
            reward = true_reward
        elif self._reward_fn is not None:
            args: tuple[np.ndarray, ...] = (np.asarray(self._last_obs)[None], np.asarray(action)[None])
            if self._needs_next_obs:  # a model that rates the observation the step led to
                args = (*args, np.asarray(obs)[None])
            reward = self._learned_reward(args)
        else:
            reward = 0.0
        self._true_return += true_reward
        self._last_obs = obs
        info = TrueReturnInfo(info)
        info.true_return = self._true_return
        info["true_reward"] = true_reward
        return obs, reward, terminated, truncated, info
