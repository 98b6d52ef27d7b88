"""How well the learned reward describes the current policy's behaviour, measured at each
refit on clips the teacher never saw: the share of pairs the ensemble orders as their true
returns do, and the correlation of predicted and true per-step reward. Held-out labels (the
fit's validation accuracy) come from the policies that were queried; these come from the
policy the reward now trains, which is where a reward model that is right on old behaviour
can be wrong (BENCHMARKS.md: CartPole's reward rising towards the track's ends)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pbrl.reward_model import RewardEnsemble
from pbrl.store_base import LabelStore
from pbrl.types import Clip


def or_nan(value: float | None) -> float:
    """``value`` as a float, NaN for None (a CSV column that was not measured)."""
    return float("nan") if value is None else float(value)


def fresh_accuracy(model: RewardEnsemble, clips: Sequence[Clip], rng: np.random.Generator,
                   pairs: int = 256) -> float | None:
    """Share of random pairs of ``clips`` with different true returns whose order the
    ensemble's mean predicted return gets right (None: fewer than one such pair)."""
    if len(clips) < 2:
        return None
    true = np.array([float(c.true_rewards[: c.length].sum()) for c in clips])
    predicted = model.clip_returns(list(clips)).mean(0)
    left, right = rng.integers(0, len(clips), size=(2, pairs))
    strict = np.abs(true[left] - true[right]) > 1e-9 * (1 + np.abs(true).max())
    if not strict.any():
        return None
    agree = np.sign(predicted[left] - predicted[right]) == np.sign(true[left] - true[right])
    return float(agree[strict].mean())


def reward_correlation(model: RewardEnsemble, clips: Sequence[Clip]) -> float | None:
    """Pearson correlation of predicted and true per-step reward over ``clips``' real steps."""
    if not clips:
        return None
    obs = np.concatenate([c.obs[: c.length] for c in clips])
    next_obs = None
    if all(c.next_obs is not None for c in clips):  # an r(s') model rates where each step led
        next_obs = np.concatenate([c.next_obs[: c.length] for c in clips if c.next_obs is not None])
    actions = np.concatenate([c.actions[: c.length] for c in clips])
    true = np.concatenate([c.true_rewards[: c.length] for c in clips])
    predicted = model.predict_reward(obs, actions, next_obs)
    if true.std() < 1e-12 or predicted.std() < 1e-12:
        return None
    return float(np.corrcoef(true, predicted)[0, 1])


@dataclass(frozen=True)
class Landscape:
    """The learned reward over two observation dimensions, the others at their median over
    recent clips. ``reward[i, j]`` is at ``(x[j], y[i])``; ``visited`` are recent states."""

    dims: tuple[int, int]
    x: np.ndarray
    y: np.ndarray
    reward: np.ndarray
    visited: np.ndarray


def reward_landscape(model: RewardEnsemble, clips: Sequence[Clip], grid: int = 41) -> Landscape | None:
    """The learned reward across the two observation dimensions along which it varies most
    (each swept over its range in ``clips``, the rest held at their median); None for
    observations that are not a flat vector (frames, text)."""
    if not clips or clips[0].obs.ndim != 2 or clips[0].obs.dtype.kind not in "f":
        return None
    obs = np.concatenate([c.obs[: c.length] for c in clips]).astype(np.float32)
    actions = np.concatenate([c.actions[: c.length] for c in clips])
    action = np.median(actions, axis=0).astype(actions.dtype)  # the policy's typical action (r(s, a) models)
    low, high, centre = np.percentile(obs, 1, 0), np.percentile(obs, 99, 0), np.median(obs, 0)
    spread = []
    for d in range(obs.shape[1]):
        sweep = np.repeat(centre[None], grid, 0)
        sweep[:, d] = np.linspace(low[d], high[d], grid)
        spread.append(float(np.ptp(_rate(model, sweep, np.repeat(action[None], grid, 0)))))
    first, second = (int(d) for d in np.argsort(spread)[::-1][:2]) if obs.shape[1] > 1 else (0, 0)
    x, y = np.linspace(low[first], high[first], grid), np.linspace(low[second], high[second], grid)
    points = np.repeat(centre[None], grid * grid, 0)
    points[:, first] = np.tile(x, grid)
    points[:, second] = np.repeat(y, grid)
    reward = _rate(model, points, np.repeat(action[None], grid * grid, 0)).reshape(grid, grid)
    return Landscape((first, second), x, y, reward, obs[:, [first, second]])


def _rate(model: RewardEnsemble, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """The learned reward of being in ``states`` (an r(s') model: of reaching them)."""
    return model.predict_reward(states, actions, states)


def label_agreement(store: LabelStore) -> dict[str, float | int] | None:
    """How often a run's labels order its clips as their hidden returns do: over every pair of
    clips in a labelled query (a ranking gives all its pairs) whose true returns differ, the
    share whose label puts the better one first; "equal" counts as not agreeing, skips are not
    labels. For a judge or people, the quality of the labels themselves (a perfect teacher
    scores 1). None when no labelled pair differs in true return."""
    returns: dict[str, float] = {}

    def true_return(clip_id: str) -> float:
        if clip_id not in returns:
            clip = store.clip(clip_id)
            returns[clip_id] = float(clip.true_rewards[: clip.length].sum())
        return returns[clip_id]

    agree = pairs = ties = 0
    for record in store.label_records():
        clip_ids = json.loads(record["clip_ids"])
        if record["ranking"] is not None:  # positions, best first: every pair ordered
            order = [clip_ids[i] for i in json.loads(record["ranking"])]
            judged = [(a, b, True) for n, a in enumerate(order) for b in order[n + 1:]]
        elif record["outcome"] in ("left", "right"):
            first, second = clip_ids if record["outcome"] == "left" else clip_ids[::-1]
            judged = [(first, second, True)]
        elif record["outcome"] == "equal":
            judged = [(clip_ids[0], clip_ids[1], False)]
        else:
            continue
        for first, second, ordered in judged:
            difference = true_return(first) - true_return(second)
            if abs(difference) <= 1e-9 * (1 + abs(true_return(first))):
                ties += 1
            else:
                pairs += 1
                agree += ordered and difference > 0
    if not pairs:
        return None
    return {"agreement": agree / pairs, "pairs": pairs, "hidden_ties": ties}
