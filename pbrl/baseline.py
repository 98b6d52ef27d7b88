"""True-reward RL on a pbrl env: the baseline every preference-learning run is compared with.

The agent gets the true reward through ``reveal_true_reward=True`` on exactly the env that
preference learning uses (same paper changes, same episode lengths, same hyperparameters).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.vec_env import VecEnv

from pbrl import rl
from pbrl.errors import InputError, check_numbers
from pbrl.family import family_for, family_name
from pbrl.io import write_json
from pbrl.progress import Progress


@dataclass(frozen=True)
class BaselineConfig:
    """Configuration of ``pbrl baseline``."""

    env_id: str = "pbrl/CartPole-v1"
    """a registered pbrl id"""
    algo: str = "ppo"
    """ppo or a2c (tuned per-env defaults), or dqn, sac, td3 (SB3 defaults)"""
    steps: int = 40_000
    """environment steps to train for"""
    seed: int = 0
    """seed of envs, policy and evaluation"""
    eval_episodes: int = 10
    """episodes of the final (deterministic) policy whose true return is averaged"""

    def __post_init__(self) -> None:
        rl.check_algo(self.algo)
        if self.steps < 1:
            raise InputError(f"steps must be >= 1, got {self.steps}")
        if self.eval_episodes < 1:
            raise InputError(f"eval_episodes must be >= 1, got {self.eval_episodes}")
        check_numbers(self, seed=">= 0")
        family_name(self.env_id)


CHECKPOINT_SECONDS = 600.0  # a checkpointed baseline saves its state at most this often (at a rollout's end)
STATE_FILE = "baseline.json"


class _Checkpoints(BaseCallback):
    """Save the agent (weights, VecNormalize state, optimiser state) and the run's progress in
    ``directory`` at a rollout's end once ``every`` seconds have passed, and when called."""

    def __init__(self, directory: Path, config: BaselineConfig, venv: VecEnv, progress: Progress, seconds: float,
                 resumes: int, every: float) -> None:
        super().__init__()
        self.directory, self.config, self.venv, self.progress, self.every = directory, config, venv, progress, every
        self.prior_seconds, self.resumes = seconds, resumes
        self.start = self.last = time.perf_counter()

    def seconds(self) -> float:
        return self.prior_seconds + time.perf_counter() - self.start

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        if time.perf_counter() - self.last >= self.every:
            self.save()

    def save(self) -> None:
        self.last = time.perf_counter()
        model = self.model
        rl.checkpoint_agent(model, self.venv, self.directory, self.config.algo, self.config.env_id)
        state = {"config": asdict(self.config), "steps": model.num_timesteps, "seconds": self.seconds(),
                 "resumes": self.resumes, "curve": self.progress.curve}
        write_json(self.directory / STATE_FILE, state)


def _saved_state(directory: Path, config: BaselineConfig) -> dict[str, Any] | None:
    """The progress of a checkpointed baseline of ``config`` in ``directory`` (None: nothing to
    go on from; a directory of other settings is an error, not overwritten)."""
    path = directory / STATE_FILE
    if not path.exists():
        return None
    try:
        state = json.loads(path.read_text())
        saved = state["config"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"{path} is damaged ({type(exc).__name__}: {exc}); delete {directory} to start the "
                         "baseline again") from None
    if saved != asdict(config):
        raise InputError(f"{directory} holds a baseline of other settings ({saved}); give another directory, or "
                         "delete it to start again")
    return state


def run_baseline(config: BaselineConfig, label: str = "true-reward", directory: Path | None = None,
                 checkpoint_seconds: float = CHECKPOINT_SECONDS) -> dict[str, Any]:
    """Train ``config.algo`` on the true reward and report the final policy's true return.

    :param directory: checkpoint the agent there every ``checkpoint_seconds`` (and at the
        end), and go on from the checkpoint found there: a run of hours (Atari) survives being
        stopped. A resumed run is not step-for-step the uninterrupted one (its envs start new
        episodes); the result says how often it was resumed, and its training time adds up
        every part.
    """
    n_envs, kwargs = family_for(config.env_id).hyperparameters(config.algo, config.env_id)
    venv = rl.wrap_normalize(rl.make_env(config.env_id, config.seed, n_envs, {"reveal_true_reward": True}),
                             config.env_id, kwargs)
    rl.check_algo(config.algo, venv.action_space, config.env_id)
    model = rl.make_algo(config.algo, venv, config.env_id, config.seed)
    state = _saved_state(directory, config) if directory is not None else None
    progress = Progress(config.steps, label=label)
    if state is not None:
        assert directory is not None  # a state is only read from a directory
        rl.resume_agent(model, venv, directory, tag=f"[{label}] ")
        model.num_timesteps, progress.curve = int(state["steps"]), list(state["curve"])
        print(f"  [{label}] resuming at step {model.num_timesteps:,} of {config.steps:,}", flush=True)
    resumes = state["resumes"] + 1 if state else 0
    checkpoints = None
    callbacks: list[BaseCallback] = [progress]
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        checkpoints = _Checkpoints(directory, config, venv, progress, state["seconds"] if state else 0.0, resumes,
                                   checkpoint_seconds)
        checkpoints.init_callback(model)
        callbacks.append(checkpoints)
    start = time.perf_counter()
    if config.steps > model.num_timesteps:
        model.learn(config.steps - model.num_timesteps, callback=CallbackList(callbacks),
                    reset_num_timesteps=state is None)
    seconds = checkpoints.seconds() if checkpoints else time.perf_counter() - start
    if checkpoints is not None:
        checkpoints.save()
    result = rl.final_result(model, config.env_id, config.eval_episodes, config.seed, rl.obs_normaliser(venv), seconds,
                             progress.curve)
    venv.close()
    if directory is None:
        return result
    return {**result, "resumes": resumes, "seconds_before": state["seconds"] if state else 0.0}
