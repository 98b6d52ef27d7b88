"""Which clips to show together: uniform, ensemble disagreement, or entropy.

Disagreement (Christiano et al. 2017): sample ``oversample`` times more candidate tuples
than needed, score each by the variance across ensemble members of the predicted
probability that its first clip is best, keep the most uncertain. Entropy (B-Pref): score
by the entropy of the ensemble-mean preference.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import numpy as np

from pbrl.errors import InputError
from pbrl.reward_model import RewardEnsemble
from pbrl.types import Clip

STRATEGIES = ("uniform", "disagreement", "entropy")


def _candidates(pool: list[Clip], n: int, k: int, rng: np.random.Generator,
                asked: set[frozenset[str]] | None = None,
                group_of: Callable[[Clip], Hashable | None] | None = None) -> list[list[Clip]]:
    """``n`` random tuples of ``k`` distinct clips, none showing the same clips as another
    or as a tuple in ``asked`` (fewer when the pool cannot form that many new ones). With
    ``group_of``, a tuple's clips share one key (a group of at least ``k``, drawn uniformly,
    then ``k`` of its clips)."""
    seen = set(asked) if asked is not None else set()
    groups: list[list[Clip]] = [pool]
    if group_of is not None:
        by_key: dict[Hashable, list[Clip]] = {}
        for clip in pool:
            by_key.setdefault(group_of(clip), []).append(clip)
        groups = [members for members in by_key.values() if len(members) >= k]
        if not groups:
            return []
    out: list[list[Clip]] = []
    for _ in range(20 * n + 100):  # draws: a pool nearly exhausted of new tuples gives fewer
        if len(out) == n:
            break
        members = groups[int(rng.integers(len(groups)))] if len(groups) > 1 else groups[0]
        group = [members[i] for i in rng.choice(len(members), size=k, replace=False)]
        key = frozenset(c.clip_id for c in group)
        if key not in seen:
            seen.add(key)
            out.append(group)
    return out


def select_queries(
    pool: list[Clip],
    n: int,
    k: int = 2,
    strategy: str = "disagreement",
    model: RewardEnsemble | None = None,
    rng: np.random.Generator | None = None,
    oversample: int = 10,
    asked: set[frozenset[str]] | None = None,
    group_of: Callable[[Clip], Hashable | None] | None = None,
) -> tuple[list[list[Clip]], float]:
    """Pick ``n`` tuples of ``k`` distinct clips from ``pool``, none of the same clips as
    another or as one already ``asked`` (the clip ids of each query so far).

    :param group_of: the family's :meth:`~pbrl.family.Family.query_group`: a tuple's clips
        share one key (text: one prompt).
    :returns: the tuples (fewer than ``n`` when the pool cannot form that many new ones) and
        their mean score (disagreement or entropy; 0 for uniform).
    """
    if strategy not in STRATEGIES:
        raise InputError(f"unknown query strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if len(pool) < k:
        raise InputError(f"need at least {k} clips to build a query, the pool has {len(pool)}")
    rng = rng if rng is not None else np.random.default_rng()
    if strategy == "uniform" or model is None or not model.fitted:
        return _candidates(pool, n, k, rng, asked, group_of), 0.0
    candidates = _candidates(pool, n * oversample, k, rng, asked, group_of)
    if not candidates:
        return [], 0.0
    probs = model.preference_probabilities(candidates)  # [M, B]
    if strategy == "disagreement":
        scores = probs.var(0)
    else:
        p = np.clip(probs.mean(0), 1e-6, 1 - 1e-6)
        scores = -(p * np.log(p) + (1 - p) * np.log(1 - p))
    best = np.argsort(-scores, kind="stable")[:n]
    return [candidates[i] for i in best], float(scores[best].mean())
