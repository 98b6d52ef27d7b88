"""The configuration of a preference-learning run (``pbrl train``): one frozen dataclass whose
field docstrings are the CLI's help (:mod:`pbrl.options`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pbrl.asking import DEFAULT_QUEUE
from pbrl.errors import InputError, check_numbers
from pbrl.family import family_for
from pbrl.oracle import teacher_config
from pbrl.query import STRATEGIES
from pbrl.reward_model import RewardModelConfig

HUMAN = "human"  # the teacher name for people rating in the app
PACES = ("labels", "free")  # with people: RL waits for the labels, or never
ALGOS = ("ppo", "a2c", "dqn", "sac", "td3", "rloo", "grpo")  # pbrl.rl builds them


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
    """perfect, boltzmann, myopic, mistake, skip or equal (B-Pref), human (people rate in
    ``pbrl rate RUN_DIR``; the trainer never waits for them after the first labels), or
    judge:MODULE:FUNCTION (AI feedback on the response game, e.g.
    judge:pbrl.text.judge:lexicon_judge), or judge-lm:MODEL_DIR (a language model judges by
    --principle)"""
    teacher_params: dict[str, float] = field(default_factory=dict)
    """overrides of the teacher's beta, gamma, eps_mistake, eps_skip, eps_equal"""
    algo: str = "ppo"
    """ppo or a2c (tuned per-env defaults), or dqn, sac, td3 (SB3 defaults); on the response
    game also rloo or grpo (group baselines over each prompt's responses, no value network)"""
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
    pace: str = "labels"
    """with the human teacher: labels (RL pauses while the labels people gave are behind the
    label schedule, and the run ends after the last label) or free (RL never waits; labels
    that land after the run are kept for --resume)"""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """keyword arguments of gym.make for every env of the run (e.g. the response game's task)"""
    # the language-model family's options (pbrl.text.family): kept flat, as config.json holds them
    sft: str | None = None
    """the response game: the SFT model the text policy starts from and whose KL it is charged"""
    kl_coef: float = 0.05
    """the response game: beta of the KL penalty to the SFT policy (the start value with kl_target)"""
    kl_target: float | None = None
    """the response game: adapt beta towards this KL per response (Ziegler et al. 2019)"""
    kl_horizon: int = 10_000
    """the response game: the adaptive controller's horizon, in responses"""
    principle: str | None = None
    """the response game with --teacher judge-lm:MODEL_DIR: what the better response is (None:
    the task's, "more positive" for sentiment)"""
    store: str = ""
    """where the run keeps its labels, clips and videos: "" for RUN/labels.sqlite, or a
    PostgreSQL database, postgresql://USER:PASSWORD@HOST:PORT/DATABASE, the run its schema
    pbrl_RUN, for raters on other machines (pbrl rate postgresql://.../DATABASE/RUN);
    config.json records it without the password (give that through PGPASSWORD or ~/.pgpass,
    or --store again with --resume)"""

    def __post_init__(self) -> None:
        if self.algo not in ALGOS:
            raise InputError(f"unknown algorithm {self.algo!r}; choose one of {', '.join(ALGOS)}")
        family = family_for(self.env_id)  # an unknown id: a KeyError naming the registered ones
        family.check_config(self)  # e.g. text: the SFT model, the judge
        if self.teacher != HUMAN and not family.has_teacher(self.teacher):
            teacher_config(self.teacher, **self.teacher_params)
        if self.pace not in PACES:
            raise InputError(f"--pace must be one of {', '.join(PACES)}, got {self.pace!r}")
        if self.queue < 1:
            raise InputError(f"queue (queries kept waiting for people) must be >= 1, got {self.queue}")
        if self.labels < 1:
            raise InputError(f"the label budget must be >= 1, got {self.labels}")
        if self.steps < 1:
            raise InputError(f"steps must be >= 1, got {self.steps}")
        if self.k < 2:
            raise InputError(f"k (clips per query) must be >= 2, got {self.k}")
        if self.query not in STRATEGIES:
            raise InputError(f"unknown query strategy {self.query!r}; choose one of {', '.join(STRATEGIES)}")
        if self.clip_length is not None and self.clip_length < 1:
            raise InputError(f"clip_length must be >= 1, got {self.clip_length}")
        if self.refit_growth < 1:
            raise InputError(f"refit_growth must be >= 1, got {self.refit_growth}")
        if not 0 < self.label_horizon <= 1:
            raise InputError(f"label_horizon must be in (0, 1], got {self.label_horizon}")
        if not 0 <= self.initial_fraction <= 1:
            raise InputError(f"--initial-fraction must be in [0, 1], got {self.initial_fraction}")
        check_numbers(self, seed=">= 0", fit_lag=">= 0", eval_episodes=">= 1", pool_size=">= 2", kl_coef=">= 0",
                      kl_target="> 0", kl_horizon=">= 1")
        if self.store:
            from pbrl.store_pg import check_server

            check_server(self.store)

    def to_json(self) -> dict[str, Any]:
        """The config as config.json holds it (a store's password left out)."""
        data = asdict(self)
        if self.store:
            from pbrl.store_pg import without_password

            data["store"] = without_password(self.store)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainConfig:
        """The config a run directory's config.json holds (unknown keys are an error)."""
        data = dict(data)
        reward = dict(data.pop("reward", {}))
        if "hidden" in reward:
            reward["hidden"] = tuple(reward["hidden"])
        # pbrl before 0.2 wrote these as numbers even when nobody set them, and read all four
        # at their old defaults as "the family's" (the text family then took its own): so do we
        old = {"lr": 3e-4, "l2": 1e-3, "epochs": 4.0, "min_steps": 50}
        if all(reward.get(k) == v for k, v in old.items()):
            reward.update(dict.fromkeys(old))
        try:
            return cls(**data, reward=RewardModelConfig(**reward))
        except TypeError as exc:
            raise InputError(f"config.json does not describe a run of this pbrl ({exc})") from exc
