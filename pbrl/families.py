"""pbrl's control families: classic control, MuJoCo and Atari (the language-model family is
``pbrl.text.family``). Each is a :class:`pbrl.family.Family` that overrides what differs."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from pbrl.envs.registry import entry_for
from pbrl.errors import InputError
from pbrl.family import Family
from pbrl.hyperparams import atari_defaults
from pbrl.media import SimState
from pbrl.types import Clip

CLIP_SECONDS_MUJOCO = 1.5  # the paper's clip duration for the robotics tasks
ATARI_FPS = 15.0  # Atari clips play at 15 agent steps a second (60 Hz frames, frameskip 4)


class ControlFamily(Family):
    """Simulated control: people see clips re-rendered from the simulator states recorded
    beside them (:class:`pbrl.media.SimState`)."""

    def recording_wrapper(self, people: bool) -> type[gym.Wrapper] | None:
        return SimState if people else None


class ClassicFamily(ControlFamily):
    """Classic control: 25-step clips; the reward model reads the observation alone, r(s),
    because Pendulum's policy gamed an r(s, a) model (200 labels: 3 of 5 seeds failed;
    BENCHMARKS.md)."""

    name = "classic"


class MujocoFamily(ControlFamily):
    """MuJoCo: clips of ~1.5 s of simulated time (the paper), r(s, a) as in the paper."""

    name = "mujoco"
    reward_defaults = {"use_actions": True}

    def clip_length(self, env_id: str, dt: float | None) -> int:
        if dt is None:
            raise InputError(f"{env_id}: the MuJoCo default clip length needs the env's dt")
        return max(1, int(round(CLIP_SECONDS_MUJOCO / dt)))


class AtariFamily(ControlFamily):
    """Atari: the paper's CNN reward model on stacked frames, trained on the most recent
    3,000 labels (the paper's buffer) in batches of 8 pairs (faster per frame on a CPU than
    64: BENCHMARKS.md), its reward given to the agent at the paper's standard deviation of
    0.05, SB3's CnnPolicy with the RL Zoo's Atari settings, both
    on CUDA when there is a GPU; 25-step clips shown to people from their own observations at
    15 frames a second."""

    name = "atari"
    reward_kind = "cnn"
    reward_defaults = {"use_actions": False, "max_labels": 3000, "batch_size": 8, "scale": 0.05}
    device = "auto"

    def hyperparameters(self, algo: str, env_id: str) -> tuple[int, dict[str, Any]]:
        return atari_defaults(algo)

    def policy_class(self, observation_space: gym.Space) -> Any:
        return "CnnPolicy"

    render_after_step = True  # from each step's emulator snapshot, the clip's action, then the screen

    def clip_frames(self, clip: Clip) -> list[np.ndarray] | None:
        # without emulator snapshots: the newest frame of each stacked observation (grey), as RGB
        return [np.repeat(obs[-1][:, :, None], 3, axis=2) for obs in clip.obs[: clip.length]]

    def shown_frame(self, frame: np.ndarray, env_id: str) -> np.ndarray:
        """The game's colour frame with the score areas blanked, as the agent's observations are."""
        frame = np.array(frame, copy=True)
        for y0, y1, x0, x1 in entry_for(env_id).score_regions:  # given in the 210x160 frame
            frame[y0:y1, x0:x1] = 0
        return frame

    def frame_rate(self, env_id: str, env: gym.Env | None = None) -> float:
        return ATARI_FPS


CLASSIC = ClassicFamily()
MUJOCO = MujocoFamily()
ATARI = AtariFamily()
