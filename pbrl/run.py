"""One preference-learning run as named steps (Christiano et al. 2017, section 2.2)::

    with Run(config, out) as run:   # leaving the block releases store, envs, lock and fit thread
        run.build()                 # env -> ClipRecorder -> LearnedReward -> [VecNormalize] -> agent
        run.warm_up()               # the first policy's clips, the initial labels, the first fit
        run.learn()                 # RL on the learned reward; labels asked and the model refit per rollout
        summary = run.finish()      # checkpoint, evaluate the true return, write the summary

What differs between classic control, MuJoCo, Atari and text comes from the env's family
(:mod:`pbrl.family`); this module never names one.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import CallbackList
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import VecEnv

from pbrl import plots, rl
from pbrl.callbacks import LabelCallback
from pbrl.clips import ClipRecorder, default_clip_length
from pbrl.config import HUMAN, TrainConfig
from pbrl.diagnostics import label_agreement, reward_landscape
from pbrl.errors import InputError, StateError
from pbrl.family import EnvInfo, Family, family_for
from pbrl.human import HumanQueue
from pbrl.io import write_json
from pbrl.learned_reward import LearnedReward
from pbrl.learner import LearnerSettings, PreferenceLearner
from pbrl.media import MediaWriter
from pbrl.oracle import PreferenceSource, SyntheticTeacher, teacher_config
from pbrl.progress import Progress
from pbrl.reward_model import RewardEnsemble
from pbrl.run_dir import PROGRESS_FILE, RunDir, lock_run_dir
from pbrl.schedule import LabelSchedule

STATUS_EVERY = 1.0  # seconds between trainer-status writes for the rating app
CHECKPOINT_SECONDS = 600.0  # a run checkpoints after each refit and at least this often (at a rollout's end)


def probe_env(env_id: str, env_kwargs: dict[str, Any], family: Family) -> EnvInfo:
    """Spaces, episode limit, time step and frame rate of ``env_id``, from one instance."""
    probe = gym.make(env_id, **env_kwargs)
    try:
        dt = getattr(probe.unwrapped, "dt", None)
        assert probe.spec is not None  # made by gym.make
        return EnvInfo(env_id, probe.observation_space, probe.action_space, probe.spec.max_episode_steps,
                       dt, family.frame_rate(env_id, probe))
    finally:
        probe.close()


def warmup_steps(config: TrainConfig, schedule: LabelSchedule, clip_length: int) -> int:
    """Steps of the first policy that yield enough clips for the initial labels."""
    wanted = int(1.5 * config.k * schedule.initial * clip_length)
    return int(min(max(wanted, clip_length * 2 * config.k), 0.05 * config.steps))


def check_budget(config: TrainConfig, clip_length: int) -> None:
    """Refuse a label budget the steps cannot supply (more distinct queries than the clips they
    cut can form: a query is never asked twice), and warn when clips would be shown again and
    again."""
    clips = config.steps // clip_length
    tuples = math.comb(clips, config.k) if clips >= config.k else 0
    if config.labels > tuples:
        raise InputError(
            f"--labels {config.labels} needs {config.labels} different queries of {config.k} clips, and "
            f"--steps {config.steps} cut only {clips} clips of {clip_length} steps ({tuples} different queries); "
            f"raise --steps or lower --labels")
    if config.labels * config.k > clips:
        print(f"pbrl: warning: {config.labels} labels of {config.k} clips from {clips} clips of {clip_length} steps: "
              f"each clip is shown in about {config.labels * config.k / clips:.1f} queries (more --steps gives "
              "the teacher more behaviour to compare)", file=sys.stderr)


@dataclass
class RunProgress:
    """What the run has done, kept in progress.json at every checkpoint (a resumed run reads it)."""

    env_steps: int = 0
    resumes: int = -1
    model_version: int = 0
    label_rows: int = 0  # the store's last label id at the checkpoint (a resume checks the store has it)
    seconds: float = 0.0  # training time up to the checkpoint, over every part of a resumed run
    # env steps the agent's own count leaves out (its warm-up): a resumed agent goes on counting
    # from env_steps - warmup_steps, so that its schedules (learning rate, clip range) go on too
    # (-1: a checkpoint from before pbrl kept it: the schedules start again)
    warmup_steps: int = -1
    # what the family's agent-env wrappers learned (Family.agent_env_state: text's KL beta)
    family_state: dict[str, float] = field(default_factory=dict)
    # the learned reward's last 100 episode returns (the curves' learned_return goes on from them)
    learned_returns: list[float] = field(default_factory=list)

    @classmethod
    def read(cls, run_dir: Path) -> RunProgress:
        path = run_dir / PROGRESS_FILE
        return cls(**json.loads(path.read_text())) if path.exists() else cls(resumes=0)

    def write(self, run_dir: Path) -> None:
        write_json(run_dir / PROGRESS_FILE, {"env_steps": self.env_steps, "resumes": self.resumes,
                                             "model_version": self.model_version, "label_rows": self.label_rows,
                                             "seconds": self.seconds, "warmup_steps": self.warmup_steps,
                                             "family_state": self.family_state,
                                             "learned_returns": self.learned_returns})


def resolved(config: TrainConfig) -> TrainConfig:
    """``config`` as a run uses it and its config.json records it: the family's settings (the
    env's, the reward model's) where the user gave none."""
    family = family_for(config.env_id)
    config = family.resolve_config(config)
    return replace(config, reward=config.reward.resolved(family.reward_defaults))


@dataclass
class Run:
    """A preference-learning run in the directory ``out``.

    :param config: the run's configuration (a resumed run's own config.json).
    :param out: the run directory.
    :param resume: go on with the run in ``out`` (labels, queries, reward model and policy
        carry over) instead of starting a new one.
    """

    config: TrainConfig
    out: Path
    resume: bool = False
    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.curves: list[dict[str, Any]] = []  # one row per rollout (curves.csv)
        self.family = family_for(self.config.env_id)
        self.config = resolved(self.config)
        self._closers: list[Any] = []  # released in reverse order by close(), on every path
        self._last_status = 0.0
        self._saved_version = 0

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def path(self) -> Path:
        return self.out

    @property
    def model(self) -> RewardEnsemble:
        """The reward model the agent trains on now (a background fit replaces it)."""
        return self.learner.model

    # --- build ----------------------------------------------------------------------------------

    def build(self) -> None:
        """Everything the loop needs, in the order the data flows. What can be checked before
        the run directory exists is checked first; a resume that fails changes nothing."""
        config, family = self.config, self.family
        self.env = probe_env(config.env_id, config.env_kwargs, family)
        self.clip_length = self._clip_length()
        rl.check_algo(config.algo, self.env.action_space, config.env_id)
        check_budget(config, self.clip_length)
        if self.resume:
            self.run_dir = RunDir.open(self.out)
            self._closers.append(lock_run_dir(self.out))  # one trainer per run directory
        else:
            self.run_dir, lock = RunDir.create(self.out, config.to_json(), config.store)
            self._closers.append(lock)
        self.state = RunProgress.read(self.out) if self.resume else RunProgress()
        self._seconds_before = self.state.seconds
        self._warmup_known = True  # False: resumed from a checkpoint that did not record its warm-up
        self.store = self.run_dir.open_store(config.store, create=True)
        self._closers.append(self.store)
        if self.resume:
            self._check_store()
        self.state.resumes += 1
        self.seed = config.seed + 1000 * self.state.resumes  # a resumed run does not replay its clips
        self._build_envs()
        self._build_agent()
        self._build_learner()
        # on disk before any clip is cut, so that a second stop never reuses clip ids
        self.state.write(self.out)

    def _check_store(self) -> None:
        """Refuse to resume on a store that lost labels the checkpoint had read (its ``-wal``
        file deleted or not copied, or an older copy of labels.sqlite put back)."""
        stored, wanted = self.store.last_label_id(), self.state.label_rows
        if stored < wanted:
            raise InputError(
                f"{self.store.location} holds labels up to #{stored} ({self.store.count_labels(include_skipped=True)} "
                f"labels) but the run's last checkpoint (progress.json) was made with labels up to #{wanted}: "
                "labels are missing from the store (was labels.sqlite-wal deleted, or an older copy of labels.sqlite "
                "put back?). Put the complete labels.sqlite back and resume again; nothing was changed")

    def _clip_length(self) -> int:
        """The user's clip length, else the family's, at most an episode (Reacher's episodes
        are 50 steps, 1 s: shorter than MuJoCo's 1.5 s clips)."""
        limit = self.env.max_episode_steps
        if not self.config.clip_length:
            default = default_clip_length(self.config.env_id, self.env.dt)
            return min(default, limit) if limit is not None else default
        length = self.config.clip_length
        if limit is not None and length > limit:
            raise InputError(f"clip_length {length} is longer than an episode of {self.config.env_id} ({limit} steps); "
                             f"use --clip-length {limit} or less")
        return length

    def _build_envs(self) -> None:
        config, resumes = self.config, self.state.resumes
        n_envs, self.algo_kwargs = self.family.hyperparameters(config.algo, config.env_id)
        wrapper = self.family.recording_wrapper(people=config.teacher == HUMAN)
        base = rl.make_env(config.env_id, self.seed, n_envs, config.env_kwargs, wrapper_class=wrapper)
        self._closers.append(base)
        self.recorder = ClipRecorder(base, config.env_id, self.clip_length, pool_size=config.pool_size,
                                     id_prefix=f"r{resumes}-" if resumes else "")
        self.learned = LearnedReward(self.recorder, self._reward_model())
        self.learned.episode_returns.extend(self.state.learned_returns)  # a resumed run's, from before
        self.venv: VecEnv = self.family.wrap_agent_env(rl.wrap_normalize(self.learned, config.env_id, self.algo_kwargs),
                                                       config)

    def _reward_model(self) -> RewardEnsemble:
        saved = self.out / "reward_model"
        if saved.is_dir():
            return RewardEnsemble.load(saved, device=self.family.device)
        reward = self.config.reward.resolved(self.family.reward_defaults)
        return RewardEnsemble(self.env.observation_space, self.env.action_space, reward, env_id=self.config.env_id,
                              center=not self.family.terminates(self.config.env_id), seed=self.config.seed,
                              kind=self.family.reward_kind, device=self.family.device)

    def _build_agent(self) -> None:
        config = self.config
        self.agent: BaseAlgorithm = rl.make_algo(config.algo, self.venv, config.env_id, self.seed,
                                                 self.family.policy_kwargs(config))
        self.family.attach(self.agent, self.venv)
        if (self.out / rl.POLICY_FILE).exists():
            rl.resume_agent(self.agent, self.venv, self.out)
            self.family.restore_agent_env_state(self.venv, self.state.family_state)
        logs = self.out / "logs"
        if self.resume and (logs / "progress.csv").exists():  # SB3 starts its CSV afresh: the earlier parts' kept
            os.replace(logs / "progress.csv", logs / f"progress-part{self.state.resumes}.csv")
        self.agent.set_logger(configure(str(logs), ["csv", "tensorboard"]))
        self._closers.append(self.agent.logger)

    def _build_learner(self) -> None:
        config = self.config
        self.schedule = LabelSchedule(config.labels, max(1, int(config.label_horizon * config.steps)),
                                      config.initial_fraction)
        self.source = self._source()
        settings = LearnerSettings(k=config.k, query=config.query, budget=config.labels,
                                   refit_growth=config.refit_growth, fit_lag=config.fit_lag, seed=self.seed)
        self.learner = PreferenceLearner(settings, self.recorder, self.learned.model, self.source, self.store,
                                         self.schedule, reference_zero=self.family.reference_zero(),
                                         group_of=self.family.query_group)
        self._closers.append(self.learner.background)
        self.learner.on_new_model = lambda new: setattr(self.learned, "model", new)
        if self.resume:
            self.source.resume_after(*self.learner.restore())
            self.learner.model_version = self.state.model_version
        self._saved_version = self.learner.model_version
        self.curves = self.run_dir.read_curves() if self.resume else []
        if self.resume:  # the last fit's figures stand until the next refit (status line, curves)
            self.learner.restore_refits(self.run_dir.read_refits())

    def _source(self) -> PreferenceSource:
        config = self.config
        if config.teacher == HUMAN:
            media = MediaWriter(self.out, config.env_id)
            self._closers.append(media)
            queue = HumanQueue(self.store, media, config.queue)
            self._closers.append(queue)  # closed first: its worker finishes the renders under way
            return queue
        source = self.family.teacher(config.teacher, config)  # e.g. text's judge:MODULE:FUNCTION
        if source is not None:
            return source
        return SyntheticTeacher(teacher_config(config.teacher, **config.teacher_params),
                                seed=config.seed + self.state.resumes)

    # --- the loop ---------------------------------------------------------------------------------

    def warm_up(self) -> None:
        """The first (random) policy's behaviour for the initial labels and the first fit.
        People are waited for (the policy has nothing to learn from before the first fit);
        a synthetic teacher answers at once."""
        self._start = self._last_checkpoint = time.perf_counter()  # a run's time includes its warm-up
        self.offset = self.state.env_steps
        self._obs = self.venv.reset()
        if self.model.fitted:
            if self.state.warmup_steps >= 0:  # the agent goes on counting its own steps
                self.offset = self.state.warmup_steps
                self.agent.num_timesteps = self.state.env_steps - self.offset
            else:
                self._warmup_known = False
            return
        warm = warmup_steps(self.config, self.schedule, self.clip_length)
        target, waited_since, told = warm, time.time(), 0.0
        while True:  # until the first fit
            self._act_until(target)
            self.learner.step(0)
            if self.learner.model.fitted:
                if self.source.people:
                    self.learner.step(self.recorder.total_steps)  # people rate on while the first rollout runs
                self.offset = self.recorder.total_steps
                return
            if self.source.people:
                told = self._wait_a_moment(0, "waiting for the first labels", "waiting for people: "
                                           f"{self.learner.labels}/{self.learner.min_first_fit} first labels",
                                           waited_since, told)
                continue
            if self.recorder.total_steps >= 0.25 * self.config.steps:
                raise StateError(
                    f"the warm-up ({self.recorder.total_steps} steps, {len(self.recorder.pool)} clips) produced no "
                    "usable "
                    "label: every answer was skipped or too few clips were cut; raise --steps, shorten --clip-length "
                    "or lower the skip threshold")
            target = self.recorder.total_steps + warm  # every answer was skipped: more behaviour, ask again

    def _act_until(self, target: int) -> None:
        min_clips = 2 * self.config.k * self.schedule.initial
        cap = 0.25 * self.config.steps
        while self.recorder.total_steps < target or (len(self.recorder.pool) < min_clips
                                                     and self.recorder.total_steps < cap):
            # SB3's VecEnvObs includes tuples, which predict's annotation leaves out (its own
            # evaluate_policy ignores the same)
            actions, _ = self.agent.predict(self._obs, deterministic=False)  # type: ignore[arg-type]
            self._obs, *_ = self.venv.step(actions)

    def _wait_a_moment(self, env_steps: int, phase: str, what: str, since: float, told: float) -> float:
        """One beat of waiting for people: the status for their app, ``what`` is waited for
        said every 10 s, 0.2 s of sleep; returns when it was last said."""
        self.report(env_steps, phase)
        if time.time() - told > 10:
            told = time.time()
            print(f"  {what} ({time.time() - since:.0f} s; rate them with: pbrl rate {self.out})", flush=True)
        time.sleep(0.2)
        return told

    def learn(self) -> None:
        """RL on the learned reward; at each rollout's start the learner asks, reads and refits
        (and, with people at ``--pace labels``, RL waits while their labels are behind)."""
        paced = self.source.people and self.config.pace == "labels"
        labels = LabelCallback(self.learner, self.learned, self.offset, self.curves, self.family, self._after_rollout,
                               pace=self._keep_pace if paced else None)
        progress = Progress(self.config.steps, offset=self.offset, label="preferences", extra=self._status_line)
        done = self.offset + self.agent.num_timesteps
        if self.config.steps > done:
            self.agent.learn(self.config.steps - done, callback=CallbackList([labels, progress]),
                             reset_num_timesteps=self.agent.num_timesteps == 0)
        if paced:  # the run ends after the last label, and fits on it
            self._keep_pace(self.offset + self.agent.num_timesteps, final=True)
        self.learner.finish()
        self.train_seconds = self._seconds()

    def _seconds(self) -> float:
        """Training time so far: the parts before a resume and this one's since its warm-up."""
        return self._seconds_before + time.perf_counter() - self._start

    def behind(self, env_steps: int, final: bool = False) -> int:
        """Labels the schedule wants by ``env_steps`` (all of them at the end) that have not
        been read yet."""
        wanted = self.config.labels if final else self.schedule.target(env_steps)
        return wanted - self.learner.labels

    def _keep_pace(self, env_steps: int, final: bool = False) -> None:
        """Hold RL while people's labels are more than a margin (5% of the budget, at least 2)
        behind the schedule, and past the schedule's end, or at the end, until every label is
        in: queries are still served, labels read and the reward model refit meanwhile."""
        margin = 0 if final or env_steps >= self.schedule.horizon else max(2, math.ceil(0.05 * self.config.labels))
        if self.behind(env_steps, final) <= margin:
            return
        since, told = time.time(), 0.0
        while (behind := self.behind(env_steps, final)) > margin:
            self.learner.step(env_steps)
            told = self._wait_a_moment(env_steps, f"paused for labels ({behind} behind)",
                                       f"RL paused at step {env_steps:,} (--pace free never waits): "
                                       f"{self.learner.labels}/{self.config.labels} labels, {behind} behind the "
                                       "schedule", since, told)
        self.report(env_steps, "training", force=True)

    def _status_line(self) -> str:
        fit = self.learner.last_fit
        acc = f"{fit.val_accuracy:.2f}" if fit and fit.val_accuracy is not None else "-"
        return f"labels {self.learner.labels}/{self.config.labels}  val acc {acc}"

    def _after_rollout(self, env_steps: int) -> None:
        self.report(env_steps, "training")
        # after each refit, and every CHECKPOINT_SECONDS (the rollouts after the last label):
        # a run stopped by the end of a session loses at most that much
        if (self.learner.model_version != self._saved_version
                or time.perf_counter() - self._last_checkpoint >= CHECKPOINT_SECONDS):
            self.checkpoint(env_steps)

    def report(self, env_steps: int, phase: str, force: bool = False) -> None:
        """The trainer's status for the rating app's status bar (people only; at most once a second)."""
        if not self.source.people or (not force and time.time() - self._last_status < STATUS_EVERY):
            return
        self._last_status = time.time()
        learner = self.learner
        self.store.set_status(policy_step=env_steps, total_steps=self.config.steps, model_version=learner.model_version,
                              last_fit_at=learner.last_fit_at, labels=learner.labels, budget=self.config.labels,
                              phase=phase, updated_at=self._last_status, clip_length=self.clip_length)

    def checkpoint(self, env_steps: int) -> None:
        """Labels (the store's log copied into labels.sqlite), reward model, policy, the
        family's artefacts and progress on disk, so that a stopped run can resume."""
        self.store.checkpoint()
        self.learner.model.save(self.out / "reward_model")
        rl.checkpoint_agent(self.agent, self.venv, self.out, self.config.algo, self.config.env_id)
        self.run_dir.write_curves(self.curves, plot=False)
        self.run_dir.write_refits(self.learner.refits)
        self.state.env_steps, self.state.model_version = env_steps, self.learner.model_version
        self.state.label_rows = self.store.last_label_id()
        self.state.seconds, self.state.warmup_steps = self._seconds(), self.offset
        self.state.family_state = self.family.agent_env_state(self.venv)
        self.state.learned_returns = [float(r) for r in self.learned.episode_returns[-100:]]
        self.state.write(self.out)
        self._last_checkpoint = time.perf_counter()
        self._saved_version = self.learner.model_version

    def finish(self) -> dict[str, Any]:
        """Checkpoint, evaluate the final policy's true return, write curves, video and summary."""
        config, learner = self.config, self.learner
        steps = self.offset + self.agent.num_timesteps
        self.source.drain()  # queries still being rendered are stored, then withdrawn with the rest
        late = len(self.source.poll())  # landed after the last read: kept in the store for --resume
        withdrawn = self.store.withdraw_unanswered("the run had finished") if self.source.people else 0
        self.checkpoint(steps)
        # once, at the end (text: the policy's LM for pbrl text / align; a resumed run reads policy.pt)
        self.family.save_artifacts(self.agent, self.out, self.config, self.env)
        self.report(steps, "finished", force=True)
        returns, frames = rl.evaluate(self.agent, config.env_id, config.eval_episodes, config.seed,
                                      rl.obs_normaliser(rl.find_normalize(self.venv)),
                                      render=config.video and self.family.video, env_kwargs=config.env_kwargs)
        agreement = label_agreement(self.store)
        summary = {
            "env_id": config.env_id,
            "true_return_mean": float(np.mean(returns)),
            "true_return_std": float(np.std(returns)),
            "eval_episodes": config.eval_episodes,
            "labels": learner.labels,  # used: read and trained on
            "queries_asked": learner.asked,
            "labels_answered": self.store.count_labels(include_skipped=True),
            "labels_late": late,  # answered after the trainer's last read (a resumed run uses them)
            "queries_withdrawn": withdrawn,
            "steps": steps,
            "warmup_steps": self.offset if self._warmup_known else None,
            "train_seconds": self.train_seconds,
            "resumes": self.state.resumes,
            "seconds_before": self._seconds_before,  # training time of the parts before a resume
            "val_accuracy": learner.last_fit.val_accuracy if learner.last_fit else None,
            "reward_corr": learner.reward_correlation(),
            # the last refit measured on the policy's unqueried clips (RUN/refits.csv has every one)
            "fresh_accuracy": learner.refits[-1]["fresh_accuracy"] if learner.refits else None,
            "fresh_corr": learner.refits[-1]["fresh_corr"] if learner.refits else None,
            # how often the labels (teacher, judge or people) order clips as the hidden reward does
            "label_agreement": (agreement or {}).get("agreement"),
            "label_agreement_pairs": (agreement or {}).get("pairs", 0),
        }
        self.run_dir.write_curves(self.curves)
        self._draw_landscape()
        if frames:
            self.run_dir.write_video(frames, fps=self.env.fps)
        self.run_dir.write_summary(summary)
        return {**summary, "curve": [{"steps": r["steps"], "true_return": r["true_return"]} for r in self.curves]}

    def _draw_landscape(self) -> None:
        """reward_landscape.png: the learned reward over the two observation dimensions it
        varies most along, with the final policy's recent states (vector observations only)."""
        try:
            land = reward_landscape(self.learner.model, self.recorder.recent(200))
        except Exception as exc:  # a picture must not cost the run: everything else is written after it
            print(f"pbrl: the reward landscape could not be drawn ({type(exc).__name__}: {exc})", file=sys.stderr)
            return
        if land is not None:
            labels = (f"observation {land.dims[0]}", f"observation {land.dims[1]}")
            plots.landscape(land.x, land.y, land.reward, land.visited, labels, self.out / "reward_landscape.png",
                            f"{self.config.env_id}: learned reward, other dimensions at their median")

    def close(self) -> None:
        """Release what the run holds (fit thread, store, media renderer, envs, logger, lock),
        on every path: a run that raised leaves nothing open in its process."""
        interrupted: BaseException | None = None
        while self._closers:
            resource = self._closers.pop()
            try:
                resource.close()
            except Exception as exc:  # release the rest; the run's own error, if any, is the one raised
                print(f"pbrl: closing {type(resource).__name__} failed: {exc}", file=sys.stderr)
            except BaseException as exc:  # Ctrl-C while a fit thread is waited for: release the rest first
                interrupted = interrupted or exc
        if interrupted is not None:
            raise interrupted

