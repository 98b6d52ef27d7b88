"""Preference learning end to end (Christiano et al. 2017) on SB3.

    pbrl env -> ClipRecorder -> LearnedReward -> [VecNormalize] -> PPO / A2C
    clips -> select_queries -> PreferenceSource (synthetic teacher) -> store -> RewardEnsemble.fit

A warm-up with the first (random) policy yields the initial labels and the first reward
model; then, at the start of every rollout, the labels the schedule wants are asked for, the
ensemble refits on them, and the policy trains on.
"""

from __future__ import annotations

import copy
import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.logger import configure

from pbrl import rl
from pbrl.clips import ClipRecorder, default_clip_length
from pbrl.dataset import PreferenceDataset
from pbrl.envs import entry_for
from pbrl.envs.registry import MUJOCO, TEXT
from pbrl.human import DEFAULT_QUEUE, HumanQueue
from pbrl.hyperparams import defaults
from pbrl.io import write_json
from pbrl.learned_reward import LearnedReward
from pbrl.media import MediaWriter, SimState, frame_rate
from pbrl.oracle import PreferenceSource, SyntheticTeacher, teacher_config
from pbrl.progress import Progress
from pbrl.query import STRATEGIES, select_queries
from pbrl.reward_model import RewardEnsemble, RewardModelConfig
from pbrl.run_dir import PROGRESS_FILE, TEXT_FIELDS, RunDir
from pbrl.schedule import LabelSchedule
from pbrl.store import PreferenceStore
from pbrl.types import Clip, Query

HUMAN = "human"  # the teacher name for people rating in the app


