"""Reward-model checkpoints: a ``state_dict`` file (``reward_model.pt``, loaded with
``weights_only=True``, so loading runs no pickled code) plus JSON metadata with a format
version (``reward_model.json``): the spaces, the settings, the member kind (``mlp``, ``cnn``,
``text`` or one registered with :func:`pbrl.reward_nets.register_members`) and the L2 weights.
Beside them, ``fit_state.pt`` holds what a resumed run needs to go on fitting as it was going
(Adam's moments, tensors only); a checkpoint without it loads with a fresh optimiser.

This module is the format: what a checkpoint holds, written and read. It sits below
:mod:`pbrl.reward_model` (which it never imports, so the two form no cycle):
``RewardEnsemble.save`` writes with :func:`write`, and ``RewardEnsemble.load`` reads with
:func:`read`, rebuilds the ensemble, its members of the recorded kind through the registry,
from the metadata, and puts the learned state back itself.
"""

from __future__ import annotations

import json
import os
import pickle
import time
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch

from pbrl.errors import InputError, MissingFileError, UnsupportedError
from pbrl.io import atomic_write

FORMAT_VERSION = 1
CHECKPOINT = "reward_model.pt"
METADATA = "reward_model.json"
FIT_STATE = "fit_state.pt"


def describe_space(space: gym.Space) -> dict[str, Any]:
    """``space`` as JSON (see :func:`_space_from`); a TypeError for spaces a reward model cannot read."""
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n)}
    if isinstance(space, gym.spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": [int(v) for v in space.nvec.ravel()]}
    if isinstance(space, gym.spaces.Box):
        desc: dict[str, Any] = {"type": "Box", "shape": list(space.shape), "dtype": str(space.dtype)}
        # token ids: the bounds are the vocabulary
        if np.issubdtype(space.dtype, np.integer) and space.dtype != np.uint8:
            desc.update(low=int(np.min(space.low)), high=int(np.max(space.high)))
        return desc
    raise UnsupportedError(f"pbrl reward models support Box, Discrete and MultiDiscrete spaces, not {space}")


def _space_from(desc: dict[str, Any]) -> gym.Space:
    if desc["type"] == "Discrete":
        return gym.spaces.Discrete(desc["n"])
    if desc["type"] == "MultiDiscrete":
        return gym.spaces.MultiDiscrete(np.array(desc["nvec"], dtype=np.int64))
    dtype = np.dtype(desc["dtype"])
    low, high = (0, 255) if dtype == np.uint8 else (-np.inf, np.inf)
    if "low" in desc:
        low, high = desc["low"], desc["high"]
    return gym.spaces.Box(low, high, tuple(desc["shape"]), dtype)


def write(directory: str | os.PathLike[str], state: dict[str, torch.Tensor], meta: dict[str, Any],
          fit_state: dict[str, Any] | None = None) -> Path:
    """Write ``state`` (``reward_model.pt``), ``meta`` with the format version and the time
    (``reward_model.json``) and ``fit_state`` (``fit_state.pt``, first) atomically into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = {"format_version": FORMAT_VERSION, **meta, "saved_at": time.time()}
    if fit_state is not None:
        atomic_write(directory / FIT_STATE, lambda f: torch.save(fit_state, f))
    atomic_write(directory / CHECKPOINT, lambda f: torch.save(state, f))
    atomic_write(directory / METADATA, lambda f: f.write(json.dumps(meta, indent=2).encode()))
    return directory


class Checkpoint(NamedTuple):
    """A checkpoint as read from disk."""

    directory: Path
    meta: dict[str, Any]
    """the JSON metadata"""
    state: dict[str, torch.Tensor]
    """the tensors: ``net.*`` (the members' ``state_dict``) and the input / output statistics"""

    @property
    def observation_space(self) -> gym.Space:
        return _space_from(self.meta["observation_space"])

    @property
    def action_space(self) -> gym.Space:
        return _space_from(self.meta["action_space"])


def _checkpoint_dir(path: str | os.PathLike[str]) -> Path:
    """The directory holding the checkpoint: ``path``, its ``reward_model/`` folder (a run
    directory) or the folder of a checkpoint file."""
    directory = Path(path)
    if directory.is_file():
        directory = directory.parent
    if (directory / "reward_model" / METADATA).exists():
        directory = directory / "reward_model"
    if not (directory / METADATA).exists() or not (directory / CHECKPOINT).exists():
        raise MissingFileError(
            f"{path}: no reward-model checkpoint ({METADATA} + {CHECKPOINT}); pass a run directory "
            "written by `pbrl train` or its reward_model/ folder"
        )
    return directory


# the metadata keys a checkpoint of this format has (RewardEnsemble.save writes them)
REQUIRED = ("kind", "env_id", "observation_space", "action_space", "config", "center", "l2", "labels_seen")


def read(path: str | os.PathLike[str]) -> Checkpoint:
    """Read the checkpoint in a run directory, a directory holding one, or either file; clear
    errors for missing or corrupt files and other format versions."""
    directory = _checkpoint_dir(path)
    meta_path = directory / METADATA
    try:
        meta = json.loads(meta_path.read_text())
        version = meta["format_version"]
        state = torch.load(directory / CHECKPOINT, weights_only=True, map_location="cpu")
    except (json.JSONDecodeError, KeyError, RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError) as exc:
        raise InputError(
            f"{directory}: the reward-model checkpoint is corrupt or unreadable ({type(exc).__name__}: {exc}); "
            "retrain it, or restore the files from a copy"
        ) from exc
    if version != FORMAT_VERSION:
        raise InputError(f"{meta_path}: checkpoint format {version}, this pbrl reads format {FORMAT_VERSION}")
    missing = [key for key in REQUIRED if key not in meta]
    if missing or not isinstance(meta.get("config"), dict) or "hidden" not in meta["config"]:
        raise InputError(f"{meta_path} lacks {', '.join(missing) or 'config.hidden'}: the file is damaged or was "
                         "edited; restore it from a copy of the run, or retrain")
    return Checkpoint(directory, meta, state)


def read_fit_state(directory: Path) -> dict[str, Any] | None:
    """``fit_state.pt`` in a checkpoint's directory (tensors only, on the CPU); None where the
    checkpoint has none (written before pbrl kept it)."""
    path = directory / FIT_STATE
    if not path.exists():
        return None
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as exc:
        raise InputError(f"{path} is damaged or not this model's ({type(exc).__name__}); delete it to go on fitting "
                         "with a fresh optimiser, or restore it from a copy") from None
