"""The entry point behind every ``pbrl/...`` id: build the base env and apply pbrl's changes."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from functools import cache
from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import load_env_creator

from pbrl.envs.hidden_reward import HiddenReward
from pbrl.envs.registry import ATARI, BY_ID, CLASSIC, MUJOCO, TEXT, SuiteEntry
from pbrl.errors import InputError, MissingDependencyError, UnsupportedError

# pbrl's own keywords, per family, with their defaults. Everything else goes to the base env.
COMMON_OPTIONS: dict[str, Any] = {"reward_model": None, "reveal_true_reward": False}
FAMILY_OPTIONS: dict[str, dict[str, Any]] = {
    CLASSIC: {},
    TEXT: {},
    MUJOCO: {
        "remove_ctrl_cost": True,  # set the base env's torque-penalty weight to 0
        "fixed_length": True,  # early termination -> per-step penalty, fixed-length episodes
        "termination_penalty": None,  # per-step penalty; None: the table's default
        "fast_render": True,  # no shadows or reflections in rgb_array frames
    },
    ATARI: {
        "preprocess": True,  # noop reset, max-pooled frame skip, grey 84x84, frame stack
        "frame_skip": 4,
        "screen_size": 84,
        "grayscale": True,
        "frame_stack": 4,
        "noop_max": 30,
        "blank_score": True,  # blank the score area (and other reward read-outs)
        "hide_done": True,  # game over -> truncation; life loss never signalled
    },
}


def require_dependency(entry: SuiteEntry) -> None:
    """Import the optional module ``entry`` needs; raise MissingDependencyError naming the extra."""
    for module in entry.modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise MissingDependencyError(
                f"{entry.id} needs the optional dependency {module!r}, which is not installed "
                f"({exc}). Install it with: {entry.install_hint}"
            ) from exc


def dependency_installed(entry: SuiteEntry) -> bool:
    try:
        require_dependency(entry)
    except MissingDependencyError:
        return False
    return True


def _base_spec(entry: SuiteEntry) -> gym.envs.registration.EnvSpec:
    if entry.family == ATARI:
        import ale_py

        gym.register_envs(ale_py)
    return gym.spec(entry.base_id)


@cache
def base_parameters(env_id: str) -> frozenset[str]:
    """Keyword arguments the base env of ``env_id`` accepts (from its constructor signatures)."""
    entry = BY_ID[env_id]
    if entry.family == TEXT:
        from pbrl.envs.response_game import ResponseGameEnv

        creator: Any = ResponseGameEnv
    else:  # as gym.make reads an entry point
        entry_point = _base_spec(entry).entry_point
        creator = load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point
    names: set[str] = set()
    owners: tuple[Any, ...] = creator.__mro__ if isinstance(creator, type) else (creator,)  # classes, or a function
    for owner in owners:
        init = owner.__init__ if inspect.isclass(owner) else owner
        if init is object.__init__:
            break
        params = inspect.signature(init).parameters.values()
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return frozenset(names - {"self", "render_mode"})


def valid_keywords(env_id: str) -> tuple[list[str], list[str]]:
    """(pbrl's keywords, the base env's keywords) that ``gym.make(env_id, ...)`` accepts."""
    entry = BY_ID[env_id]
    ours = ["render_mode", *COMMON_OPTIONS, *FAMILY_OPTIONS[entry.family]]
    return ours, sorted(base_parameters(env_id) - set(ours))


def _split(entry: SuiteEntry, kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    options = {**COMMON_OPTIONS, **FAMILY_OPTIONS[entry.family]}
    ours, base = valid_keywords(entry.id)
    unknown = sorted(set(kwargs) - set(ours) - set(base))
    if unknown:
        raise UnsupportedError(
            f"gym.make({entry.id!r}) got unexpected keyword argument(s) {', '.join(map(repr, unknown))}. "
            f"pbrl keywords: {', '.join(ours)}. Keywords of the base env {entry.base_id}: "
            f"{', '.join(base) or '(none)'}."
        )
    for key in list(kwargs):
        if key in options:
            options[key] = kwargs.pop(key)
    return options, kwargs


def _base_make(entry: SuiteEntry, render_mode: str | None, kwargs: dict[str, Any]) -> gym.Env:
    # The pbrl id carries the time limit (gym.make applies it outside); build the base env
    # without its own so that a user's max_episode_steps is the one that counts.
    spec = dataclasses.replace(_base_spec(entry), max_episode_steps=None)
    return gym.make(spec, render_mode=render_mode, disable_env_checker=True, **kwargs)


def _positive_int(entry: SuiteEntry, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{entry.id}: {name} must be a positive integer, got {value!r}")
    return value


def _make_mujoco(entry: SuiteEntry, o: dict[str, Any], render_mode: str | None, kw: dict[str, Any]) -> gym.Env:
    from pbrl.envs.mujoco_changes import FastRender, TerminationPenalty

    base_kwargs = {**entry.base_kwargs, **kw} if o["remove_ctrl_cost"] else kw
    env = _base_make(entry, render_mode, base_kwargs)
    if o["fixed_length"] and entry.termination_penalty:
        penalty = entry.termination_penalty if o["termination_penalty"] is None else o["termination_penalty"]
        if not isinstance(penalty, (int, float)) or penalty < 0:
            raise InputError(f"{entry.id}: termination_penalty must be a number >= 0, got {penalty!r}")
        env = TerminationPenalty(env, penalty)
    if o["fast_render"]:
        env = FastRender(env)
    return env


def _make_atari(entry: SuiteEntry, o: dict[str, Any], render_mode: str | None, kw: dict[str, Any]) -> gym.Env:
    from pbrl.envs.atari_changes import BlankRegions, GameOverAsTruncation

    if o["preprocess"]:
        if kw.get("frameskip", 1) != 1:
            raise InputError(
                f"{entry.id}: frameskip={kw['frameskip']} conflicts with preprocess=True, which "
                "skips frames itself; pass frame_skip=N instead (or preprocess=False)."
            )
        kw = {**kw, "frameskip": 1}
    env = _base_make(entry, render_mode, kw)
    if o["preprocess"]:
        env = gym.wrappers.AtariPreprocessing(
            env,
            noop_max=_positive_int(entry, "noop_max", o["noop_max"] or 1) if o["noop_max"] else 0,
            frame_skip=_positive_int(entry, "frame_skip", o["frame_skip"]),
            screen_size=_positive_int(entry, "screen_size", o["screen_size"]),
            terminal_on_life_loss=False,
            grayscale_obs=bool(o["grayscale"]),
            scale_obs=False,
        )
    if o["blank_score"]:
        env = BlankRegions(env, entry.score_regions)
    if o["preprocess"] and _positive_int(entry, "frame_stack", o["frame_stack"]) > 1:
        env = gym.wrappers.FrameStackObservation(env, o["frame_stack"])
    if o["hide_done"]:
        env = GameOverAsTruncation(env)
    return env


def make_env(_pbrl_id: str, render_mode: str | None = None, **kwargs: Any) -> gym.Env:
    """Build ``_pbrl_id`` (registered as the entry point of every pbrl id; use gym.make)."""
    entry = BY_ID[_pbrl_id]
    require_dependency(entry)
    options, base_kwargs = _split(entry, kwargs)
    if entry.family == MUJOCO:
        env = _make_mujoco(entry, options, render_mode, base_kwargs)
    elif entry.family == ATARI:
        env = _make_atari(entry, options, render_mode, base_kwargs)
    elif entry.family == TEXT:
        from pbrl.envs.response_game import ResponseGameEnv

        env = ResponseGameEnv(render_mode=render_mode, **base_kwargs)
    else:
        env = _base_make(entry, render_mode, base_kwargs)
    return HiddenReward(
        env,
        env_id=entry.id,
        reward_model=options["reward_model"],
        reveal_true_reward=bool(options["reveal_true_reward"]),
    )
