"""How many queries to ask at each step of the loop: on the label schedule (a synthetic
teacher or a judge answers at once), or at the pace of the people rating (they answer when
they can, and are never left without a query). The source chooses its rule
(:meth:`pbrl.oracle.PreferenceSource.asking`); the learner never asks what the source is."""

from __future__ import annotations

import math
import time
from typing import Protocol

from pbrl.schedule import LabelSchedule

# the most queries kept waiting for people: enough for a fast rater through a long rollout, few
# enough to stay fresh
DEFAULT_QUEUE = 10


class AskRule(Protocol):
    """``wanted(env_steps, labels)``: queries to ask now, given the labels read so far;
    ``min_first_fit``: labels needed before the reward model is first fitted."""

    min_first_fit: int

    def wanted(self, env_steps: int, labels: int) -> int: ...


class ScheduledAsk:
    """What the schedule wants by ``env_steps``, in batches of at least 4% of the budget (the
    initial batch and the last labels excepted): fewer, larger rounds cost less than one
    query per rollout.

    :param schedule: labels wanted by env step.
    """

    min_first_fit = 1

    def __init__(self, schedule: LabelSchedule) -> None:
        self.schedule = schedule

    def wanted(self, env_steps: int, labels: int) -> int:
        budget = self.schedule.budget
        need = self.schedule.target(env_steps) - labels
        batch = min(max(1, budget // 25), budget - labels)
        return need if need >= max(batch, 1) else 0


class PacedAsk:
    """As many queries waiting as the schedule is behind, and at least enough to last the
    raters until the next rollout at their pace (two at the least, so the app can show one
    and load the next); at most ``queue_size``, within the budget. Answers the learner has
    not read yet count already. People answer the initial batch before the first fit (one
    label is too few to learn from).

    :param schedule: labels wanted by env step.
    :param source: the people's source (``waiting``, ``answered``, ``seconds_per_label``, ``queue_size``).
    """

    def __init__(self, schedule: LabelSchedule, source: PacedSource) -> None:
        self.schedule, self.source = schedule, source
        self.min_first_fit = schedule.initial
        self._last_step_at: float | None = None  # wall time of the last call
        self._rollout_seconds = 0.0  # smoothed wall time between calls

    def wanted(self, env_steps: int, labels: int) -> int:
        waiting, answered = self.source.waiting(), self.source.answered()
        now = time.perf_counter()
        if self._last_step_at is not None:
            last = now - self._last_step_at
            self._rollout_seconds = 0.8 * self._rollout_seconds + 0.2 * last if self._rollout_seconds else last
        self._last_step_at = now
        pace = self.source.seconds_per_label()
        # (with half a rollout to spare: rollouts and refits vary in length)
        floor = (2 if not pace or not self._rollout_seconds
                 else 2 + math.ceil(1.5 * self._rollout_seconds / max(pace, 1e-3)))
        queue = self.source.queue_size or 1
        wanted = min(queue, max(self.schedule.target(env_steps) - answered, floor))
        return min(wanted - waiting, self.schedule.budget - answered - waiting)


class PacedSource(Protocol):
    queue_size: int | None

    def waiting(self) -> int: ...

    def answered(self) -> int: ...

    def seconds_per_label(self) -> float | None: ...
