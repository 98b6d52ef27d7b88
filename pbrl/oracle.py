"""Judges behind one interface: the synthetic teachers of B-Pref (Lee et al. 2021).

A teacher compares clips by their (hidden) true returns:
``P(a > b) = softmax(beta * sum_t gamma^(H-1-t) r_t)``; ``beta = inf`` is the perfect
teacher; with probability ``eps_mistake`` the answer is flipped; a query whose clips all
have an undiscounted return below the skip threshold is skipped; clips whose returns are
within the equal threshold (or, for the perfect teacher, exactly equal) are labelled equal. As
in B-Pref, the thresholds are fractions (``eps_skip``, ``eps_equal``) of a margin, the average
true return of a clip-length piece of an episode, which the trainer keeps up to date
(:meth:`SyntheticTeacher.set_margin`).
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from pbrl.asking import AskRule, ScheduledAsk
from pbrl.errors import InputError
from pbrl.schedule import LabelSchedule
from pbrl.store_base import LabelStore
from pbrl.types import Clip, Label, Outcome, Query


class PreferenceSource(ABC):
    """Where labels come from: a synthetic teacher here, people through the store later.

    ``request`` hands over queries (with their clips); ``poll`` returns the labels that have
    arrived since the last call and never blocks. A source that people answer sets
    ``queue_size``: the trainer then keeps that many fresh queries waiting instead of
    following the label schedule, and publishes queries once their clips' media exist.
    """

    queue_size: int | None = None

    @abstractmethod
    def request(self, queries: Sequence[Query], clips: Mapping[str, Clip]) -> None: ...

    @abstractmethod
    def poll(self) -> list[Label]: ...

    def publish(self, store: LabelStore, queries: Sequence[Query], clips: Mapping[str, Clip],
                created_at: float, model_version: int) -> None:
        """Put the queries and their clips in the run's store (at once; people's source renders
        their media first, in the background, and stores each query as its clips are ready)."""
        store.add_queries(queries, created_at, clips.values(), model_version=model_version)

    def drain(self) -> None:  # noqa: B027 (an optional hook: a no-op unless overridden)
        """Wait until every query handed to :meth:`publish` is in the store."""

    def retracted(self) -> list[str]:
        """Queries whose labels were withdrawn since the last call (a person pressed undo)."""
        return []

    def waiting(self) -> int:
        """Queries asked and not yet answered."""
        return 0

    def seconds_per_label(self) -> float | None:
        """How long an answer takes (None: at once, or not known yet)."""
        return None

    #: people answer through the run's store (the rating app): they write the labels, and the
    #: trainer waits for their first ones and keeps its status there for them
    people = False

    def asking(self, schedule: LabelSchedule) -> AskRule:
        """The rule for how many queries to ask: by default on the label schedule."""
        return ScheduledAsk(schedule)

    def observe_pool(self, pool: Sequence[Clip]) -> None:  # noqa: B027 (an optional hook: a no-op unless overridden)
        """Called with the query candidates before each round of queries."""

    def resume_after(self, label_id: int, retraction_id: int) -> None:  # noqa: B027 (an optional hook, as above)
        """A resumed run has read the store's labels and retractions up to these row ids."""


