"""The learned reward as one VecEnvWrapper: the agent gets the reward model's prediction."""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from pbrl.errors import InputError


class LearnedReward(VecEnvWrapper):
    """Replace the reward with ``model.predict_reward(obs, actions)``, batched over sub-envs.

    The true reward stays in ``info["true_reward"]``; the learned one is copied to
    ``info["learned_reward"]``, and the learned return of finished episodes is kept in
    ``episode_returns`` for logging.

    :param venv: the env (its reward is ignored).
    :param model: anything with ``predict_reward(obs[N, ...], actions[N, ...]) -> [N]``;
        it may be replaced later (``wrapper.model = new_model``).
    """

    def __init__(self, venv: VecEnv, model: Any) -> None:
        super().__init__(venv)
        self.model = model
        self._obs: VecEnvObs | None = None
        self._actions: np.ndarray | None = None
        self._running = np.zeros(self.num_envs)
        self.episode_returns: list[float] = []

    def reset(self) -> VecEnvObs:
        self._obs = self.venv.reset()
        self._running[:] = 0.0
        return self._obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)
        self.venv.step_async(actions)

    def step_wait(self) -> VecEnvStepReturn:
        obs, _, dones, infos = self.venv.step_wait()
        if getattr(self.model, "needs_next_obs", False):  # an r(s') model rates where the step led
            reached = np.array([info["terminal_observation"] if done and "terminal_observation" in info else o
                                for o, done, info in zip(obs, dones, infos, strict=True)])
            predicted = self.model.predict_reward(self._obs, self._actions, reached)
        else:
            predicted = self.model.predict_reward(self._obs, self._actions)
        rewards = np.asarray(predicted, dtype=np.float32).reshape(self.num_envs)
        if not np.all(np.isfinite(rewards)):
            raise InputError("the reward model predicted a non-finite reward; its checkpoint or inputs are broken")
        self._running += rewards
        for i, info in enumerate(infos):
            info["learned_reward"] = float(rewards[i])
            if dones[i]:
                self.episode_returns.append(float(self._running[i]))
                self._running[i] = 0.0
        self._obs = obs
        return obs, rewards, dones, infos
