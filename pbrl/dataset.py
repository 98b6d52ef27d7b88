"""The labelled comparisons a reward model trains on, with a fixed validation split."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pbrl.errors import InputError
from pbrl.types import Clip, Label, Outcome, Query

VALIDATION_FRACTION = 1 / math.e  # the paper holds out 1/e of the labels


@dataclass(frozen=True)
class Comparison:
    """A query's clips with its training target.

    :param clip_ids: clips in the order shown.
    :param target_left: for pairs, P(first clip better): 1, 0 or 0.5 (equal).
    :param ranking: for K > 2, positions best first.
    """

    clip_ids: tuple[str, ...]
    target_left: float | None = None
    ranking: tuple[int, ...] | None = None
    query_id: str = ""


class PreferenceDataset:
    """Comparisons plus the clips they refer to; each label is assigned to training or
    validation once, at random (``VALIDATION_FRACTION``), and stays there.

    :param seed: seeds the validation assignment.
    :param validation_fraction: share of labels held out.
    """

    def __init__(self, seed: int = 0, validation_fraction: float = VALIDATION_FRACTION) -> None:
        if not 0 <= validation_fraction < 1:
            raise InputError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
        self.clips: dict[str, Clip] = {}
        self.comparisons: list[Comparison] = []
        self.is_validation: list[bool] = []
        self.validation_fraction = validation_fraction
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.comparisons)

    def add(self, query: Query, label: Label, clips: dict[str, Clip]) -> bool:
        """Add a labelled query; returns False (and adds nothing) for a skipped one."""
        if label.skipped:
            return False
        if label.ranking is not None:
            if len(label.ranking) != len(query.clip_ids):
                raise InputError(f"label for {query.query_id}: ranking of {len(label.ranking)} for "
                                 f"{len(query.clip_ids)} clips")
            comparison = Comparison(query.clip_ids, ranking=label.ranking, query_id=query.query_id)
        else:
            if len(query.clip_ids) != 2:
                raise InputError(f"label for {query.query_id}: an outcome answers a pair; rank K > 2 clips")
            assert label.outcome is not None  # a Label holds exactly one of outcome and ranking
            target = {Outcome.LEFT: 1.0, Outcome.RIGHT: 0.0, Outcome.EQUAL: 0.5}[label.outcome]
            comparison = Comparison(query.clip_ids, target_left=target, query_id=query.query_id)
        for clip_id in query.clip_ids:
            self.clips[clip_id] = clips[clip_id]
        self.comparisons.append(comparison)
        # the first label always trains; after that, each is held out with the fixed probability
        self.is_validation.append(len(self.comparisons) > 1 and bool(self._rng.random() < self.validation_fraction))
        return True

    def remove(self, query_id: str) -> bool:
        """Drop a query's comparison (a person undid the label); False if it is not here."""
        for i, comparison in enumerate(self.comparisons):
            if comparison.query_id == query_id:
                del self.comparisons[i], self.is_validation[i]
                return True
        return False

    def snapshot(self) -> PreferenceDataset:
        """A copy that later ``add`` calls do not change (clips are shared, they are frozen)."""
        copy = PreferenceDataset.__new__(PreferenceDataset)
        copy.clips = dict(self.clips)
        copy.comparisons = list(self.comparisons)
        copy.is_validation = list(self.is_validation)
        copy.validation_fraction = self.validation_fraction
        copy._rng = self._rng
        return copy

    def recent(self, n: int) -> PreferenceDataset:
        """The last ``n`` comparisons (each in the split it was given) and the clips they show."""
        copy = self.snapshot()
        copy.comparisons, copy.is_validation = self.comparisons[-n:], self.is_validation[-n:]
        copy.clips = {c: self.clips[c] for comp in copy.comparisons for c in comp.clip_ids}
        return copy

    def split(self) -> tuple[np.ndarray, np.ndarray]:
        """Indices of (training, validation) comparisons."""
        flags = np.array(self.is_validation, dtype=bool)
        return np.flatnonzero(~flags), np.flatnonzero(flags)
