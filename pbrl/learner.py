"""The labelling side of a run (Christiano et al. 2017, section 2.2): ask for comparisons of
the policy's recent clips, collect the answers, refit the reward ensemble on them.

How many queries to ask is the source's rule (:mod:`pbrl.asking`); a refit runs between
rollouts, or beside the policy in a background thread (:class:`BackgroundFit`, the paper's
asynchronous design).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from pbrl.clips import ClipRecorder
from pbrl.dataset import PreferenceDataset
from pbrl.diagnostics import fresh_accuracy, or_nan, reward_correlation
from pbrl.oracle import PreferenceSource
from pbrl.query import select_queries
from pbrl.reward_model import FitReport, RewardEnsemble
from pbrl.schedule import LabelSchedule
from pbrl.store_base import LabelStore
from pbrl.types import Clip, Query


@dataclass(frozen=True)
class LearnerSettings:
    """The learner's share of a run's configuration.

    :param k: clips per query.
    :param query: the query strategy (``pbrl.query.STRATEGIES``).
    :param budget: the label budget.
    :param refit_growth: refit when the labels have grown by this factor (and when the budget is complete).
    :param fit_lag: > 0: refit in the background; the new model lands this many env steps later.
    :param seed: seeds the learner's query selection and its dataset's validation split.
    """

    k: int
    query: str
    budget: int
    refit_growth: float
    fit_lag: int
    seed: int


class BackgroundFit:
    """A refit on a copy of the model in a worker thread; it replaces the model at the first
    call at or after a fixed env step (a fixed point, so seeded runs reproduce)."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._pending: tuple[Future[FitReport], RewardEnsemble, int] | None = None

    @property
    def busy(self) -> bool:
        return self._pending is not None

    def start(self, model: RewardEnsemble, dataset: PreferenceDataset, clips: list[Clip], land_at: int) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pbrl-reward-fit")
        clone = copy.deepcopy(model)
        self._pending = (self._executor.submit(clone.fit, dataset.snapshot(), clips), clone, land_at)

    def land(self, env_steps: int, force: bool = False) -> tuple[RewardEnsemble, FitReport] | None:
        """The new model and its report once its env step has come (waiting for the fit if it
        is still running), else None."""
        if self._pending is None or (env_steps < self._pending[2] and not force):
            return None
        future, clone, _ = self._pending
        self._pending = None
        return clone, future.result()

    def close(self) -> None:
        """Stop the thread (a fit still running is waited for)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        self._pending = None


class PreferenceLearner:
    """Asks for labels, reads them into the dataset, refits the reward model.

    :param settings: the learner's settings.
    :param recorder: the clip recorder on the training env (the query candidates).
    :param model: the reward ensemble.
    :param source: where labels come from (teacher, judge or people).
    :param store: the run's durable label store.
    :param schedule: labels wanted by env step.
    :param reference_zero: the reward's zero is set on the first (reference) policy's clips
        and kept (text: the SFT policy's responses), instead of following recent behaviour.
    :param group_of: a query's clips share this key (the family's ``query_group``; text: the prompt).
    """

    def __init__(self, settings: LearnerSettings, recorder: ClipRecorder, model: RewardEnsemble,
                 source: PreferenceSource, store: LabelStore, schedule: LabelSchedule,
                 reference_zero: bool = False, group_of: Callable[[Clip], Hashable | None] | None = None) -> None:
        self.group_of = group_of
        self.settings, self.recorder, self.model, self.source, self.store = settings, recorder, model, source, store
        self.asking = source.asking(schedule)
        self.min_first_fit = self.asking.min_first_fit
        self.dataset = PreferenceDataset(seed=settings.seed)
        self.rng = np.random.default_rng(settings.seed + 1)
        self.queries: dict[str, Query] = {}
        self._asked_sets: set[frozenset[str]] = set()  # the clips of every query: none is asked twice
        self._asked_clips: dict[str, Clip] = {}
        self.asked = 0
        self.last_fit: FitReport | None = None
        self.last_disagreement = 0.0
        self.model_version = 1 if model.fitted else 0  # fits so far; stored with each query
        self.last_fit_at: float | None = None
        # called with the model after every fit (in place, or a background fit swapped in)
        self.on_new_model: Callable[[RewardEnsemble], None] | None = None
        self._fit_labels = 0  # labels in the last fit started
        self._env_steps = 0  # at the last step()
        self.background = BackgroundFit()
        self.refits: list[dict[str, float]] = []  # one row per refit (pbrl.diagnostics), RUN/refits.csv
        # kept in the store so that a resumed run keeps the same zero
        self.reference: list[Clip] | None = [] if reference_zero else None

    @property
    def labels(self) -> int:
        return len(self.dataset)

    def step(self, env_steps: int) -> bool:
        """Ask for the labels wanted by ``env_steps``; read those that arrived; refit if due.
        Returns whether a fit started."""
        self._env_steps = env_steps
        self._land(env_steps)
        need = self.asking.wanted(env_steps, self.labels)
        if need > 0 and len(self.recorder.pool) >= self.settings.k:
            self._ask(list(self.recorder.pool), need, env_steps)
        self._collect()
        return self._refit_if_due(env_steps)

    def _ask(self, pool: list[Clip], n: int, env_steps: int) -> None:
        self.source.observe_pool(pool)
        groups, score = select_queries(pool, n, self.settings.k, self.settings.query, self.model, self.rng,
                                       asked=self._asked_sets, group_of=self.group_of)
        if not groups:
            return  # every tuple of the pool was asked: the next rollout brings new clips
        self.last_disagreement = score
        queries = []
        for group in groups:
            query = Query(f"q{self.asked}", tuple(c.clip_id for c in group), env_steps)
            self.asked += 1
            self._remember(query)
            queries.append(query)
        clips = {c.clip_id: c for g in groups for c in g}
        self._asked_clips.update(clips)
        self.source.publish(self.store, queries, clips, time.time(), self.model_version)
        self.source.request(queries, clips)

    def _collect(self) -> None:
        for query_id in self.source.retracted():  # undone before the new labels: a redo comes after
            self.dataset.remove(query_id)
        for label in self.source.poll():
            if not self.source.people:  # people's labels are in the store already
                self.store.add_label(label)
            query = self.queries.get(label.query_id) or self.store.query(label.query_id)
            self.dataset.add(query, label, {cid: self._clip(cid) for cid in query.clip_ids})
        self._asked_clips.clear()  # a synthetic source answers at once; later ones come from the store

    def _refit_if_due(self, env_steps: int) -> bool:
        fitted_on, s = self._fit_labels, self.settings
        due = self.labels >= fitted_on * s.refit_growth or self.labels >= s.budget
        if not (due and self.labels > fitted_on) or self.background.busy:
            return False
        if not self.model.fitted and self.labels < self.min_first_fit:
            return False
        self._fit_labels = self.labels
        clips = self._zero_clips()
        if not self.model.fitted or s.fit_lag <= 0 or self.model.config.dropout > 0:
            # foreground: the first fit (the agent needs a reward), or dropout, whose random
            # draws would share torch's generator with the policy across threads
            self.last_fit = self.model.fit(self.dataset, clips)
            self._fitted(env_steps)
        else:
            self.background.start(self.model, self.dataset, clips, env_steps + s.fit_lag)
        return True

    def _zero_clips(self) -> list[Clip]:
        """The clips whose predicted reward sets its zero: recent behaviour, or the reference
        policy's clips (recorded before the first fit: the policy learns only after it)."""
        recent = self.recorder.recent(200)
        if self.reference is None:
            return recent
        if not self.reference:
            self.reference = recent
            self.store.add_clips(recent)
            self.store.set_status(reference_clips=[c.clip_id for c in recent])
        return self.reference

    def _land(self, env_steps: int, force: bool = False) -> None:
        """Swap in the model of a finished background fit once its env step has come."""
        landed = self.background.land(env_steps, force)
        if landed is None:
            return
        self.model, self.last_fit = landed
        self._fitted(env_steps)

    def _fitted(self, env_steps: int) -> None:
        """A fit has landed (in place, or a background fit's model swapped in)."""
        self.model_version += 1
        self.last_fit_at = time.time()
        self._diagnose(env_steps)
        if self.on_new_model is not None:
            self.on_new_model(self.model)

    def restore_refits(self, refits: list[dict[str, float]]) -> None:
        """A resumed run's refits.csv rows; the last stands for the last fit until the next one
        (its validation accuracy and time: the losses are not kept)."""
        self.refits = refits
        if refits:
            last = refits[-1]
            accuracy = None if np.isnan(last["val_accuracy"]) else float(last["val_accuracy"])
            self.last_fit = FitReport(labels=int(last["labels"]), train_loss=float("nan"), val_loss=None,
                                      val_accuracy=accuracy, l2=list(self.model.l2), seconds=last["fit_seconds"])

    def restore(self) -> tuple[int, int]:
        """Read a resumed run's queries and labels back from the store; returns the row ids
        of the last label and the last retraction read (a people's source goes on after them)."""
        # retractions first: one landing after this read is applied by the next poll
        last_retraction = max([i for i, *_ in self.store.retractions_after(0)], default=0)
        rows = self.store.labels_after(0)
        self.asked = self.store.count_queries()
        for query in self.store.queries():
            self._remember(query)
        for _, label in rows:
            query = self.queries[label.query_id]
            self.dataset.add(query, label, {cid: self._clip(cid) for cid in query.clip_ids})
        if self.model.fitted:
            self._fit_labels = self.labels
        if self.reference is not None:
            self.reference = [self.store.clip(cid) for cid in self.store.status().get("reference_clips", [])]
        return (rows[-1][0] if rows else 0), last_retraction

    def _remember(self, query: Query) -> None:
        self.queries[query.query_id] = query
        self._asked_sets.add(frozenset(query.clip_ids))

    def finish(self) -> None:
        """Land a fit still running and stop the background thread."""
        self._land(self._env_steps, force=True)
        self.background.close()

    def _clip(self, clip_id: str) -> Clip:
        """A queried clip: from the asked-about clips, else from the store."""
        return self._asked_clips.get(clip_id) or self.dataset.clips.get(clip_id) or self.store.clip(clip_id)

    def reward_correlation(self, n: int = 100) -> float | None:
        """Pearson correlation of predicted and true per-step reward on the newest clips."""
        return reward_correlation(self.model, self.recorder.recent(n)) if self.model.fitted else None

    def _diagnose(self, env_steps: int) -> None:
        """A row of :attr:`refits`: the new model measured on the current policy's clips that
        no query showed (pbrl.diagnostics), beside its fit's own figures."""
        fresh = [c for c in self.recorder.recent(200) if c.clip_id not in self.dataset.clips]
        rng = np.random.default_rng([self.settings.seed, self.model_version])  # apart from the query draws
        fit = self.last_fit
        self.refits.append({
            "steps": env_steps, "labels": self.labels, "model_version": self.model_version,
            "val_accuracy": or_nan(fit.val_accuracy if fit else None),
            "fresh_accuracy": or_nan(fresh_accuracy(self.model, fresh, rng)),
            "fresh_corr": or_nan(reward_correlation(self.model, fresh)),
            "fit_seconds": fit.seconds if fit else float("nan"),
        })
