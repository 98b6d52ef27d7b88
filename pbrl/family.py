"""Environment families as plug-ins.

Everything that differs between classic control, MuJoCo, Atari and language models is a
method of a :class:`Family`; the core (the run, the learner, the reward model, the RL
plumbing) asks the family of its env id and never branches on a family's name. Families are
found through a registry of ``"module:attr"`` strings, the mechanism gymnasium uses for
entry points, so the core imports no family's code and a third-party family plugs in the
same way as pbrl's own::

    from pbrl.family import register_family
    register_family("grid", "my_package.grid:GRID", env_ids=("my/Grid-v0",))

pbrl's ids know their family from their suite entry (``pbrl.envs.registry``).
"""

from __future__ import annotations

import importlib
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from pbrl.envs.registry import BY_ID, bare_id, entry_for  # the env table (gymnasium only, no learning code)
from pbrl.errors import InputError, SpecError, UnknownNameError, UnsupportedError
from pbrl.hyperparams import defaults, normalize

if TYPE_CHECKING:  # annotations only: nothing here imports learning code at run time
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.vec_env import VecEnv

    from pbrl.oracle import PreferenceSource
    from pbrl.types import Clip

# family name -> "module:attr" of its Family object
FAMILIES: dict[str, str] = {
    "classic": "pbrl.families:CLASSIC",
    "mujoco": "pbrl.families:MUJOCO",
    "atari": "pbrl.families:ATARI",
    "text": "pbrl.text.family:TEXT",
}
# env ids of other packages -> family name (pbrl's own ids: their suite entry's family)
_ENV_FAMILIES: dict[str, str] = {}


def load_attr(spec: str) -> Any:
    """The object a ``"module:attr"`` string names (``attr`` may be dotted)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise InputError(f"{spec!r} is not of the form 'module:attr'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise SpecError(f"{spec!r}: cannot import {module_name} ({exc})") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise SpecError(f"{spec!r}: {module_name} has no attribute {attr}") from None
    return obj


def register_family(name: str, entry_point: str, env_ids: tuple[str, ...] = ()) -> None:
    """Make the family ``name`` (a :class:`Family` at ``entry_point``, ``"module:attr"``)
    known, and the family of ``env_ids`` (ids registered with gymnasium by another package).
    """
    if ":" not in entry_point:
        raise InputError(f"a family's entry point is 'module:attr', got {entry_point!r}")
    FAMILIES[name] = entry_point
    for env_id in env_ids:
        _ENV_FAMILIES[env_id] = name


def family_name(env_id: str) -> str:
    """The name of ``env_id``'s family; a KeyError naming the registered ids otherwise."""
    key = bare_id(env_id)
    if key in _ENV_FAMILIES:
        return _ENV_FAMILIES[key]
    return entry_for(key).family


def family_for(env_id: str) -> Family:
    """The :class:`Family` of ``env_id``."""
    name = family_name(env_id)
    if name not in FAMILIES:
        raise UnknownNameError(f"{env_id} is of family {name!r}, which is not registered; known: {', '.join(FAMILIES)}")
    family = load_attr(FAMILIES[name])
    if not isinstance(family, Family):
        raise UnsupportedError(f"{FAMILIES[name]} is not a pbrl.family.Family")
    return family


@dataclass(frozen=True)
class EnvInfo:
    """What a run needs to know of its env, read once from a probe instance."""

    env_id: str
    observation_space: gym.Space
    action_space: gym.Space
    max_episode_steps: int | None
    dt: float | None
    fps: float


