"""Atari preprocessing and the paper's changes: no done signal, score areas blanked.

Christiano et al. 2017 send neither life losses nor episode ends to the agent (both tell it
about the reward) and blank the score area of the screen (for BeamRider also the enemy count,
for Enduro the speedometer). pbrl keeps life losses silent (no life-loss termination), turns
the game-over into a truncation (the agent bootstraps through it as if the game went on, and
the env resets), and blanks the score areas listed in :mod:`pbrl.envs.registry`.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np


class BlankRegions(gym.ObservationWrapper):
    """Set screen areas of an image observation to 0 (black).

    Regions are given in the 210x160 Atari frame and scaled (outwards) to the observation's
    height and width, so the wrapper works on raw frames and on 84x84 resized frames alike.

    :param env: an env with an image observation ``[H, W]`` or ``[H, W, C]``.
    :param regions: ``(y0, y1, x0, x1)`` rectangles in a ``frame_shape`` frame.
    :param frame_shape: the (height, width) the regions are given in.
    """

    def __init__(
        self,
        env: gym.Env,
        regions: tuple[tuple[int, int, int, int], ...],
        frame_shape: tuple[int, int] = (210, 160),
    ) -> None:
        super().__init__(env)
        assert isinstance(env.observation_space, gym.spaces.Box)  # the emulator's frames
        h, w = env.observation_space.shape[:2]
        sy, sx = h / frame_shape[0], w / frame_shape[1]
        self.slices = [
            (slice(int(np.floor(y0 * sy)), int(np.ceil(y1 * sy))), slice(int(np.floor(x0 * sx)), int(np.ceil(x1 * sx))))
            for y0, y1, x0, x1 in regions
        ]

    def observation(self, observation: np.ndarray) -> np.ndarray:
        observation = np.array(observation, copy=True)
        for rows, cols in self.slices:
            observation[rows, cols] = 0
        return observation


class GameOverAsTruncation(gym.Wrapper):
    """Report the end of a game as a truncation, never as a termination.

    A termination tells the agent that no more reward follows, which leaks reward
    information; a truncation makes SB3 bootstrap through the reset as if play went on.
    ``info["game_over"]`` records the real event for logging.
    """

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["game_over"] = bool(terminated)
        return obs, reward, False, bool(terminated or truncated), info
