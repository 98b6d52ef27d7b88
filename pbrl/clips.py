"""Cut the rollouts of a VecEnv into fixed-length clips, kept in a bounded pool."""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from pbrl.errors import InputError, UnknownNameError
from pbrl.family import family_for
from pbrl.types import Clip, frame_strip, stacked_views


def default_clip_length(env_id: str, dt: float | None = None) -> int:
    """The family's default steps per clip: ~1.5 s of simulated time for MuJoCo, 25 steps for
    Atari and classic control, 1 for text (a response game's episode is one step)."""
    return family_for(env_id).clip_length(env_id, dt)


class ClipRecorder(VecEnvWrapper):
    """Record clips of ``clip_length`` steps from every sub-env into a bounded pool.

    Each episode is cut into consecutive windows; a window cut short by a termination is
    kept, padded (the absorbing state after termination has reward 0), one cut short by a
    truncation is dropped. Observations, actions and true rewards (``info["true_reward"]``)
    are kept, and the simulator state before each step where the env reports one
    (``info["sim_state"]``, from :class:`pbrl.media.SimState`); frames are not: people see
    queried clips rendered afterwards from those states, so training pays no rendering cost.

    :param venv: the env to record (below any observation normalisation: clips keep raw obs).
    :param env_id: the pbrl id, stored in each clip.
    :param clip_length: steps per clip.
    :param pool_size: how many recent clips are kept as query candidates.
    :param id_prefix: put before each clip's number (a resumed run's clips get new ids).
    """

    def __init__(self, venv: VecEnv, env_id: str, clip_length: int, pool_size: int = 2000, id_prefix: str = "") -> None:
        super().__init__(venv)
        if clip_length < 1:
            raise InputError(f"clip_length must be >= 1, got {clip_length}")
        self.env_id = env_id
        self.id_prefix = id_prefix
        self.clip_length = clip_length
        self.pool: deque[Clip] = deque(maxlen=pool_size)
        self.total_steps = 0
        self.clips_made = 0
        self._obs: Any = None
        self._actions: np.ndarray | None = None
        self._buffers: list[list[tuple[Any, Any, float, Any, Any, str | None]]] = [[] for _ in range(self.num_envs)]

    def reset(self) -> VecEnvObs:
        obs = self.venv.reset()
        self._obs = obs
        self._buffers = [[] for _ in range(self.num_envs)]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)
        self.venv.step_async(actions)

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, dones, infos = self.venv.step_wait()
        # pbrl's envs observe arrays (no dict or tuple spaces); step_async came first
        assert isinstance(obs, np.ndarray) and self._actions is not None
        self.total_steps += self.num_envs
        for i in range(self.num_envs):
            true_reward = infos[i].get("true_reward")
            if true_reward is None:
                raise UnknownNameError(
                    f"{self.env_id}: info has no 'true_reward'; ClipRecorder records pbrl envs "
                    "(gym.make('pbrl/...')), whose info carries the hidden true reward"
                )
            buffer = self._buffers[i]
            reached = infos[i]["terminal_observation"] if dones[i] and "terminal_observation" in infos[i] else obs[i]
            # the response game's clips carry their text
            text = f"{infos[i]['prompt']}\n{infos[i]['response']}" if "response" in infos[i] else None
            buffer.append((self._obs[i], self._actions[i], float(true_reward), reached, infos[i].get("sim_state"),
                           text))
            if len(buffer) == self.clip_length:
                self._emit(buffer)
                self._buffers[i] = []
            elif dones[i]:
                truncated = infos[i].get("TimeLimit.truncated", False)
                if buffer and not truncated:
                    self._emit(buffer)
                self._buffers[i] = []
        self._obs = obs
        return obs, rewards, dones, infos

    def _emit(self, buffer: list[tuple[Any, Any, float, Any, Any, str | None]]) -> None:
        length = len(buffer)
        obs = np.stack([b[0] for b in buffer])
        actions = np.stack([np.asarray(b[1]) for b in buffer])
        rewards = np.array([b[2] for b in buffer], dtype=np.float64)
        next_obs = np.stack([np.asarray(b[3], dtype=obs.dtype) for b in buffer])
        states = np.stack([b[4] for b in buffer]) if buffer[0][4] is not None else None
        text = "\n\n".join(b[5] for b in buffer if b[5] is not None) if buffer[0][5] is not None else None
        pad = self.clip_length - length
        if pad and states is not None:
            states = np.concatenate([states, np.repeat(states[-1:], pad, axis=0)])
        frames = None if pad else frame_strip(obs, next_obs)
        if frames is not None:  # stacked frames: the clip holds each frame once, its stacks are views
            obs, next_obs = stacked_views(frames, obs.shape[1])
        if pad:
            next_obs = np.concatenate([next_obs, np.zeros((pad, *obs.shape[1:]), obs.dtype)])
            obs = np.concatenate([obs, np.zeros((pad, *obs.shape[1:]), obs.dtype)])
            actions = np.concatenate([actions, np.zeros((pad, *actions.shape[1:]), actions.dtype)])
            rewards = np.concatenate([rewards, np.zeros(pad)])
        self.pool.append(
            Clip(
                clip_id=f"{self.id_prefix}{self.clips_made}",
                env_id=self.env_id,
                obs=obs,
                actions=actions,
                true_rewards=rewards,
                length=length,
                step=self.total_steps,
                next_obs=next_obs,
                states=states,
                text=text,
            )
        )
        self.clips_made += 1

    def recent(self, n: int) -> list[Clip]:
        """The ``n`` most recent clips of the pool."""
        return list(self.pool)[-n:]
