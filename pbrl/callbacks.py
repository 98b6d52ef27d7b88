"""SB3 callbacks of a preference-learning run: the labelling side at the start of each
rollout, and the run's curves (stdout progress, curves.csv rows, SB3's logger)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from pbrl.diagnostics import or_nan
from pbrl.family import Family
from pbrl.learned_reward import LearnedReward
from pbrl.learner import PreferenceLearner
from pbrl.run_dir import curve_point_due

LOGGED = ("true_return", "learned_return", "labels", "val_accuracy", "reward_corr", "disagreement")


class LabelCallback(BaseCallback):
    """Runs the learner at the start of each rollout and, at its end, appends a row to the
    run's curves and logs it (``pbrl/<key>`` in SB3's CSV and TensorBoard logs).

    :param learner: the labelling side.
    :param learned: the learned-reward wrapper (its learned episode returns are logged).
    :param offset: env steps before this ``learn()`` (warm-up, or a resumed run's).
    :param curves: the run's rows, appended to.
    :param family: the env's family (its ``curve_fields``, read by ``step_metrics`` from each step's infos).
    :param after: called with the env step count after each rollout (checkpoints, status).
    :param pace: called with the env step count at each rollout's start, after the learner
        (people: RL waits there while the labels are behind the schedule).
    """

    def __init__(self, learner: PreferenceLearner, learned: LearnedReward, offset: int, curves: list[dict[str, Any]],
                 family: Family | None = None,
                 after: Callable[[int], None] | None = None, pace: Callable[[int], None] | None = None) -> None:
        super().__init__()
        self.learner, self.learned, self.offset, self.curves, self.after = learner, learned, offset, curves, after
        self.pace = pace
        self.family = family
        self._values: list[tuple[float, ...]] = []

    def _on_rollout_start(self) -> None:
        self.learner.step(self.offset + self.num_timesteps)
        if self.pace is not None:
            self.pace(self.offset + self.num_timesteps)

    def _on_step(self) -> bool:
        if self.family is not None and self.family.curve_fields:
            self._values += self.family.step_metrics(self.locals.get("infos", ()))
        return True

    def _on_rollout_end(self) -> None:
        steps = self.offset + self.num_timesteps
        if curve_point_due(self.curves, steps):  # a row per rollout, at most one per CURVE_GAP env steps
            row = self._row()
            self.curves.append(row)
            for key in (*LOGGED, *(self.family.curve_fields if self.family else ())):
                if key in row and not np.isnan(row[key]):
                    self.logger.record(f"pbrl/{key}", row[key])
        if self.after is not None:
            self.after(steps)

    def _row(self) -> dict[str, Any]:
        fit = self.learner.last_fit
        true = [ep["r"] for ep in self.model.ep_info_buffer or ()]
        learned = self.learned.episode_returns[-100:]
        row = {
            "steps": self.offset + self.num_timesteps,
            "true_return": float(np.mean(true)) if true else float("nan"),
            "learned_return": float(np.mean(learned)) if learned else float("nan"),
            "labels": self.learner.labels,
            "val_accuracy": fit.val_accuracy if fit and fit.val_accuracy is not None else float("nan"),
            "reward_corr": or_nan(self.learner.reward_correlation()) if len(self.curves) % 10 == 0 else float("nan"),
            "disagreement": self.learner.last_disagreement,
            "time": time.perf_counter(),
        }
        if self._values and self.family is not None:  # the family's: e.g. text score, KL, entropy, beta
            means = [float(np.mean(v)) for v in zip(*self._values, strict=True)]
            row.update(zip(self.family.curve_fields, means, strict=True))
            self._values = []
        return row
