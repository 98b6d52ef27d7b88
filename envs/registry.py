"""The table of pbrl environment ids: which base env each wraps, its family and its extra."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pbrl.errors import UnknownNameError

CLASSIC, MUJOCO, ATARI, TEXT = "classic", "mujoco", "atari", "text"


@dataclass(frozen=True)
class SuiteEntry:
    """One registered ``pbrl/...`` id.

    :param id: the pbrl id, ``pbrl/Name-vN``.
    :param base_id: the gymnasium / ale-py id it wraps ("" for pbrl's own envs: the text family).
    :param family: ``classic``, ``mujoco``, ``atari`` or ``text``.
    :param extra: the pbrl extra that installs its optional dependency (None: always there).
    :param modules: the modules that extra provides (imported to check it is installed).
    :param base_kwargs: keyword arguments the paper's changes pass to the base env.
    :param termination_penalty: per-step penalty that replaces early termination
        (MuJoCo envs that end when the body falls), 0 where the base env never terminates.
    :param score_regions: Atari screen areas (rows y0:y1, cols x0:x1 of the 210x160 frame)
        that show the score or other reward information, blanked in observations.
    :param terminates: episodes can end early with the default keywords (classic control
        but Pendulum); MuJoCo and Atari ids have fixed-length episodes or a hidden game over.
    """

    id: str
    base_id: str
    family: str
    extra: str | None = None
    modules: tuple[str, ...] = ()
    base_kwargs: dict[str, Any] = field(default_factory=dict)
    termination_penalty: float = 0.0
    score_regions: tuple[tuple[int, int, int, int], ...] = ()
    terminates: bool = False

    @property
    def install_hint(self) -> str:
        return f'pip install "pbrl[{self.extra}]"' if self.extra else "pip install pbrl"


def _classic(name: str) -> SuiteEntry:
    return SuiteEntry(id=f"pbrl/{name}", base_id=name, family=CLASSIC, terminates=name != "Pendulum-v1")


def _mujoco(name: str, ctrl: str | None = "ctrl_cost_weight", penalty: float = 0.0) -> SuiteEntry:
    # ``ctrl`` names the base env's torque-penalty weight, set to 0 by ``remove_ctrl_cost``.
    return SuiteEntry(
        id=f"pbrl/{name}-v5",
        base_id=f"{name}-v5",
        family=MUJOCO,
        extra="mujoco",
        modules=("mujoco", "imageio"),
        base_kwargs={ctrl: 0.0} if ctrl else {},
        termination_penalty=penalty,
    )


def _atari(name: str, *regions: tuple[int, int, int, int]) -> SuiteEntry:
    return SuiteEntry(
        id=f"pbrl/{name}-v5",
        base_id=f"ALE/{name}-v5",
        family=ATARI,
        extra="atari",
        modules=("ale_py",),
        score_regions=tuple(regions),
    )


# Score areas were read off frames of each game (rows that change while the score changes):
# Pong: both scores; Breakout: score, lives and level; Enduro: the panel with the odometer,
# speedometer and cars-to-pass count; BeamRider: score, sector and enemy count; Qbert: score
# and lives; Seaquest: score; SpaceInvaders: both scores.
SUITE: tuple[SuiteEntry, ...] = (
    _classic("CartPole-v1"),
    _classic("Acrobot-v1"),
    _classic("MountainCar-v0"),
    _classic("MountainCarContinuous-v0"),
    _classic("Pendulum-v1"),
    _mujoco("HalfCheetah"),
    _mujoco("Hopper", penalty=1.0),
    _mujoco("Walker2d", penalty=1.0),
    _mujoco("Swimmer"),
    _mujoco("Ant", penalty=1.0),
    _mujoco("Reacher", ctrl="reward_control_weight"),
    _mujoco("InvertedPendulum", ctrl=None, penalty=1.0),
    _mujoco("InvertedDoublePendulum", ctrl=None, penalty=10.0),
    _atari("Pong", (0, 24, 0, 160)),
    _atari("Breakout", (0, 16, 0, 160)),
    _atari("Enduro", (156, 195, 0, 160)),
    _atari("BeamRider", (0, 42, 0, 160)),
    _atari("Qbert", (0, 14, 0, 160), (14, 28, 28, 46)),
    _atari("Seaquest", (0, 18, 0, 160)),
    _atari("SpaceInvaders", (0, 20, 0, 160)),
    # a language model's turn as a one-step episode (pbrl.envs.response_game); the sentiment
    # task's scorer comes with the text extra and is checked when that task is made
    SuiteEntry(id="pbrl/ResponseGame-v0", base_id="", family=TEXT),
)

BY_ID: dict[str, SuiteEntry] = {entry.id: entry for entry in SUITE}
FAMILIES: tuple[str, ...] = (CLASSIC, MUJOCO, ATARI, TEXT)


def bare_id(env_id: str) -> str:
    """``pbrl/X`` for ``pbrl:pbrl/X`` (gymnasium's module-prefix form), other ids as they are."""
    return env_id.split(":", 1)[1] if env_id.startswith("pbrl:") else env_id


def entry_for(env_id: str) -> SuiteEntry:
    """The suite entry of ``env_id`` (``pbrl/X`` or ``pbrl:pbrl/X``); a clear KeyError otherwise."""
    key = bare_id(env_id)
    if key not in BY_ID:
        known = ", ".join(BY_ID)
        raise UnknownNameError(f"unknown pbrl environment id {env_id!r}; registered ids: {known}")
    return BY_ID[key]


# What "better" means for a person comparing clips: the hidden reward's goal, in one line
# (the rating app shows it above the clips; `pbrl rate --instructions` overrides it).
INSTRUCTIONS: dict[str, str] = {
    "CartPole-v1": "the pole stays upright longer, the cart near the middle of the track",
    "Acrobot-v1": "the arm's free end swings up above the bar, higher and sooner",
    "MountainCar-v0": "the car gets up to the flag on the right hilltop sooner",
    "MountainCarContinuous-v0": "the car gets up to the flag on the right hilltop, with less engine force",
    "Pendulum-v1": "the pendulum swings up and stays upright and still, with little torque",
    "HalfCheetah-v5": "the cheetah runs forward (to the right) faster",
    "Hopper-v5": "the hopper hops forward (to the right) faster without falling",
    "Walker2d-v5": "the walker walks forward (to the right) faster without falling",
    "Swimmer-v5": "the swimmer moves forward (to the right) faster",
    "Ant-v5": "the ant moves forward (away along its track) faster without flipping over",
    "Reacher-v5": "the arm's tip reaches the target dot sooner and stays on it",
    "InvertedPendulum-v5": "the pole stays balanced upright on the cart",
    "InvertedDoublePendulum-v5": "both poles stay balanced upright, the tip as high as it goes",
}
TEXT_INSTRUCTIONS = {"sentiment": "the response continues the prompt in a more positive, warmer tone",
                     "arithmetic": "the response answers the sum correctly"}


def instruction(env_id: str, env_kwargs: dict[str, Any] | None = None) -> str:
    """The one-line task description people see: which clip counts as better."""
    entry = BY_ID.get(bare_id(env_id))
    name = bare_id(env_id).split("/")[-1]
    if entry is not None and entry.family == TEXT:
        task = (env_kwargs or {}).get("task", "sentiment")
        better = TEXT_INSTRUCTIONS.get(task, f"the response does the {task} task better")
    elif entry is not None and entry.family == ATARI:
        better = f"the agent plays {name.split('-')[0]} better (the score is hidden: judge the play)"
    else:
        better = INSTRUCTIONS.get(name, "the agent does its task better")
    return f"Better: {better}."
