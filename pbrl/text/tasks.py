"""Text tasks of the response game: where prompts come from and the hidden score of a response.

- ``sentiment``: continue the opening of a review; the hidden score is VADER's compound
  sentiment of the response (-1 to 1; the ``vaderSentiment`` package of the ``text`` extra
  ships its lexicon, nothing is downloaded).
- ``arithmetic``: ``"12+7="``; the score is 1 when the response is the right number and 0
  otherwise, a verifiable reward (RLVR).
- any callable ``score(prompt, response) -> float`` with a list of prompts.

A scorer that raises, or returns something other than a finite number, stops the run with an
error that names the task, the prompt and the response.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pbrl.errors import InputError, MissingDependencyError, StateError, UnsupportedError

# review openings: subject + verb phrase, combined deterministically (no data file)
_SUBJECTS = ("The movie", "This film", "The acting", "The plot", "The soundtrack", "The ending", "The sequel",
             "The cast", "The script", "The story", "This book", "The first chapter", "The restaurant",
             "The service", "The food", "This hotel", "The room", "The staff", "This album", "The concert")
_VERBS = ("was", "is", "felt", "seemed", "turned out to be", "left me", "made me feel", "was honestly")


def review_openings() -> list[str]:
    """The sentiment task's prompts: 160 review openings (subject x verb)."""
    return [f"{s} {v}" for s in _SUBJECTS for v in _VERBS]


class TextTask(ABC):
    """Prompts and the hidden score of a response; ``prompt_tokens`` and ``response_tokens``
    are the env's default observation and action lengths for the task."""

    name = "task"
    prompt_tokens, response_tokens = 48, 24

    @abstractmethod
    def prompt(self, rng: np.random.Generator) -> str:
        """A prompt drawn with ``rng``."""

    @abstractmethod
    def score(self, prompt: str, response: str) -> float:
        """The hidden (true) score of ``response`` to ``prompt``."""

    def checked_score(self, prompt: str, response: str) -> float:
        """``score`` with a clear error when the scorer raises or returns a non-finite value."""
        try:
            value = self.score(prompt, response)
        except Exception as exc:
            raise StateError(f"task {self.name!r}: the scorer raised {type(exc).__name__}: {exc} "
                               f"on prompt {prompt!r} and response {response!r}; "
                               "fix the scorer (it must return a float for any text)") from exc
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise InputError(f"task {self.name!r}: the scorer returned {value!r}, not a number, on prompt {prompt!r} "
                             f"and response {response!r}") from None
        if not math.isfinite(value):
            raise InputError(f"task {self.name!r}: the scorer returned {value} on prompt {prompt!r} and response "
                             f"{response!r}; a NaN or inf would corrupt the reward model and the policy")
        return value


class SentimentTask(TextTask):
    """Continue a review opening; score: VADER compound sentiment of the response."""

    name = "sentiment"

    def __init__(self, prompts: Sequence[str] | None = None) -> None:
        try:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        except ImportError as exc:
            raise MissingDependencyError("the sentiment task scores with vaderSentiment, which is not installed "
                                         f'({exc}). Install it with: pip install "pbrl[text]"') from exc
        self._analyzer = SentimentIntensityAnalyzer()
        self.prompts = list(prompts) if prompts is not None else review_openings()

    def prompt(self, rng: np.random.Generator) -> str:
        return self.prompts[int(rng.integers(len(self.prompts)))]

    def score(self, prompt: str, response: str) -> float:
        return float(self._analyzer.polarity_scores(response)["compound"])


class ArithmeticTask(TextTask):
    """``a+b=`` (and ``a-b=`` with ``ops="+-"``) with operands 0..``max_operand``; score 1
    for the exact answer (surrounding spaces ignored), else 0."""

    name = "arithmetic"
    prompt_tokens, response_tokens = 8, 6  # "99+99=" after BOS; "198" + EOS, with room to ramble

    def __init__(self, max_operand: int = 99, ops: str = "+") -> None:
        if max_operand < 1 or not ops or set(ops) - set("+-*"):
            raise InputError(f"arithmetic: max_operand >= 1 and ops from '+-*', got {max_operand!r}, {ops!r}")
        self.max_operand, self.ops = max_operand, ops

    def prompt(self, rng: np.random.Generator) -> str:
        a, b = (int(v) for v in rng.integers(0, self.max_operand + 1, size=2))
        return f"{a}{self.ops[int(rng.integers(len(self.ops)))]}{b}="

    @staticmethod
    def answer(prompt: str) -> int:
        expr = prompt.rstrip("=")
        for op, fn in (("+", lambda x, y: x + y), ("*", lambda x, y: x * y), ("-", lambda x, y: x - y)):
            left, sep, right = expr.rpartition(op)
            if sep and left:
                return fn(int(left), int(right))
        raise InputError(f"arithmetic: cannot read the prompt {prompt!r}")

    def score(self, prompt: str, response: str) -> float:
        return 1.0 if response.strip() == str(self.answer(prompt)) else 0.0


class CallableTask(TextTask):
    """A user's ``score(prompt, response) -> float`` over a list of prompts (or a callable
    ``prompts(rng) -> str``)."""

    def __init__(self, score: Callable[[str, str], Any], prompts: Sequence[str] | Callable[[np.random.Generator], str],
                 name: str | None = None) -> None:
        if not callable(score):
            raise UnsupportedError(
                f"task: expected 'sentiment', 'arithmetic' or a callable score(prompt, response), got {score!r}")
        if not callable(prompts):
            prompts = list(prompts)
            if not prompts or not all(isinstance(p, str) for p in prompts):
                raise InputError("a callable task needs prompts=[...] (a non-empty list of strings)")
        self._score, self._prompts = score, prompts
        self.name = name or str(getattr(score, "__name__", "callable"))

    def prompt(self, rng: np.random.Generator) -> str:
        if callable(self._prompts):
            return str(self._prompts(rng))
        return self._prompts[int(rng.integers(len(self._prompts)))]

    def score(self, prompt: str, response: str) -> float:
        return self._score(prompt, response)


TASKS: dict[str, type[TextTask]] = {"sentiment": SentimentTask, "arithmetic": ArithmeticTask}


def make_task(task: str | TextTask | Callable[[str, str], Any], prompts: Sequence[str] | None = None,
              **options: Any) -> TextTask:
    """A task from its name (``sentiment``, ``arithmetic``), a TextTask, or a callable score
    (then ``prompts`` is required)."""
    if isinstance(task, TextTask):
        return task
    if isinstance(task, str):
        if task not in TASKS:
            raise InputError(f"unknown text task {task!r}; choose one of {', '.join(TASKS)}, or pass a callable "
                             "score(prompt, response) -> float with prompts=[...]")
        if task == "sentiment":
            return SentimentTask(prompts, **options)
        if prompts is not None:
            raise InputError("the arithmetic task makes its own prompts; drop prompts=")
        return ArithmeticTask(**options)
    if prompts is None:
        raise InputError("a callable task needs prompts=[...] (a non-empty list of strings)")
    return CallableTask(task, prompts, **options)