@dataclass(frozen=True)
class TrainConfig:
    """Configuration of one preference-learning run (``pbrl train``)."""

    env_id: str = "pbrl/CartPole-v1"
    """a registered pbrl id"""
    labels: int = 100
    """label budget (skipped queries do not count)"""
    steps: int = 50_000
    """environment steps in all, warm-up included"""
    teacher: str = "perfect"
    """perfect, boltzmann, myopic, mistake, skip or equal (B-Pref), or human (people rate in
    ``pbrl rate RUN_DIR``; the trainer never waits for them after the first labels)"""
    teacher_params: dict[str, float] = field(default_factory=dict)
    """overrides of the teacher's beta, gamma, eps_mistake, eps_skip, eps_equal"""
    algo: str = "ppo"
    """ppo or a2c (tuned per-env defaults), or dqn, sac, td3 (SB3 defaults)"""
    seed: int = 0
    """seeds envs, policy, teacher, reward model and query selection"""
    clip_length: int | None = None
    """steps per clip (None: ~1.5 s for MuJoCo, 25 steps for Atari and classic control)"""
    k: int = 2
    """clips per query: 2 for pairs, more for rankings (Plackett-Luce)"""
    query: str = "disagreement"
    """uniform, disagreement or entropy"""
    initial_fraction: float = 0.1
    """share of the labels asked from the first (random) policy"""
    label_horizon: float = 0.75
    """share of the steps by which the label budget is spent"""
    pool_size: int = 1000
    """recent clips kept as query candidates"""
    refit_growth: float = 1.5
    """refit the reward model when the labels have grown by this factor since the last fit
    (and when the budget is complete)"""
    fit_lag: int = 0
    """> 0: refits run in a background thread beside the policy (the paper's asynchronous
    design) on a copy of the model, which replaces the agent's reward at the first rollout
    this many env steps after the fit started (a fixed point, so seeded runs reproduce);
    0 (default): refits run in the foreground between rollouts"""
    reward: RewardModelConfig = field(default_factory=RewardModelConfig)
    """reward-model ensemble settings"""
    eval_episodes: int = 10
    """episodes of the final deterministic policy whose true return is reported"""
    video: bool = True
    """write an MP4 of the final policy"""
    queue: int = DEFAULT_QUEUE
    """with the human teacher: unanswered queries kept waiting for people"""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """keyword arguments of gym.make for every env of the run (e.g. the response game's task)"""
    sft: str | None = None
    """the response game: the SFT model the text policy starts from and whose KL it is charged"""
    kl_coef: float = 0.05
    """the response game: beta of the KL penalty to the SFT policy (the start value with kl_target)"""
    kl_target: float | None = None
    """the response game: adapt beta towards this KL per response (Ziegler et al. 2019)"""
    kl_horizon: int = 10_000
    """the response game: the adaptive controller's horizon, in responses"""

    def __post_init__(self) -> None:
        entry = entry_for(self.env_id)
        rl.check_algo(self.algo)
        if entry.family == TEXT and not self.sft:
            raise ValueError(f"{self.env_id} trains a language model: give --sft DIR, the SFT model it starts from "
                             "(pbrl text sft --task TASK --out DIR)")
        if entry.family == TEXT:  # the env's lengths (and tokenizer) are the model's unless given
            from pbrl.text.model import lm_env_kwargs

            object.__setattr__(self, "env_kwargs", {**lm_env_kwargs(self.sft), **self.env_kwargs})  # frozen
        if self.teacher.startswith("judge:"):
            if entry.family != TEXT:
                raise ValueError(f"a judge teacher ({self.teacher}) compares responses: use it with pbrl/ResponseGame-v0")
            from pbrl.text.judge import load_judge

            load_judge(self.teacher)
        elif self.teacher != HUMAN:
            teacher_config(self.teacher, **self.teacher_params)
        if self.queue < 1:
            raise ValueError(f"queue (queries kept waiting for people) must be >= 1, got {self.queue}")
        if self.labels < 1:
            raise ValueError(f"the label budget must be >= 1, got {self.labels}")
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.k < 2:
            raise ValueError(f"k (clips per query) must be >= 2, got {self.k}")
        if self.query not in STRATEGIES:
            raise ValueError(f"unknown query strategy {self.query!r}; choose one of {', '.join(STRATEGIES)}")
        if self.clip_length is not None and self.clip_length < 1:
            raise ValueError(f"clip_length must be >= 1, got {self.clip_length}")
        if self.refit_growth < 1:
            raise ValueError(f"refit_growth must be >= 1, got {self.refit_growth}")
        if not 0 < self.label_horizon <= 1:
            raise ValueError(f"label_horizon must be in (0, 1], got {self.label_horizon}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainConfig:
        """The config a run directory's config.json holds (unknown keys are an error)."""
        data = dict(data)
        reward = dict(data.pop("reward", {}))
        if "hidden" in reward:
            reward["hidden"] = tuple(reward["hidden"])
        try:
            return cls(**data, reward=RewardModelConfig(**reward))
        except TypeError as exc:
            raise ValueError(f"config.json does not describe a run of this pbrl ({exc})") from exc


class PreferenceLearner:
    """The labelling side of a run: asks for labels on schedule, refits the reward model.

    :param config: the run's configuration.
    :param recorder: the clip recorder on the training env.
    :param model: the reward ensemble.
    :param source: where labels come from.
    :param store: the run's durable label store.
    """

    def __init__(self, config: TrainConfig, recorder: ClipRecorder, model: RewardEnsemble,
                 source: PreferenceSource, store: PreferenceStore, schedule: LabelSchedule) -> None:
        self.config, self.recorder, self.model, self.source, self.store = config, recorder, model, source, store
        self.schedule = schedule
        self.dataset = PreferenceDataset(seed=config.seed)
        self.rng = np.random.default_rng(config.seed + 1)
        self.queries: dict[str, Query] = {}
        self._asked_clips: dict[str, Clip] = {}
        self.asked = 0
        self.last_fit = None
        self.last_disagreement = 0.0
        self.model_version = 1 if model.fitted else 0  # fits so far; stored with each query
        self.last_fit_at: float | None = None
        # people answer the initial batch before the first fit (one label is too few to learn from)
        self.min_first_fit = schedule.initial if source.queue_size is not None else 1
        self.on_new_model = None  # called with the new model when a background fit lands
        self._fit_labels = 0  # labels in the last fit started
        self._last_step_at: float | None = None  # wall time of the last step() (people's queue)
        self._rollout_seconds = 0.0  # smoothed wall time between step() calls
        self._pending = None  # (future, model copy, env step at which it replaces the model)
        self._executor = None
        # the response game: the reward's zero is the mean over the SFT (reference) policy's
        # responses, those recorded before the first fit (the policy learns only after it);
        # kept in the store so that a resumed run keeps the same zero
        self.reference: list[Clip] | None = [] if entry_for(config.env_id).family == TEXT else None

    @property
    def labels(self) -> int:
        return len(self.dataset)

    def step(self, env_steps: int) -> bool:
        """Ask for the labels the schedule wants by ``env_steps``; refit if any arrived."""
        self._land(env_steps)
        need = self._wanted(env_steps)
        pool = list(self.recorder.pool)
        if need > 0 and len(pool) >= self.config.k:
            self._ask(pool, need, env_steps)
        return self._collect(env_steps)

    def _wanted(self, env_steps: int) -> int:
        """How many queries to ask now."""
        if self.source.queue_size is not None:
            # people: as many waiting as the schedule is behind, and at least enough to last
            # the raters until the next rollout at their pace (two at the least, so the app
            # can show one and load the next): a rater is never left waiting; at most
            # queue_size, within the budget. Answers this learner has not read count already.
            waiting, answered = self.source.waiting(), self.store.count_labels()
            now = time.perf_counter()
            if self._last_step_at is not None:
                self._rollout_seconds = 0.8 * self._rollout_seconds + 0.2 * (now - self._last_step_at) if self._rollout_seconds else now - self._last_step_at
            self._last_step_at = now
            pace = self.source.seconds_per_label()
            # (with half a rollout to spare: rollouts and refits vary in length)
            floor = 2 if not pace or not self._rollout_seconds else 2 + math.ceil(1.5 * self._rollout_seconds / max(pace, 1e-3))
            wanted = min(self.source.queue_size, max(self.schedule.target(env_steps) - answered, floor))
            return min(wanted - waiting, self.config.labels - answered - waiting)
        need = self.schedule.target(env_steps) - self.labels
        # ask in batches of at least 4% of the budget (the initial batch and the last labels
        # excepted): fewer, larger rounds cost less than one query per rollout
        batch = min(max(1, self.config.labels // 25), self.config.labels - self.labels)
        return need if need >= max(batch, 1) else 0

    def _ask(self, pool: list[Clip], n: int, env_steps: int) -> None:
        if isinstance(self.source, SyntheticTeacher):
            # B-Pref: the thresholds scale with the average true return of a clip (signed)
            self.source.set_margin(float(np.mean([c.true_rewards.sum() for c in pool])))
        groups, score = select_queries(pool, n, self.config.k, self.config.query, self.model, self.rng)
        self.last_disagreement = score
        queries = []
        now = time.time()
        for group in groups:
            query = Query(f"q{self.asked}", tuple(c.clip_id for c in group), env_steps)
            self.asked += 1
            self.queries[query.query_id] = query
            queries.append(query)
        clips = self.source.prepare({c.clip_id: c for g in groups for c in g})
        self._asked_clips.update(clips)
        self.store.add_queries(queries, now, clips.values(), model_version=self.model_version)
        self.source.request(queries, clips)

    def _collect(self, env_steps: int) -> bool:
        arrived = 0
        for query_id in self.source.retracted():  # undone before the new labels: a redo comes after
            self.dataset.remove(query_id)
        for label in self.source.poll():
            if self.source.queue_size is None:  # people's labels are already in the store
                self.store.add_label(label)
            query = self.queries.get(label.query_id) or self.store.query(label.query_id)
            arrived += self.dataset.add(query, label, {cid: self._clip(cid) for cid in query.clip_ids})
        self._asked_clips.clear()  # a synthetic source answers at once; later ones come from the store
        fitted_on = self._fit_labels
        due = self.labels >= fitted_on * self.config.refit_growth or self.labels >= self.config.labels
        if not (due and self.labels > fitted_on) or self._pending is not None:
            return False
        if not self.model.fitted and self.labels < self.min_first_fit:
            return False
        self._fit_labels = self.labels
        recent = self.recorder.recent(200)
        if self.reference is not None:
            if not self.reference:
                self.reference = recent
                self.store.add_clips(recent)
                self.store.set_status(reference_clips=[c.clip_id for c in recent])
            recent = self.reference
        if not self.model.fitted or self.config.fit_lag <= 0 or self.model.config.dropout > 0:
            # foreground: the first fit (the agent needs a reward), or dropout, whose random
            # draws would share torch's generator with the policy across threads
            self.last_fit = self.model.fit(self.dataset, recent)
            self._fitted()
            return True
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pbrl-reward-fit")
        clone = copy.deepcopy(self.model)
        future = self._executor.submit(clone.fit, self.dataset.snapshot(), recent)
        self._pending = (future, clone, env_steps + self.config.fit_lag)
        return True

    def _land(self, env_steps: int, force: bool = False) -> None:
        """Swap in the model of a finished background fit once its env step has come."""
        if self._pending is None or (env_steps < self._pending[2] and not force):
            return
        future, clone, _ = self._pending
        self._pending = None
        self.last_fit = future.result()  # waits if the fit is still running
        self.model = clone
        self._fitted()
        if self.on_new_model is not None:
            self.on_new_model(clone)

    def _fitted(self) -> None:
        self.model_version += 1
        self.last_fit_at = time.time()

    def restore(self) -> tuple[int, int]:
        """Read a resumed run's queries and labels back from the store; returns the row ids
        of the last label and the last retraction read (a human source goes on after them)."""
        # retractions first: one landing after this read is applied by the next poll
        last_retraction = max([i for i, *_ in self.store.retractions_after(0)], default=0)
        rows = self.store.labels_after(0)
        self.asked = self.store.count_queries()
        for query in self.store.queries():
            self.queries[query.query_id] = query
        for _, label in rows:
            query = self.queries[label.query_id]
            self.dataset.add(query, label, {cid: self._clip(cid) for cid in query.clip_ids})
        if self.model.fitted:
            self._fit_labels = self.labels
        if self.reference is not None:
            self.reference = [self.store.clip(cid) for cid in self.store.status().get("reference_clips", [])]
        return (rows[-1][0] if rows else 0), last_retraction

    def finish(self) -> None:
        """Land a fit still running and stop the background thread."""
        self._land(0, force=True)
        if self._executor is not None:
            self._executor.shutdown()

    def _clip(self, clip_id: str) -> Clip:
        """A queried clip: from the asked-about clips, else from the store."""
        return self._asked_clips.get(clip_id) or self.dataset.clips.get(clip_id) or self.store.clip(clip_id)

    def reward_correlation(self, n: int = 100) -> float | None:
        """Pearson correlation of predicted and true per-step reward on the newest clips."""
        clips = self.recorder.recent(n)
        if not clips or not self.model.fitted:
            return None
        obs = np.concatenate([c.obs[: c.length] for c in clips])
        next_obs = np.concatenate([c.next_obs[: c.length] for c in clips]) if clips[0].next_obs is not None else None
        actions = np.concatenate([c.actions[: c.length] for c in clips])
        true = np.concatenate([c.true_rewards[: c.length] for c in clips])
        predicted = self.model.predict_reward(obs, actions, next_obs)
        if true.std() < 1e-12 or predicted.std() < 1e-12:
            return None
        return float(np.corrcoef(true, predicted)[0, 1])


class _LabelCallback(BaseCallback):
    """Runs the labelling side at the start of each rollout and logs the run's curves."""

    def __init__(self, learner: PreferenceLearner, learned: LearnedReward, offset: int, curves: list[dict[str, Any]],
                 after: Any = None) -> None:
        super().__init__()
        self.learner, self.learned, self.offset, self.curves, self.after = learner, learned, offset, curves, after
        self._text: list[tuple[float, ...]] = []  # the response game's TEXT_FIELDS: score, KL, entropy, beta

    def _on_rollout_start(self) -> None:
        self.learner.step(self.offset + self.num_timesteps)

    def _on_step(self) -> bool:
        self._text += [tuple(i[k] for k in TEXT_FIELDS) for i in self.locals.get("infos", ()) if "kl" in i]
        return True

    def _on_rollout_end(self) -> None:
        fit = self.learner.last_fit
        true = [ep["r"] for ep in self.model.ep_info_buffer]
        learned = self.learned.episode_returns[-100:]
        row = {
            "steps": self.offset + self.num_timesteps,
            "true_return": float(np.mean(true)) if true else float("nan"),
            "learned_return": float(np.mean(learned)) if learned else float("nan"),
            "labels": self.learner.labels,
            "val_accuracy": fit.val_accuracy if fit and fit.val_accuracy is not None else float("nan"),
            "reward_corr": _nan(self.learner.reward_correlation()) if len(self.curves) % 10 == 0 else float("nan"),
            "disagreement": self.learner.last_disagreement,
            "time": time.perf_counter(),
        }
        if self._text:  # the response game: learned reward (before the penalty), KL to SFT, entropy, beta
            row.update(zip(TEXT_FIELDS, (float(np.mean(v)) for v in zip(*self._text))))
            self._text = []
        self.curves.append(row)
        for key in ("true_return", "learned_return", "labels", "val_accuracy", "reward_corr", "disagreement", *TEXT_FIELDS):
            if key in row and not np.isnan(row[key]):
                self.logger.record(f"pbrl/{key}", row[key])
        if self.after is not None:
            self.after(row["steps"])


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def warmup_steps(config: TrainConfig, schedule: LabelSchedule, clip_length: int) -> int:
    """Steps of the first policy that yield enough clips for the initial labels."""
    wanted = int(1.5 * config.k * schedule.initial * clip_length)
    return int(min(max(wanted, clip_length * 2 * config.k), 0.05 * config.steps))


STATUS_EVERY = 1.0  # seconds between trainer-status writes for the rating app


def _resumed_state(run: RunDir) -> dict[str, Any]:
    path = run.path / PROGRESS_FILE
    return json.loads(path.read_text()) if path.exists() else {"env_steps": 0, "resumes": 0, "model_version": 0}


def train(config: TrainConfig, out: str | Path, resume: bool = False, on_ready: Any = None) -> dict[str, Any]:
    """Run preference learning; write the run directory ``out``; return the summary.

    :param resume: go on with the run in ``out`` (its config.json; labels, queries, reward
        model and policy carry over) instead of starting a new one.
    :param on_ready: called with the run directory once it exists (``--open-ui`` starts the
        rating app here).
    """
    entry = entry_for(config.env_id)
    n_envs, algo_kwargs = defaults(config.algo, config.env_id)
    probe = gym.make(config.env_id, **config.env_kwargs)
    max_steps = probe.spec.max_episode_steps
    dt = getattr(probe.unwrapped, "dt", None)
    clip_length = config.clip_length or default_clip_length(config.env_id, dt)
    if max_steps is not None and clip_length > max_steps:
        raise ValueError(
            f"clip_length {clip_length} is longer than an episode of {config.env_id} ({max_steps} steps); "
            f"use --clip-length {max_steps} or less"
        )
    obs_space, act_space = probe.observation_space, probe.action_space
    fps = frame_rate(config.env_id, probe)  # the final video at real speed, as the clips
    probe.close()
    reward_config = config.reward
    if reward_config.use_actions is None:  # r(s, a) for MuJoCo (the paper), r(s) elsewhere
        reward_config = replace(reward_config, use_actions=entry.family == MUJOCO)
    if entry.family == TEXT and reward_config == replace(RewardModelConfig(), use_actions=reward_config.use_actions):
        from pbrl.text.reward import text_reward_config  # a transformer's settings, where none were given

        reward_config = text_reward_config(use_actions=reward_config.use_actions)
    if resume:
        run = RunDir.open(Path(out))
        state = _resumed_state(run)
    else:
        run = RunDir.create(Path(out), config.to_json())  # after every check: a refused run leaves nothing
        state = {"env_steps": 0, "resumes": -1, "model_version": 0}
    human = config.teacher == HUMAN
    resumes = state["resumes"] + 1
    lock = _lock(run.path)  # one trainer per run directory
    # the resume count is on disk before any clip is cut, so a second stop never reuses clip ids
    write_json(run.path / PROGRESS_FILE, {**state, "resumes": resumes})
    seed = config.seed + 1000 * resumes  # a resumed run does not replay the clips it had

    base = rl.make_env(config.env_id, seed, n_envs, config.env_kwargs, wrapper_class=SimState if human else None)
    recorder = ClipRecorder(base, config.env_id, clip_length, pool_size=config.pool_size,
                            id_prefix=f"r{resumes}-" if resumes else "")
    if (run.path / "reward_model").is_dir():
        model = RewardEnsemble.load(run.path / "reward_model")
    else:
        model = RewardEnsemble(obs_space, act_space, reward_config, env_id=config.env_id,
                               center=not entry.terminates, seed=config.seed)
    learned = LearnedReward(recorder, model)
    venv = rl.wrap_normalize(learned, config.env_id, algo_kwargs)
    if entry.family == TEXT:  # the learned reward minus beta * KL to the SFT policy
        from pbrl.text.rl import KLController, KLPenalty, frozen_reference

        venv = KLPenalty(venv, frozen_reference(config.sft), KLController(config.kl_coef, config.kl_target, config.kl_horizon))
    agent = rl.make_algo(config.algo, venv, config.env_id, seed, lm_path=config.sft)
    if entry.family == TEXT:
        venv.policy = agent.policy
    if (run.path / rl.POLICY_FILE).exists():
        rl.restore_policy(agent, venv, run.path)
    agent.set_logger(configure(str(run.path / "logs"), ["csv", "tensorboard"]))

    store = PreferenceStore(run.path / "labels.sqlite")
    schedule = LabelSchedule(config.labels, max(1, int(config.label_horizon * config.steps)), config.initial_fraction)
    if human:
        source: PreferenceSource = HumanQueue(store, MediaWriter(run.path, config.env_id), config.queue)
    elif config.teacher.startswith("judge:"):  # AI feedback: a judge callable compares the responses
        from pbrl.text.judge import JudgeTeacher, load_judge
        from pbrl.text.model import load_tokenizer

        name, judge = load_judge(config.teacher)
        source = JudgeTeacher(judge, name, load_tokenizer(config.sft))
    else:
        source = SyntheticTeacher(teacher_config(config.teacher, **config.teacher_params), seed=config.seed + resumes)
    learner = PreferenceLearner(replace(config, seed=seed) if resumes else config, recorder, model, source, store, schedule)
    learner.on_new_model = lambda new: setattr(learned, "model", new)
    if resume:
        cursors = learner.restore()
        if isinstance(source, HumanQueue):
            source.start_after(*cursors)
        learner.model_version = state["model_version"]
    if on_ready is not None:
        on_ready(run.path)

    last_status = [0.0]

    def report(env_steps: int, phase: str, force: bool = False) -> None:
        """The trainer's status, for the rating app's status bar (at most once a second)."""
        if not human or (not force and time.time() - last_status[0] < STATUS_EVERY):
            return
        last_status[0] = time.time()
        store.set_status(policy_step=env_steps, total_steps=config.steps, model_version=learner.model_version,
                         last_fit_at=learner.last_fit_at, labels=learner.labels, budget=config.labels,
                         phase=phase, updated_at=last_status[0])

    saved_version = [learner.model_version]

    def checkpoint(env_steps: int, curves: list[dict[str, Any]]) -> None:
        """Reward model, policy and progress on disk, so that a stopped run can resume."""
        learner.model.save(run.path / "reward_model")
        rl.save_policy(agent, venv, run.path, config.algo, config.env_id)
        if entry.family == TEXT:  # the policy's language model alone, as pbrl text / align read it
            agent.policy.lm.save(run.path / "text_policy", {"task": config.env_kwargs.get("task", "sentiment"),
                                                            "prompt_tokens": obs_space.shape[0],
                                                            "response_tokens": act_space.shape[0]})
        run.write_curves(curves, plot=False)
        write_json(run.path / PROGRESS_FILE, {"env_steps": env_steps, "resumes": resumes,
                                                     "model_version": learner.model_version})
        saved_version[0] = learner.model_version

    start = time.perf_counter()
    offset = state["env_steps"]
    obs = venv.reset()
    if not model.fitted:
        offset = _warm_up(config, schedule, clip_length, recorder, agent, venv, learner, obs, human, report, run.path)
    curves: list[dict[str, Any]] = run.read_curves() if resume else []

    def status() -> str:
        fit = learner.last_fit
        acc = f"{fit.val_accuracy:.2f}" if fit and fit.val_accuracy is not None else "-"
        return f"labels {learner.labels}/{config.labels}  val acc {acc}"

    def after_rollout(env_steps: int) -> None:
        report(env_steps, "training")
        if learner.model_version != saved_version[0]:
            checkpoint(env_steps, curves)

    callbacks = CallbackList([_LabelCallback(learner, learned, offset, curves, after_rollout),
                              Progress(config.steps, offset=offset, label="preferences", extra=status)])
    if config.steps > offset:
        agent.learn(config.steps - offset, callback=callbacks)
    learner.finish()
    seconds = time.perf_counter() - start
    model = learner.model
    steps = offset + agent.num_timesteps
    checkpoint(steps, curves)
    report(steps, "finished", force=True)

    returns, frames = rl.evaluate(agent, config.env_id, config.eval_episodes, config.seed, rl.obs_normaliser(venv),
                                  render=config.video and entry.family != TEXT, env_kwargs=config.env_kwargs)
    summary = {
        "env_id": config.env_id,
        "true_return_mean": float(np.mean(returns)),
        "true_return_std": float(np.std(returns)),
        "eval_episodes": config.eval_episodes,
        "labels": learner.labels,
        "queries_asked": learner.asked,
        "steps": steps,
        "warmup_steps": recorder.total_steps - agent.num_timesteps if not resume else 0,
        "train_seconds": seconds,
        "val_accuracy": learner.last_fit.val_accuracy if learner.last_fit else None,
        "reward_corr": learner.reward_correlation(),
        "curve": [{"steps": r["steps"], "true_return": r["true_return"]} for r in curves],
    }
    run.write_curves(curves)
    if frames:
        run.write_video(frames, fps=fps)
    run.write_summary({k: v for k, v in summary.items() if k != "curve"})
    if isinstance(source, HumanQueue) and source.media is not None:
        source.media.close()
    store.close()
    venv.close()
    lock.close()
    return summary


def _lock(run_path: Path) -> Any:
    """An exclusive lock on the run directory for this trainer's life (released when the
    process ends, however it ends)."""
    import fcntl

    handle = open(run_path / "trainer.lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise RuntimeError(f"another trainer is running on {run_path}; stop it first (its labels are safe)") from None
    return handle


def _warm_up(config: TrainConfig, schedule: LabelSchedule, clip_length: int, recorder: ClipRecorder, agent: Any,
             venv: Any, learner: PreferenceLearner, obs: Any, human: bool, report: Any, run_path: Path) -> int:
    """The first (random) policy's behaviour for the initial labels and the first fit; returns
    the env steps it took. People are waited for (the policy has no reward to learn from
    before the first fit); a synthetic teacher answers at once."""
    warm = warmup_steps(config, schedule, clip_length)
    min_clips = 2 * config.k * schedule.initial
    target = warm
    waited_since, told = time.time(), 0.0
    while True:  # until the first fit
        while recorder.total_steps < target or (len(recorder.pool) < min_clips and recorder.total_steps < 0.25 * config.steps):
            actions, _ = agent.predict(obs, deterministic=False)
            obs, *_ = venv.step(actions)
        learner.step(0)
        if learner.model.fitted:
            if human:
                learner.step(recorder.total_steps)  # people rate on while the first rollout runs
            return recorder.total_steps
        if human:
            report(0, "waiting for the first labels")
            if time.time() - told > 10:
                told = time.time()
                print(f"  waiting for people: {learner.labels}/{learner.min_first_fit} first labels "
                      f"({time.time() - waited_since:.0f} s; rate them with: pbrl rate {run_path})", flush=True)
            time.sleep(0.2)
            continue
        if recorder.total_steps >= 0.25 * config.steps:
            raise RuntimeError(
                f"the warm-up ({recorder.total_steps} steps, {len(recorder.pool)} clips) produced no usable label: every "
                "answer was skipped or too few clips were cut; raise --steps, shorten --clip-length or lower the skip threshold"
            )
        target = recorder.total_steps + warm  # every answer was skipped: more behaviour, ask again
