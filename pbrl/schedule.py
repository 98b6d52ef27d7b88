"""When labels are asked for: an initial batch from the first policy, then a rate that
decreases as ``c / (T + c)`` (Christiano et al. 2017) until the budget is spent."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pbrl.errors import InputError


@dataclass(frozen=True)
class LabelSchedule:
    """Labels wanted by env step T.

    ``target(T) = initial + (budget - initial) * log(1 + T/c) / log(1 + horizon/c)`` for
    T < horizon, the integral of a rate proportional to ``c / (T + c)``; all of the budget
    by ``horizon``.

    :param budget: total labels.
    :param horizon: env step by which the budget is spent.
    :param initial_fraction: share of the budget asked for from the first (random) policy.
    :param c: the rate's time constant, in env steps (default: horizon / 10).
    """

    budget: int
    horizon: int
    initial_fraction: float = 0.1
    c: float | None = None

    def __post_init__(self) -> None:
        if self.budget < 1:
            raise InputError(f"the label budget must be >= 1, got {self.budget}")
        if self.horizon < 1:
            raise InputError(f"the label horizon must be >= 1 env step, got {self.horizon}")
        if not 0 <= self.initial_fraction <= 1:
            raise InputError(f"initial_fraction must be in [0, 1], got {self.initial_fraction}")

    @property
    def initial(self) -> int:
        return max(1, round(self.budget * self.initial_fraction))

    def target(self, step: int) -> int:
        if step >= self.horizon:
            return self.budget
        c = self.c or self.horizon / 10
        share = math.log1p(max(step, 0) / c) / math.log1p(self.horizon / c)
        return min(self.budget, self.initial + int((self.budget - self.initial) * share))
