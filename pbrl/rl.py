"""SB3 plumbing shared by preference learning and the true-reward baseline: building the
vectorised env and the algorithm from the per-env defaults, saving policies as state_dicts,
and evaluating the true return."""

from __future__ import annotations

import json
import os
import pickle
import warnings
import zipfile
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.save_util import recursive_getattr
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

import pbrl  # noqa: F401  (registers the ids)
from pbrl.errors import InputError, MissingFileError
from pbrl.family import family_for
from pbrl.group_ppo import GRPO, RLOO
from pbrl.io import atomic_write, write_json

# PPO and A2C carry tuned per-env defaults; the off-policy algorithms run with SB3's defaults
# (the learned reward is a VecEnv wrapper, so any SB3 algorithm trains on it).
ALGOS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "a2c": A2C, "dqn": DQN, "sac": SAC, "td3": TD3,
                                         "rloo": RLOO, "grpo": GRPO}  # the last two: group baselines (text)
POLICY_FILE, POLICY_META, NORM_FILE = "policy.pt", "policy.json", "vecnormalize.npz"
OPTIMIZER_FILE = "optimizer.pt"  # the optimisers' state and learned variables such as SAC's entropy weight


def check_algo(algo: str, action_space: gym.Space | None = None, env_id: str = "") -> None:
    """Refuse an unknown algorithm, or one that cannot act in ``action_space`` (DQN needs
    discrete actions, SAC and TD3 continuous ones)."""
    if algo not in ALGOS:
        raise InputError(f"unknown algorithm {algo!r}; choose one of {', '.join(ALGOS)}")
    needs = {"dqn": gym.spaces.Discrete, "sac": gym.spaces.Box, "td3": gym.spaces.Box}.get(algo)
    if action_space is not None and needs is not None and not isinstance(action_space, needs):
        kind = "discrete" if needs is gym.spaces.Discrete else "continuous (Box)"
        discrete = isinstance(action_space, gym.spaces.Discrete)
        usable = [a for a in ("ppo", "a2c", "dqn", "sac", "td3") if a in ("ppo", "a2c") or (a == "dqn") == discrete]
        raise InputError(f"--algo {algo} needs {kind} actions and {env_id or 'this env'} has {action_space}; "
                         f"use --algo {' or '.join(usable)}")


THREADS_VAR = "PBRL_TORCH_THREADS"


def set_torch_threads() -> None:
    """One torch thread per process (../shared/FACTS.md: on 2 cores, two threads collapse PPO
    under any other load), or ``PBRL_TORCH_THREADS`` where cores are to spare (a 16-core
    machine running a few cells at once)."""
    value = os.environ.get(THREADS_VAR, "1")
    if not value.isdigit() or int(value) < 1:
        raise InputError(f"{THREADS_VAR} must be a whole number >= 1, got {value!r}; unset it for one thread")
    torch.set_num_threads(int(value))


def make_env(env_id: str, seed: int, n_envs: int, env_kwargs: dict[str, Any] | None = None,
             wrapper_class: type[gym.Wrapper] | None = None) -> VecEnv:
    """DummyVecEnv of ``n_envs`` copies (one torch thread and DummyVecEnv: ../shared/FACTS.md).

    :param wrapper_class: applied to each env after SB3's Monitor (e.g. :class:`pbrl.media.SimState`).
    """
    set_torch_threads()
    return make_vec_env(env_id, n_envs=n_envs, seed=seed, env_kwargs=env_kwargs or {}, wrapper_class=wrapper_class)


def wrap_normalize(venv: VecEnv, env_id: str, algo_kwargs: dict[str, Any]) -> VecEnv:
    """VecNormalize (observations and rewards) where the env's family asks for it (the RL
    Zoo's envs that it normalises)."""
    if family_for(env_id).normalize(env_id):
        return VecNormalize(venv, gamma=algo_kwargs.get("gamma", 0.99))
    return venv


