import math
from itertools import pairwise

import numpy as np
import pytest

from pbrl.schedule import LabelSchedule
from pbrl.types import Clip, Label, Outcome, Query


def test_schedule_starts_with_the_initial_labels_and_spends_the_budget_by_the_horizon():
    s = LabelSchedule(budget=100, horizon=10_000, initial_fraction=0.1)
    assert s.initial == 10
    assert s.target(0) == 10
    assert s.target(10_000) == s.target(50_000) == 100
    targets = [s.target(t) for t in range(0, 10_001, 500)]
    assert targets == sorted(targets)
    # log(1 + T/c) / log(1 + horizon/c), c = horizon / 10, at T = 1000: log 2 / log 11
    assert s.target(1000) == 10 + int(90 * math.log(2) / math.log(11))


def test_schedule_rate_decreases():
    s = LabelSchedule(budget=1000, horizon=100_000)
    gains = [s.target(t + 10_000) - s.target(t) for t in range(0, 90_000, 10_000)]
    assert all(a >= b for a, b in pairwise(gains))


def test_schedule_rejects_a_budget_below_one():
    with pytest.raises(ValueError, match="label budget must be >= 1"):
        LabelSchedule(budget=0, horizon=10)


def test_clip_query_label_validate_themselves():
    z = np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError, match="same length"):
        Clip("c", "e", z, z[:2], np.zeros(3), 3)
    with pytest.raises(ValueError, match="length must be in 1..3"):
        Clip("c", "e", z, z, np.zeros(3), 4)
    assert Clip("c", "e", z, z, np.zeros(3), 2).mask.tolist() == [1, 1, 0]
    with pytest.raises(ValueError, match="at least 2 clips"):
        Query("q", ("a",))
    with pytest.raises(ValueError, match="same clip twice"):
        Query("q", ("a", "a"))
    with pytest.raises(ValueError, match="exactly one of outcome or ranking"):
        Label("q", Outcome.LEFT, ranking=(0, 1))
    with pytest.raises(ValueError, match="not a permutation"):
        Label("q", None, ranking=(0, 0, 1))
    assert Label("q", "left").outcome is Outcome.LEFT
