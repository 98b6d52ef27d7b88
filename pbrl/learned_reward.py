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
    ``episode_returns`` for logging: only episodes rated from start to end by the current
    reward, since the returns of two reward models are on different scales and levels (a mean
    over the last 100 episodes that spanned a refit would drift from the old model's level to
    the new one's for as long as 100 episodes take, with the agent doing nothing).

    :param venv: the env (its reward is ignored).
    :param model: anything with ``predict_reward(obs[N, ...], actions[N, ...]) -> [N]``;
        it may be replaced later (``wrapper.model = new_model``; after a fit in place, call
        :meth:`reward_changed`).
    """

    def __init__(self, venv: VecEnv, model: Any) -> None:
        super().__init__(venv)
        self._model = model
        self._obs: VecEnvObs | None = None
        self._actions: np.ndarray | None = None
        self._running = np.zeros(self.num_envs)
        self._steps = np.zeros(self.num_envs, dtype=np.int64)  # rated steps of each running episode
        self._mixed = np.zeros(self.num_envs, dtype=bool)  # episodes begun under an earlier reward
        self.episode_returns: list[float] = []

    @property
    def model(self) -> Any:
        return self._model

    @model.setter
    def model(self, model: Any) -> None:
        self._model = model
        self.reward_changed()

    def reward_changed(self) -> None:
        """The reward is another from now on: forget the learned returns of finished episodes
        and leave out those of the running ones (an episode that has not stepped yet is rated by
        the new reward alone)."""
        self.episode_returns.clear()
        self._mixed |= self._steps > 0

    def reset(self) -> VecEnvObs:
        self._obs = self.venv.reset()
        self._running[:] = 0.0
        self._steps[:] = 0
        self._mixed[:] = False
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
        self._steps += 1
        for i, info in enumerate(infos):
            info["learned_reward"] = float(rewards[i])
            if dones[i]:
                if not self._mixed[i]:
                    self.episode_returns.append(float(self._running[i]))
                self._running[i], self._steps[i], self._mixed[i] = 0.0, 0, False
        self._obs = obs
        return obs, rewards, dones, infos