def make_algo(algo: str, venv: VecEnv, env_id: str, seed: int,
              policy_kwargs: dict[str, Any] | None = None) -> BaseAlgorithm:
    """The algorithm with its per-env defaults and the env family's policy (an MLP, SB3's
    CnnPolicy for Atari frames, a language model for the response game).

    :param policy_kwargs: the family's ``policy_kwargs`` (text: the SFT model's directory).
    """
    check_algo(algo)
    family = family_for(env_id)
    _, kwargs = family.hyperparameters(algo, env_id)
    # the per-env policy settings (MountainCarContinuous's initial log std) under the family's
    policy_kwargs = {**kwargs.pop("policy_kwargs", {}), **(policy_kwargs or {})}
    extra: dict[str, Any] = {"policy_kwargs": policy_kwargs} if policy_kwargs else {}
    return ALGOS[algo](family.policy_class(venv.observation_space), venv, seed=seed, device=family.device, verbose=0,
                       **extra, **kwargs)


def save_policy(model: BaseAlgorithm, venv: VecEnv, directory: Path, algo: str, env_id: str) -> None:
    """Policy weights as a state_dict plus JSON metadata, and VecNormalize's whole state (npz,
    no pickle): observation and return statistics and its settings (the running returns start
    at 0 with every reset, so they are not kept)."""
    # each file written under a temporary name and renamed: a run killed mid-save keeps its last checkpoint
    atomic_write(directory / POLICY_FILE, lambda f: torch.save(model.policy.state_dict(), f))
    meta = json.dumps({"format_version": 1, "algo": algo, "env_id": env_id}, indent=2).encode()
    atomic_write(directory / POLICY_META, lambda f: f.write(meta))
    norm = find_normalize(venv)
    if norm is not None:
        arrays = normalize_state(norm)
        # numpy's stub types **arrays as its allow_pickle flag; numbers only, so nothing is pickled
        atomic_write(directory / NORM_FILE, lambda f: np.savez(f, **arrays))  # type: ignore[arg-type]


def find_normalize(venv: VecEnv | None) -> VecNormalize | None:
    """The VecNormalize in a stack of VecEnv wrappers (text's KL penalty sits above it)."""
    while venv is not None:
        if isinstance(venv, VecNormalize):
            return venv
        venv = getattr(venv, "venv", None)
    return None


def normalize_state(venv: VecNormalize) -> dict[str, np.ndarray | np.generic]:
    """Every number VecNormalize needs to go on as it was (the keys of the first format,
    mean / var / count of the observations, kept)."""
    obs, ret = venv.obs_rms, venv.ret_rms
    assert isinstance(obs, RunningMeanStd)  # one array observation (no pbrl env has a Dict space)
    return {"mean": obs.mean, "var": obs.var, "count": np.float64(obs.count), "clip_obs": np.float64(venv.clip_obs),
            "epsilon": np.float64(venv.epsilon), "ret_mean": ret.mean, "ret_var": ret.var,
            "ret_count": np.float64(ret.count),
            "clip_reward": np.float64(venv.clip_reward), "gamma": np.float64(venv.gamma),
            "norm_obs": np.bool_(venv.norm_obs), "norm_reward": np.bool_(venv.norm_reward)}


def restore_normalize(venv: VecNormalize, stats: Mapping[str, np.ndarray]) -> None:
    """Put :func:`normalize_state`'s numbers back (a file of the first format holds only the
    observation statistics: the return statistics then start afresh, as they did)."""
    assert isinstance(venv.obs_rms, RunningMeanStd)  # one array observation (no pbrl env has a Dict space)
    venv.obs_rms.mean, venv.obs_rms.var, venv.obs_rms.count = stats["mean"], stats["var"], float(stats["count"])
    if "ret_mean" in stats:
        venv.ret_rms.mean, venv.ret_rms.var = stats["ret_mean"], stats["ret_var"]
        venv.ret_rms.count = float(stats["ret_count"])


