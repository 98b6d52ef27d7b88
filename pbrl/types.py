"""The core records: a clip of behaviour, a query that shows clips together, a label."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from pbrl.errors import InputError


class Outcome(str, enum.Enum):
    """A judge's answer to a pairwise query (a ranking answers a K-wise one)."""

    LEFT = "left"  # the first clip is better
    RIGHT = "right"  # the second clip is better
    EQUAL = "equal"  # equally good: a 0.5 / 0.5 target
    SKIP = "skip"  # can't tell: not trained on, not counted against the budget


@dataclass(frozen=True, eq=False)
class Clip:
    """A fixed-length piece of one episode.

    :param clip_id: unique within a run.
    :param env_id: the env it was recorded in.
    :param obs: ``[H, *obs_shape]``, the observation each action was taken in.
    :param actions: ``[H, *action_shape]``.
    :param true_rewards: ``[H]``, the hidden true reward (read by synthetic teachers only).
    :param length: real steps; a clip cut short by termination is padded after ``length``
        with zeros (an absorbing state whose reward is 0).
    :param step: global env step at which the clip ended.
    :param frames_path: media shown to people, when rendered.
    :param next_obs: ``[H, *obs_shape]``, the observation each action led to (the terminal
        observation at the end of an episode).
    :param states: ``[H, S]``, the simulator state before each step (recorded when people
        will see the clip: the frames are rendered from it later, only for queried clips).
    :param text: for a text clip (the response game), the prompt and response shown to people.
    """

    clip_id: str
    env_id: str
    obs: np.ndarray
    actions: np.ndarray
    true_rewards: np.ndarray
    length: int
    step: int = 0
    frames_path: str | None = None
    next_obs: np.ndarray | None = None
    states: np.ndarray | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        horizon = len(self.true_rewards)
        if self.states is not None and len(self.states) != horizon:
            raise InputError(f"clip {self.clip_id}: states has {len(self.states)} rows for {horizon} steps")
        if self.next_obs is not None and self.next_obs.shape != self.obs.shape:
            raise InputError(f"clip {self.clip_id}: next_obs {self.next_obs.shape} and obs {self.obs.shape} differ in "
                             "shape")
        if self.true_rewards.ndim != 1:
            raise InputError(f"clip {self.clip_id}: true_rewards must be 1-D [H], got shape {self.true_rewards.shape}")
        if len(self.obs) != horizon or len(self.actions) != horizon:
            raise InputError(
                f"clip {self.clip_id}: obs ({len(self.obs)}), actions ({len(self.actions)}) and true_rewards "
                f"({horizon}) must have the same length H"
            )
        if not 1 <= self.length <= horizon:
            raise InputError(f"clip {self.clip_id}: length must be in 1..{horizon}, got {self.length}")
        if self.true_rewards.dtype.kind != "f":
            raise InputError(f"clip {self.clip_id}: true_rewards must be floating point, got {self.true_rewards.dtype}")

    @property
    def horizon(self) -> int:
        return len(self.true_rewards)

    @property
    def mask(self) -> np.ndarray:
        """``[H]`` float mask: 1 on real steps, 0 on padding."""
        mask = np.zeros(self.horizon, dtype=np.float32)
        mask[: self.length] = 1.0
        return mask


@dataclass(frozen=True)
class Query:
    """Clips shown together: 2 for a pairwise comparison, K > 2 for a ranking."""

    query_id: str
    clip_ids: tuple[str, ...]
    step: int = 0

    def __post_init__(self) -> None:
        if len(self.clip_ids) < 2:
            raise InputError(f"query {self.query_id}: needs at least 2 clips, got {len(self.clip_ids)}")
        if len(set(self.clip_ids)) != len(self.clip_ids):
            raise InputError(f"query {self.query_id}: shows the same clip twice: {self.clip_ids}")


@dataclass(frozen=True)
class Label:
    """An answer to a query.

    :param outcome: for a pair, LEFT / RIGHT / EQUAL / SKIP; for K > 2, None with ``ranking``.
    :param ranking: positions in the query's clip order, best first (K-wise queries).
    """

    query_id: str
    outcome: Outcome | None
    ranking: tuple[int, ...] | None = None
    rater: str = "synthetic"
    shown_at: float = 0.0
    answered_at: float = 0.0
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if (self.outcome is None) == (self.ranking is None):
            raise InputError(f"label for {self.query_id}: give exactly one of outcome or ranking")
        if self.ranking is not None and sorted(self.ranking) != list(range(len(self.ranking))):
            raise InputError(f"label for {self.query_id}: ranking {self.ranking} is not a permutation of 0..K-1")
        if self.outcome is not None and not isinstance(self.outcome, Outcome):
            object.__setattr__(self, "outcome", Outcome(self.outcome))

    @property
    def skipped(self) -> bool:
        return self.outcome is Outcome.SKIP


# --- stacked frames held once ----------------------------------------------------------------


def frame_strip(obs: np.ndarray, next_obs: np.ndarray | None) -> np.ndarray | None:
    """The frames a clip of stacked-frame observations shows, each once: ``[H + D, ...]`` for
    ``obs`` and ``next_obs`` of ``[H, D, ...]`` (uint8, the newest frame last in each stack)
    where every stack is the one before it moved on by a frame; None for anything else (vector
    observations, a reset or padding inside the clip). An Atari clip's arrays are D + 1 times
    their frames: 25 steps of 4 frames and their successors are 200 frames for 29 distinct ones."""
    if next_obs is None or obs.dtype != np.uint8 or obs.ndim < 3 or obs.shape[1] < 2:
        return None
    if not (np.array_equal(next_obs[:, :-1], obs[:, 1:]) and np.array_equal(next_obs[:-1], obs[1:])):
        return None
    return np.concatenate([obs[0], next_obs[:, -1]])


def stacked_views(frames: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """``(obs, next_obs)`` of :func:`frame_strip`'s ``frames``: read-only views ``[H, depth, ...]``
    into them, no copy."""
    h = len(frames) - depth
    if h < 1 or depth < 1:
        raise InputError(f"a strip of {len(frames)} frames holds no stacks of {depth}")
    stacks = np.lib.stride_tricks.as_strided(frames, shape=(h + 1, depth, *frames.shape[1:]),
                                             strides=(frames.strides[0], *frames.strides), writeable=False)
    return stacks[:h], stacks[1:]
