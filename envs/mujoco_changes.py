"""The paper's changes to the MuJoCo tasks, and fast headless rendering.

Christiano et al. 2017 (appendix A.1) remove what leaks the reward or is trivially
specified: episodes that end when the body falls tell the agent it did badly, so early
termination is replaced by a penalty and every episode has the same length; torque
(control) penalties are removed (pbrl sets the base env's control-cost weight to 0).
"""

from __future__ import annotations

import os
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

# Headless rendering: EGL renders on the CPU through Mesa with the base image's libraries
# (libegl1, libgl1-mesa-dri) and needs no display; osmesa and glfw are the alternatives.
os.environ.setdefault("MUJOCO_GL", "egl")


class TerminationPenalty(gym.Wrapper):
    """Replace early termination by a per-step penalty: fixed-length episodes.

    While the base env reports ``terminated`` (the body has fallen, the pole is down), the
    episode goes on and ``penalty`` is subtracted from the true reward at each such step;
    ``info["would_terminate"]`` says so. Only truncation (the time limit) ends an episode.

    :param env: a MuJoCo env whose ``terminated`` flag means "unhealthy".
    :param penalty: subtracted from the true reward on each step the base env would end.
    """

    def __init__(self, env: gym.Env, penalty: float) -> None:
        super().__init__(env)
        self.penalty = float(penalty)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["would_terminate"] = bool(terminated)
        if terminated:
            reward = float(reward) - self.penalty
        return obs, reward, False, truncated, info


class FastRender(gym.Wrapper):
    """Turn off shadows and reflections in MuJoCo's offscreen renderer.

    On a CPU (Mesa) renderer this makes ``render()`` about 3x faster (HalfCheetah 480x480:
    20 -> 62 frames/s measured here) and changes nothing the rater needs to see.
    """

    def render(self) -> Any:
        frame = self.env.render()
        unwrapped = self.env.unwrapped
        renderer = getattr(unwrapped, "mujoco_renderer", None)
        if renderer is not None and not getattr(self, "_flags_set", False) and unwrapped.render_mode == "rgb_array":
            import mujoco

            # gymnasium exposes no public handle on the scene; the viewer exists after one render.
            viewer = renderer._get_viewer(unwrapped.render_mode)
            viewer.scn.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
            viewer.scn.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
            self._flags_set = True
            frame = self.env.render()
        return np.ascontiguousarray(frame) if frame is not None else frame