def restore_policy(model: BaseAlgorithm, venv: VecEnv, directory: Path) -> None:
    """Load the weights (and VecNormalize state) saved by :func:`save_policy` into a freshly
    built ``model`` to go on training (a resumed run)."""
    load_weights(model, directory)
    norm = find_normalize(venv)
    if norm is not None and (directory / NORM_FILE).exists():
        restore_normalize(norm, _read_normalisation(directory))


def _unreadable(path: Path, exc: BaseException, fix: str = "restore it from a copy, or train again") -> InputError:
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    return InputError(f"{path} is corrupt or not what pbrl wrote ({type(exc).__name__}: {first}); {fix}; "
                      "nothing was changed")


def load_weights(model: BaseAlgorithm, directory: Path) -> None:
    """The policy weights of ``directory``'s policy.pt into ``model`` (tensors only: a file
    holding anything else, a pickle that would run code included, is refused)."""
    path = directory / POLICY_FILE
    try:
        with warnings.catch_warnings():  # torch warns about the zip reader before raising
            warnings.simplefilter("ignore")
            state = torch.load(path, weights_only=True)
    except pickle.UnpicklingError:
        raise InputError(f"{path} is not tensors pbrl can read: damaged, or a pickle of other objects, refused unread "
                         "(loading it could run code); restore it from a copy, or train again; nothing was changed"
                         ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise _unreadable(path, exc) from None
    try:
        model.policy.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:  # another env's or algorithm's network
        detail = " ".join(line.strip() for line in str(exc).splitlines()[:2])[:240]
        raise InputError(
            f"{path} does not fit the policy config.json and policy.json describe (was one of them edited, or "
            f"policy.pt copied from another run?): {detail}; nothing was changed") from None


def _training_state(model: BaseAlgorithm) -> tuple[list[str], list[str]]:
    """The names (as SB3 saves them) of ``model``'s optimisers and of its learned tensors
    outside the policy's state_dict (SAC's entropy weight)."""
    state_dicts, variables = model._get_torch_save_params()
    return [n for n in state_dicts if n.endswith("optimizer")], list(variables)


def save_optimizers(model: BaseAlgorithm, directory: Path) -> None:
    """``optimizer.pt``: what a resumed run needs beside the weights to go on as it was going
    (Adam's moments; a fresh Adam takes full-size steps at first), tensors only."""
    optimizers, variables = _training_state(model)
    state = {"optimizers": {n: recursive_getattr(model, n).state_dict() for n in optimizers},
             "variables": {n: recursive_getattr(model, n).detach().cpu() for n in variables}}
    atomic_write(directory / OPTIMIZER_FILE, lambda f: torch.save(state, f))


def restore_optimizers(model: BaseAlgorithm, directory: Path) -> bool:
    """Load :func:`save_optimizers`' file into ``model``; False when there is none (a run
    checkpointed before pbrl kept it: its optimisers start afresh)."""
    path = directory / OPTIMIZER_FILE
    if not path.exists():
        return False
    optimizers, variables = _training_state(model)
    try:
        # on the CPU: load_state_dict moves the moments to each parameter's device (and keeps
        # Adam's step count on the CPU, where it reads without a GPU sync)
        state = torch.load(path, weights_only=True, map_location="cpu")
        if "optimizers" not in state:  # the first baselines' file: the policy's optimiser alone
            state = {"optimizers": {"policy.optimizer": state}, "variables": {}}
        for name in optimizers:
            recursive_getattr(model, name).load_state_dict(state["optimizers"][name])
        for name in variables:
            recursive_getattr(model, name).data.copy_(state["variables"][name])
    except (OSError, RuntimeError, ValueError, EOFError, KeyError, TypeError, pickle.UnpicklingError) as exc:
        raise InputError(f"{path} is damaged or not this run's ({type(exc).__name__}); delete it to go on with fresh "
                         "optimisers, or restore it from a copy") from None
    return True


def hold_updates_until_refilled(model: BaseAlgorithm) -> None:
    """A resumed off-policy agent (its replay buffer is not kept) takes no gradient step until
    its buffer holds more than ``learning_starts`` transitions again, as a fresh agent waits:
    its step count is past ``learning_starts`` already, and it acts with its policy meanwhile,
    not at random."""
    if not isinstance(model, OffPolicyAlgorithm):
        return
    train = model.train

    def held(gradient_steps: int, batch_size: int = 100) -> None:
        assert isinstance(model, OffPolicyAlgorithm)  # for the type checker, inside the closure
        if model.replay_buffer is not None and model.replay_buffer.size() * model.n_envs > model.learning_starts:
            train(gradient_steps=gradient_steps, batch_size=batch_size)

    setattr(model, "train", held)  # noqa: B010 (an instance's method replaced on purpose)


def checkpoint_agent(model: BaseAlgorithm, venv: VecEnv, directory: Path, algo: str, env_id: str) -> None:
    """What :func:`resume_agent` goes on from: the policy (:func:`save_policy`), its
    optimisers' state (:func:`save_optimizers`) and its last episodes (:func:`save_episodes`)."""
    save_policy(model, venv, directory, algo, env_id)
    save_optimizers(model, directory)
    save_episodes(model, directory)


EPISODES_FILE = "episodes.json"


def save_episodes(model: BaseAlgorithm, directory: Path) -> None:
    """``episodes.json``: the agent's last episodes (SB3's ``ep_info_buffer``: return, length,
    time), so that a resumed run's mean over them (curves, status lines, SB3's ep_rew_mean)
    goes on rather than starting again from its first few episodes."""
    write_json(directory / EPISODES_FILE, {"episodes": [_episode(ep) for ep in model.ep_info_buffer or ()]})


def _episode(ep: Mapping[str, Any]) -> dict[str, float | int]:
    """One of SB3's episode records (Monitor's return, length, time) as plain numbers."""
    return {"r": float(ep["r"]), "l": int(ep["l"]), "t": float(ep["t"])}


def restore_episodes(model: BaseAlgorithm, directory: Path) -> None:
    """Put :func:`save_episodes`' episodes back (a checkpoint from before pbrl kept them: none);
    SB3 keeps them when the resumed agent learns with ``reset_num_timesteps=False``."""
    path = directory / EPISODES_FILE
    if not path.exists():
        return
    try:
        episodes = [_episode(ep) for ep in _read_json(path, ("episodes",))["episodes"]]
    except (TypeError, KeyError, ValueError) as exc:
        raise _unreadable(path, exc) from None
    model.ep_info_buffer = deque(episodes, maxlen=model._stats_window_size)
    model.ep_success_buffer = deque(maxlen=model._stats_window_size)


def resume_agent(model: BaseAlgorithm, venv: VecEnv, directory: Path, tag: str = "") -> None:
    """Put a checkpoint of :func:`checkpoint_agent` into a freshly built ``model`` to go on
    training: weights and VecNormalize state, optimisers (fresh ones, said so, where the
    checkpoint predates them), the last episodes, and an off-policy agent's updates held until
    its buffer refills."""
    restore_policy(model, venv, directory)  # a damaged policy.pt: a clear error
    if not restore_optimizers(model, directory):
        print(f"  {tag}no {OPTIMIZER_FILE} in {directory} (checkpointed before pbrl kept it): going on with fresh "
              "optimisers", flush=True)
    restore_episodes(model, directory)
    hold_updates_until_refilled(model)


def _read_normalisation(directory: Path) -> dict[str, np.ndarray]:
    path = directory / NORM_FILE
    try:
        with np.load(path, allow_pickle=False) as stats:
            return dict(stats)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise _unreadable(path, exc) from None


def _read_json(path: Path, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        for key in keys:
            if key not in data:
                raise KeyError(f"no {key!r}")
        return data
    except (ValueError, KeyError, UnicodeDecodeError) as exc:
        raise _unreadable(path, exc) from None


class SavedPolicy(NamedTuple):
    """A run's policy rebuilt for evaluation."""

    model: BaseAlgorithm
    normalisation: dict[str, np.ndarray] | None  # VecNormalize's numbers (None: not normalised)
    env_id: str
    env_kwargs: dict[str, Any]  # the run's gym.make keywords (the response game's task and lengths)


def load_policy(directory: Path) -> SavedPolicy:
    """Rebuild the policy saved by :func:`save_policy` through its env's family (a language
    model for the response game) with the run's env keywords (its config.json)."""
    meta_path = directory / POLICY_META
    if not meta_path.exists():
        raise MissingFileError(f"{directory}: no {POLICY_META}; pass a run directory written by `pbrl train`")
    meta = _read_json(meta_path, ("env_id", "algo"))
    config_path = directory / "config.json"
    env_kwargs = _read_json(config_path).get("env_kwargs", {}) if config_path.exists() else {}
    venv = make_env(meta["env_id"], seed=0, n_envs=1, env_kwargs=env_kwargs)
    policy_kwargs = family_for(meta["env_id"]).saved_policy_kwargs(directory)
    model = make_algo(meta["algo"], venv, meta["env_id"], seed=0, policy_kwargs=policy_kwargs)
    load_weights(model, directory)
    norm = _read_normalisation(directory) if (directory / NORM_FILE).exists() else None
    return SavedPolicy(model, norm, meta["env_id"], env_kwargs)


def obs_normaliser(venv_or_stats: VecEnv | dict[str, np.ndarray] | None):
    """A function mapping raw observations to what the policy saw in training."""
    if isinstance(venv_or_stats, VecNormalize):
        return venv_or_stats.normalize_obs
    if isinstance(venv_or_stats, dict):
        s = venv_or_stats
        return lambda obs: np.clip((obs - s["mean"]) / np.sqrt(s["var"] + s["epsilon"]), -s["clip_obs"], s["clip_obs"])
    return lambda obs: obs


def evaluate(model: BaseAlgorithm | None, env_id: str, episodes: int, seed: int, normaliser=None, render: bool = False,
             env_kwargs: dict[str, Any] | None = None):
    """True returns of the deterministic policy over ``episodes`` episodes, reset seeds
    ``seed + 10000 + i`` (and the frames of the first episode when ``render``); ``model=None``
    acts uniformly at random. ``env_kwargs`` go to gym.make (the response game's task)."""
    normaliser = normaliser or (lambda obs: obs)
    env = gym.make(env_id, render_mode="rgb_array" if render else None, **(env_kwargs or {}))
    env.action_space.seed(seed)
    if render:
        from pbrl.media import follow_the_body

        env.reset(seed=seed + 10_000)
        follow_the_body(env)  # a runner stays in the video
    returns, frames = [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + 10_000 + episode)
        total, done = 0.0, False
        while not done:
            if render and episode == 0:
                frames.append(env.render())
            if model is None:
                action = env.action_space.sample()
            else:
                action, _ = model.predict(normaliser(obs), deterministic=True)
            obs, _, terminated, truncated, info = env.step(action)
            total += info["true_reward"]
            done = terminated or truncated
        returns.append(total)
    env.close()
    return returns, frames


def final_result(model: BaseAlgorithm, env_id: str, episodes: int, seed: int, normaliser, seconds: float,
                 curve: list[dict[str, float]]) -> dict[str, Any]:
    """A trained policy's result row: its true return over ``episodes`` evaluation episodes,
    training time, env steps and training curve."""
    returns, _ = evaluate(model, env_id, episodes, seed, normaliser)
    return {"true_return_mean": float(np.mean(returns)), "true_return_std": float(np.std(returns)),
            "train_seconds": seconds, "steps": float(model.num_timesteps), "curve": curve}
