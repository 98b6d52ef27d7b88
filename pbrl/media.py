"""What people see of a clip: frames rendered after the fact, only for queried clips.

Training envs never render. When people will rate, :class:`SimState` puts the simulator
state before each step into ``info["sim_state"]`` (a copy of a few numbers: MuJoCo's qpos and
qvel, classic control's ``state``; Atari's emulator snapshot, 8 KB), the clip recorder keeps
it with the clip, and :class:`MediaWriter` restores those states in one rendering env and
writes the frames as an MP4 (opencv, the env's frame rate) when a clip is queried. An Atari
frame is the game's colour screen after the step's action from its snapshot, with the score
areas blanked as in observations. Text clips carry their text and need no media.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from pbrl.errors import InputError
from pbrl.family import family_for
from pbrl.io import atomic_path
from pbrl.types import Clip

MEDIA_DIR = "media"


class MediaError(Exception):
    """A clip's media file is missing or cannot be decoded."""


ALE_STATE_BYTES = 8192  # room for an emulator snapshot (7.7 KB in every game of the suite), length first


def get_state(env: Any) -> np.ndarray | None:
    """The simulator state of an unwrapped env as a flat array (None where there is none):
    MuJoCo's qpos and qvel, classic control's ``state``, Atari's emulator snapshot as bytes."""
    ale = getattr(env, "ale", None)
    if ale is not None:
        data = ale.cloneState().serialize()
        if len(data) + 4 > ALE_STATE_BYTES:
            return None  # shown from the observations instead
        snapshot = np.zeros(ALE_STATE_BYTES, np.uint8)
        snapshot[:4] = np.frombuffer(np.uint32(len(data)).tobytes(), np.uint8)
        snapshot[4:4 + len(data)] = np.frombuffer(data, np.uint8)
        return snapshot
    if hasattr(env, "set_state") and hasattr(env, "data") and hasattr(env, "model"):  # MuJoCo
        return np.concatenate([env.data.qpos, env.data.qvel]).astype(np.float64)
    state = getattr(env, "state", None)
    if state is None or isinstance(state, dict):
        return None
    return np.asarray(state, dtype=np.float64).ravel().copy()


def set_state(env: Any, state: np.ndarray) -> None:
    """Put an unwrapped env into a state taken by :func:`get_state`."""
    ale = getattr(env, "ale", None)
    if ale is not None:
        import ale_py

        raw = np.asarray(state, np.uint8)
        length = int(np.frombuffer(raw[:4].tobytes(), np.uint32)[0])
        ale.restoreState(ale_py.ALEState(raw[4:4 + length].tobytes()))
        return
    if hasattr(env, "set_state") and hasattr(env, "data") and hasattr(env, "model"):
        nq = env.model.nq
        env.set_state(state[:nq], state[nq:])
    else:
        env.state = np.array(state, dtype=np.float64)


class SimState(gym.Wrapper):
    """Report the simulator state in which each action was taken, as ``info["sim_state"]``."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._state: np.ndarray | None = None

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        self._state = get_state(self.env.unwrapped)
        return obs, info

    def step(self, action: Any):
        before = self._state
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._state = get_state(self.env.unwrapped)
        if before is not None:
            info["sim_state"] = before
        return obs, reward, terminated, truncated, info


class MediaWriter:
    """Render queried clips to MP4 under ``run_dir/media`` (paths stored relative to the run).

    :param run_dir: the run directory.
    :param env_id: the env whose clips are rendered.
    """

    def __init__(self, run_dir: str | Path, env_id: str) -> None:
        self.run_dir = Path(run_dir)
        self.env_id = env_id
        self.family = family_for(env_id)
        self.fps = self.family.frame_rate(env_id)
        self._env: gym.Env | None = None

    def frames(self, clip: Clip) -> list[np.ndarray]:
        """RGB frames of the clip's real steps."""
        if clip.states is None:
            frames = self.family.clip_frames(clip)
            if frames is None:
                raise InputError(f"clip {clip.clip_id} has no simulator states to render; record with SimState")
            return frames
        if self._env is None:
            self._env = gym.make(self.env_id, render_mode="rgb_array")
            self._env.reset(seed=0)
            follow_the_body(self._env)
        unwrapped = self._env.unwrapped
        frames = []
        for state, action in zip(clip.states[: clip.length], clip.actions[: clip.length], strict=True):
            set_state(unwrapped, state)
            if self.family.render_after_step:
                self._env.step(action)
            frames.append(self.family.shown_frame(np.asarray(self._env.render()), self.env_id))
        return frames

    def write(self, clip: Clip) -> Clip:
        """The clip with ``frames_path`` set, its MP4 written (atomically); text clips as they are."""
        if clip.text is not None or clip.frames_path is not None:
            return clip
        relative = f"{MEDIA_DIR}/clip-{clip.clip_id}.mp4"
        if not (self.run_dir / relative).exists():  # a clip in a second query is not rendered again
            write_mp4(self.frames(clip), self.run_dir / relative, self.fps)
        return Clip(clip.clip_id, clip.env_id, clip.obs, clip.actions, clip.true_rewards, clip.length, clip.step,
                    relative, clip.next_obs, clip.states, clip.text)

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None


def follow_the_body(env: gym.Env) -> None:
    """Make a MuJoCo free camera track the agent's root body. gymnasium's free camera is
    aimed once, at the first render, so one env rendering many clips would lose a runner
    that has moved on; bodies fixed to the world (Reacher) keep the still camera."""
    renderer = getattr(env.unwrapped, "mujoco_renderer", None)
    if renderer is None:
        return
    import mujoco

    model = renderer.model  # the env's MjModel
    if model.njnt == 0 or int(model.jnt_type[0]) not in (int(mujoco.mjtJoint.mjJNT_FREE),
                                                         int(mujoco.mjtJoint.mjJNT_SLIDE)):
        return
    env.render()  # creates the viewer (gymnasium makes it on the first render)
    camera = renderer._get_viewer(render_mode="rgb_array").cam
    if renderer.camera_id == -1:  # the free camera, which gymnasium re-selects on every render
        renderer.camera_id = None  # keep the camera type set here
        camera.type = mujoco.mjtCamera.mjCAMERA_TRACKING
        camera.trackbodyid = camera.trackbodyid if camera.trackbodyid > 0 else 1


def write_mp4(frames: list[np.ndarray], path: Path, fps: float) -> None:
    """Frames (RGB) to an MP4 (mp4v); written to a temporary name and renamed, so a reader
    never sees half a file."""
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    with atomic_path(path, suffix=".mp4") as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
        for frame in frames:
            writer.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))
        writer.release()


def read_mp4(path: Path) -> tuple[list[np.ndarray], float]:
    """An MP4's frames (RGB) and frame rate; :class:`MediaError` names a missing or unreadable file."""
    import cv2

    if not path.is_file():
        raise MediaError(f"clip file {path} is missing")
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    if not frames:
        raise MediaError(f"clip file {path} is corrupt (no frame could be decoded)")
    return frames, float(fps)
