"""The reward model's settings (:class:`RewardModelConfig`), apart from the model so that its
member networks and encoders, which read them, sit below it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from pbrl.errors import InputError, check_numbers

COMBINE = ("mean", "pessimistic", "optimistic")
# the settings a family may set (Family.reward_defaults), and pbrl's values where neither the
# user nor the family sets them
BASE_REWARD_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {"lr": 3e-4, "l2": 1e-3, "epochs": 4.0, "min_steps": 50, "use_actions": False, "max_labels": 0,
     "batch_size": 64, "scale": 1.0})


@dataclass(frozen=True)
class RewardModelConfig:
    """Reward-model hyperparameters (defaults after Christiano et al. 2017 and B-Pref).

    The fields that default to None take the env family's value, else
    :data:`BASE_REWARD_DEFAULTS` (see :meth:`resolved`); a value the user gives always wins.
    """

    n_members: int = 3
    """ensemble size"""
    hidden: tuple[int, ...] = (64, 64)
    """MLP hidden layer widths"""
    lr: float | None = None
    """Adam learning rate (None: the family's default, e.g. 3e-4; 1e-3 for text)"""
    batch_size: int | None = None
    """comparisons per gradient step, fewer for long clips: see max_batch_steps (None: the
    family's default, e.g. 64; 8 for Atari, whose CNN trains 1.8x faster per frame in batches of 8
    pairs than of 64 on this CPU: BENCHMARKS.md's atari speed table)"""
    max_batch_steps: int = 4096
    """env steps (clip steps x clips) one member sees per gradient step, at most"""
    max_eval: int = 512
    """comparisons (a seeded random subset) on which train / validation losses are measured"""
    epochs: float | None = None
    """passes over each member's bootstrap sample per fit (None: the family's default, e.g. 4; 20 for text)"""
    min_steps: int | None = None
    """gradient steps per member per fit, at least (None: the family's default, e.g. 50; 300 for text)"""
    max_labels: int | None = None
    """fit on the most recent this many labels only, 0 for all (None: the family's default, e.g.
    0; 3000 for Atari, the paper's buffer, which bounds a fit's time and memory)"""
    l2: float | None = None
    """initial (or fixed) L2 weight (None: the family's default, e.g. 1e-3; 1e-6 for text, where
    1e-3 on the sum of every squared weight holds a transformer at zero)"""
    adapt_l2: bool = True
    """adapt L2 so validation loss stays at 1.1-1.5x training loss"""
    dropout: float = 0.0
    """dropout probability (the CNN defaults to 0.5 when this is 0)"""
    use_actions: bool | None = None
    """feed the action to the MLP beside the observation, r(s, a) as in the paper (None: the
    family's default, e.g. r(s, a) for MuJoCo, r(s) for classic control, where Pendulum's
    policy gamed an r(s, a) model (200 labels: 3 of 5 seeds failed; see BENCHMARKS.md))"""
    use_next_obs: bool = False
    """rate the observation each action led to (r(s')) instead of the one it was taken in"""
    noise: float = 0.1
    """probability that the judge answers at random, in the likelihood"""
    combine: str = "mean"
    """mean, pessimistic (mean - k*std) or optimistic (mean + k*std)"""
    k: float = 1.0
    """the k of pessimistic / optimistic"""
    scale: float | None = None
    """the agent's reward is the normalised prediction (unit standard deviation over recent
    behaviour) times this (None: the family's default, e.g. 1; 0.05 for Atari, the paper's:
    the policy and value share the CNN, and a dense reward of unit scale gives value targets
    that swamp the policy's gradient; true Atari rewards are sparse and clipped to +-1)"""
    learn_absorbing: bool = False
    """where episodes can end early: rate the state after termination with the model too (the
    terminal observation stands for every padded step of a clip cut short) instead of fixing
    its reward at 0, and give the agent rewards relative to it (BENCHMARKS.md compares both
    on CartPole)"""
    crop: float = 0.0
    """temporal cropping while fitting (SURF, Park et al. 2022): each comparison's clips are
    rated on windows of one random length, down to (1 - crop) of the clip, each at its own
    random start; 0 rates whole clips (SURF also grows windows past the labelled steps from
    longer recorded segments; pbrl's clips have no steps beyond them, so its crop only shrinks)"""
    pseudo_weight: float = 0.0
    """weight of SURF's pseudo-labels (0: none): while fitting, random groups of recent
    unlabelled clips that a member already orders with confidence >= pseudo_threshold are
    labelled by it and trained on (cropped like the labels, with the same label-noise model as
    the real labels), beside the real labels"""
    pseudo_threshold: float = 0.95
    """the confidence a member needs in its best clip of an unlabelled group to label it"""

    def __post_init__(self) -> None:
        if not self.hidden:
            raise InputError("hidden must name at least one layer width, e.g. (64, 64)")
        if self.n_members < 1:
            raise InputError(f"n_members must be >= 1, got {self.n_members}")
        if self.combine not in COMBINE:
            raise InputError(f"combine must be one of {COMBINE}, got {self.combine!r}")
        if not 0 <= self.noise < 1:
            raise InputError(f"noise must be in [0, 1), got {self.noise}")
        if not (math.isfinite(self.pseudo_weight) and self.pseudo_weight >= 0) or not 0.5 <= self.pseudo_threshold < 1:
            raise InputError(f"pseudo_weight must be >= 0 and pseudo_threshold in [0.5, 1), got "
                             f"{self.pseudo_weight} and {self.pseudo_threshold}")
        if not 0 <= self.crop < 1:
            raise InputError(f"crop must be in [0, 1) (the share of a clip a crop may cut off), got {self.crop}")
        if not 0 <= self.dropout < 1:
            raise InputError(f"dropout must be in [0, 1), got {self.dropout}")
        if not all(width >= 1 for width in self.hidden):
            raise InputError(f"--hidden widths must be >= 1, got {self.hidden}")
        check_numbers(self, {"k": "--reward-k (--std-k)", "n_members": "--members"}, lr="> 0", l2=">= 0",
                      epochs="> 0", min_steps=">= 0", max_labels=">= 0", batch_size=">= 1", max_batch_steps=">= 1",
                      max_eval=">= 1", scale="> 0",
                      k=">= 0")

    def resolved(self, defaults: Mapping[str, Any] = MappingProxyType({})) -> RewardModelConfig:
        """These settings with every field left at None filled from ``defaults`` (a family's
        ``reward_defaults``), then from :data:`BASE_REWARD_DEFAULTS`.

        :param defaults: values of fields of :data:`BASE_REWARD_DEFAULTS` (others are an error:
            a family cannot override what the user set).
        """
        unknown = sorted(set(defaults) - set(BASE_REWARD_DEFAULTS))
        if unknown:
            raise InputError(f"reward defaults may set {', '.join(BASE_REWARD_DEFAULTS)}; not {', '.join(unknown)}")
        filled = {}
        for name, base in BASE_REWARD_DEFAULTS.items():
            if getattr(self, name) is None:
                value = defaults.get(name)
                filled[name] = base if value is None else value
        return replace(self, **filled) if filled else self
