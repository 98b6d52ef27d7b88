"""Preference learning end to end (Christiano et al. 2017) on SB3::

    pbrl env -> ClipRecorder -> LearnedReward -> [VecNormalize] -> PPO / A2C
    clips -> select_queries -> PreferenceSource (teacher, judge or people) -> store -> RewardEnsemble.fit

A warm-up with the first (random) policy yields the initial labels and the first reward
model; then, at the start of every rollout, the labels the source's rule wants are asked
for, the ensemble refits on them, and the policy trains on. The steps are :class:`pbrl.run.Run`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pbrl.config import HUMAN, TrainConfig
from pbrl.learner import PreferenceLearner
from pbrl.run import Run, warmup_steps


def train(config: TrainConfig, out: str | Path, resume: bool = False,
          on_ready: Callable[[Path], Any] | None = None) -> dict[str, Any]:
    """Run preference learning; write the run directory ``out``; return the summary.

    :param resume: go on with the run in ``out`` (its config.json; labels, queries, reward
        model and policy carry over) instead of starting a new one.
    :param on_ready: called with the run directory once it exists (``--open-ui`` starts the
        rating app here).
    """
    with Run(config, Path(out), resume) as run:  # leaving it releases store, envs, lock and fit thread
        run.build()
        if on_ready is not None:
            on_ready(run.path)
        run.warm_up()
        run.learn()
        return run.finish()


__all__ = ["HUMAN", "PreferenceLearner", "TrainConfig", "train", "warmup_steps"]