@dataclass(frozen=True)
class TeacherConfig:
    """B-Pref's teacher parameters.

    :param beta: rationality; ``inf`` answers by the larger return (perfect teacher).
    :param gamma: myopia; weight ``gamma^(H-1-t)`` on the reward of step t (1: not myopic).
    :param eps_mistake: probability of flipping the answer.
    :param eps_skip: skip when every clip's return is below ``eps_skip * margin``.
    :param eps_equal: label equal when returns differ by less than ``eps_equal * margin``.
    """

    beta: float = math.inf
    gamma: float = 1.0
    eps_mistake: float = 0.0
    eps_skip: float = 0.0
    eps_equal: float = 0.0

    def __post_init__(self) -> None:
        if not self.beta > 0:
            raise InputError(f"teacher beta must be > 0 (inf for a perfect teacher), got {self.beta}")
        if not 0 < self.gamma <= 1:
            raise InputError(f"teacher gamma must be in (0, 1], got {self.gamma}")
        for name in ("eps_mistake", "eps_skip", "eps_equal"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise InputError(f"teacher {name} must be in [0, 1], got {value}")


# B-Pref's named teachers (Lee et al. 2021, table 1 settings).
TEACHERS: dict[str, TeacherConfig] = {
    "perfect": TeacherConfig(),
    "boltzmann": TeacherConfig(beta=1.0),
    "myopic": TeacherConfig(gamma=0.9),
    "mistake": TeacherConfig(eps_mistake=0.1),
    "skip": TeacherConfig(eps_skip=0.1),
    "equal": TeacherConfig(eps_equal=0.1),
}


def teacher_config(name: str, **overrides: float) -> TeacherConfig:
    """A named teacher, optionally with parameters changed (``teacher_config("boltzmann", beta=0.5)``)."""
    if name not in TEACHERS:
        raise InputError(f"unknown teacher {name!r}; choose one of {', '.join(TEACHERS)}")
    return replace(TEACHERS[name], **overrides)


class AnsweringSource(PreferenceSource):
    """A source that answers each query at once, when asked (``answer``): synthetic teachers
    and AI judges."""

    def __init__(self) -> None:
        self._ready: list[Label] = []

    @abstractmethod
    def answer(self, query: Query, clips: Sequence[Clip]) -> Label: ...

    def request(self, queries: Sequence[Query], clips: Mapping[str, Clip]) -> None:
        for query in queries:
            self._ready.append(self.answer(query, [clips[c] for c in query.clip_ids]))

    def poll(self) -> list[Label]:
        ready, self._ready = self._ready, []
        return ready


class SyntheticTeacher(AnsweringSource):
    """Answers queries from the clips' true rewards; deterministic given ``seed``.

    :param config: the teacher's parameters.
    :param seed: seeds the teacher's own random generator (Boltzmann choice, mistakes).
    :param margin: initial margin for the skip / equal thresholds (see module docstring).
    """

    def __init__(self, config: TeacherConfig, seed: int = 0, margin: float = 1.0) -> None:
        super().__init__()
        self.config = config
        self.rng = np.random.default_rng(seed)
        self.margin = float(margin)

    def observe_pool(self, pool: Sequence[Clip]) -> None:
        # B-Pref: the thresholds scale with the average true return of a clip (signed)
        self.set_margin(float(np.mean([c.true_rewards.sum() for c in pool])))

    def set_margin(self, margin: float) -> None:
        """B-Pref's margin: the average true return of a clip (signed, as in B-Pref; its skip
        rule is meant for tasks with positive rewards)."""
        self.margin = float(margin)

    def discounted_return(self, clip: Clip) -> float:
        horizon = clip.horizon
        weights = self.config.gamma ** (horizon - 1 - np.arange(horizon))
        return float(np.sum(weights * clip.true_rewards))

    def answer(self, query: Query, clips: Sequence[Clip]) -> Label:
        """The teacher's label for one query."""
        cfg = self.config
        now = time.time()
        returns = np.array([float(np.sum(c.true_rewards)) for c in clips])
        if cfg.eps_skip > 0 and np.all(returns < cfg.eps_skip * self.margin):
            return Label(query.query_id, Outcome.SKIP, shown_at=now, answered_at=now)
        scores = np.array([self.discounted_return(c) for c in clips])
        equal = cfg.eps_equal > 0 and (returns.max() - returns.min()) < cfg.eps_equal * abs(self.margin)
        # a rational judge has no preference between clips that are exactly as good
        if equal or (math.isinf(cfg.beta) and np.ptp(scores) == 0):
            # a ranking cannot say "all equal": a K-wise query is skipped instead
            outcome = Outcome.EQUAL if len(clips) == 2 else Outcome.SKIP
            return Label(query.query_id, outcome, shown_at=now, answered_at=now)
        ranking = self._rank(scores)
        if cfg.eps_mistake > 0 and self.rng.random() < cfg.eps_mistake:
            ranking = ranking[::-1] if len(ranking) == 2 else self._swap_adjacent(ranking)
        if len(clips) == 2:
            outcome = Outcome.LEFT if ranking[0] == 0 else Outcome.RIGHT
            return Label(query.query_id, outcome, shown_at=now, answered_at=now)
        return Label(query.query_id, None, ranking=tuple(int(i) for i in ranking), shown_at=now, answered_at=now)

    def _rank(self, scores: np.ndarray) -> list[int]:
        """Best-first ranking: sorted for beta = inf, else Plackett-Luce sampling with beta."""
        if math.isinf(self.config.beta):
            # ties break towards the earlier clip, deterministically
            return [int(i) for i in np.argsort(-scores, kind="stable")]
        remaining = list(range(len(scores)))
        ranking = []
        while remaining:
            logits = self.config.beta * scores[remaining]
            p = np.exp(logits - logits.max())
            p /= p.sum()
            pick = int(self.rng.choice(len(remaining), p=p))
            ranking.append(remaining.pop(pick))
        return ranking

    def _swap_adjacent(self, ranking: list[int]) -> list[int]:
        ranking = list(ranking)
        i = int(self.rng.integers(len(ranking) - 1))
        ranking[i], ranking[i + 1] = ranking[i + 1], ranking[i]
        return ranking