class Family:
    """The answers a family gives the core. The defaults are those of vector-observation
    control tasks; a family overrides what differs.

    :cvar name: the family's name, as in :data:`FAMILIES`.
    :cvar reward_kind: the member networks of its reward model, a key of
        ``pbrl.reward_nets.MEMBERS`` (``mlp``, ``cnn``, ``text``, or one registered there).
    :cvar reward_defaults: reward-model settings of this family, layered under the user's:
        a field the user left at ``None`` takes the family's value.
    :cvar clip_steps: default steps per clip (see :meth:`clip_length`).
    :cvar video: write an MP4 of the final policy.
    :cvar curve_fields: extra columns of curves.csv this family's runs log (:meth:`step_metrics`).
    :cvar device: where the policy and the reward model run: ``cpu``, or ``auto`` (CUDA when
        torch sees a GPU: the families whose networks are CNNs; SB3 runs MLP policies faster on
        the CPU).
    """

    name = "base"
    reward_kind = "mlp"
    reward_defaults: Mapping[str, Any] = {"use_actions": False}
    clip_steps = 25
    video = True
    curve_fields: tuple[str, ...] = ()
    device = "cpu"

    # --- the run's configuration -------------------------------------------------------------

    def check_config(self, config: Any) -> None:
        """Raise a clear error when ``config`` (a TrainConfig) cannot run in this family."""
        if config.teacher.startswith(("judge:", "judge-lm:")):
            raise InputError(f"a judge teacher ({config.teacher}) compares responses: use it with pbrl/ResponseGame-v0")
        if config.algo in ("rloo", "grpo"):
            raise InputError(f"--algo {config.algo} needs several responses to one prompt (a group baseline): use it "
                             "with pbrl/ResponseGame-v0, or --algo ppo here")

    def resolve_config(self, config: Any) -> Any:
        """The config to run: ``config`` with what the family derives filled in (the same
        object when nothing changes); it is what the run directory's config.json records."""
        return config

    def clip_length(self, env_id: str, dt: float | None) -> int:
        """Steps per clip when the user gives none (``dt``: the env's seconds per step, if any)."""
        return self.clip_steps

    def terminates(self, env_id: str) -> bool:
        """Whether episodes can end early (the learned reward then keeps its level: the
        reward after the end is 0)."""
        entry = BY_ID.get(bare_id(env_id))
        return bool(entry and entry.terminates)

    # --- the agent -----------------------------------------------------------------------------

    def hyperparameters(self, algo: str, env_id: str) -> tuple[int, dict[str, Any]]:
        """(sub-envs, the SB3 algorithm's keyword arguments): the RL Zoo's per-env settings
        (:mod:`pbrl.hyperparams`), SB3's defaults for envs it does not list."""
        return defaults(algo, env_id)

    def policy_class(self, observation_space: gym.Space) -> Any:
        """The SB3 policy (a name or a class) for this family's observations."""
        return "MlpPolicy"

    def policy_kwargs(self, config: Any) -> dict[str, Any]:
        """Extra ``policy_kwargs`` of the SB3 algorithm."""
        return {}

    def wrap_agent_env(self, venv: VecEnv, config: Any) -> VecEnv:
        """Wrappers between the learned reward and the agent (text: the KL penalty)."""
        return venv

    def attach(self, agent: BaseAlgorithm, venv: VecEnv) -> None:
        """Connect what :meth:`wrap_agent_env` added to the built agent."""

    def agent_env_state(self, venv: VecEnv) -> dict[str, float]:
        """What :meth:`wrap_agent_env`'s wrappers learned while training, kept in progress.json
        so that a resumed run goes on from it (text: the adaptive KL beta)."""
        return {}

    def restore_agent_env_state(self, venv: VecEnv, state: dict[str, float]) -> None:
        """Put :meth:`agent_env_state`'s ``state`` back into a resumed run's wrappers."""

    def save_artifacts(self, agent: BaseAlgorithm, run_dir: Path, config: Any, env: EnvInfo) -> None:
        """Files beside policy.pt that other tools read (text: the policy's language model)."""

    def saved_policy_kwargs(self, run_dir: Path) -> dict[str, Any]:
        """The ``policy_kwargs`` that rebuild the agent saved in ``run_dir`` (``pbrl evaluate``)."""
        return {}

    # --- people and teachers --------------------------------------------------------------------

    def recording_wrapper(self, people: bool) -> type[gym.Wrapper] | None:
        """A wrapper that records what clip media need (simulator states for people)."""
        return None

    def has_teacher(self, name: str) -> bool:
        """Whether ``name`` is a teacher this family adds (see :meth:`teacher`)."""
        return False

    def teacher(self, name: str, config: Any) -> PreferenceSource | None:
        """A source of labels this family adds (text: ``judge:MODULE:FUNCTION``), or None."""
        return None

    def clip_frames(self, clip: Clip) -> list[np.ndarray] | None:
        """RGB frames of a clip's real steps read from its own observations (Atari without
        emulator snapshots), or None: the clip is re-rendered from the states recorded beside it."""
        return None

    #: re-rendering a recorded state means stepping from it with the clip's action and showing
    #: the screen after (Atari: an emulator snapshot holds no screen), not rendering the state
    render_after_step = False

    def shown_frame(self, frame: np.ndarray, env_id: str) -> np.ndarray:
        """A rendered frame as people see it (Atari: the score areas blanked, as in observations)."""
        return frame

    def frame_rate(self, env_id: str, env: gym.Env | None = None) -> float:
        """Frames per second at real speed, one frame per agent step (``env``: an instance
        already made, to read its metadata; else one is made)."""
        if env is not None:
            return float(env.metadata.get("render_fps") or 30)
        env = gym.make(env_id)
        try:
            return float(env.metadata.get("render_fps") or 30)
        finally:
            env.close()

    def normalize(self, env_id: str) -> bool:
        """VecNormalize (observations and rewards) between the learned reward and the agent,
        where the RL Zoo normalises this env."""
        return normalize(env_id)

    # --- the learned reward ---------------------------------------------------------------------

    def reference_zero(self) -> bool:
        """The reward's zero is set once on the reference (first) policy's clips and kept;
        otherwise it follows recent behaviour at each refit."""
        return False

    # --- queries --------------------------------------------------------------------------------

    def query_group(self, clip: Clip) -> Hashable | None:
        """Clips a query may compare share this key (text: the prompt, so that every query
        compares responses to one prompt, as RLHF does); None: any clips of the pool."""
        return None

    def step_metrics(self, infos: list[dict[str, Any]]) -> list[tuple[float, ...]]:
        """Values of :attr:`curve_fields` in this step's infos (one tuple per info that has them)."""
        return []
