"""AI feedback (RLAIF): a judge callable answers the response game's queries.

``judge(prompt, responses) -> answer`` sees the prompt and the K responses of a query (2 for
a pair) and returns the index of the best response, a ranking (indices, best first),
``"equal"`` or ``None`` (skip). A language model, a rule, an API call behind a function: the
trainer takes it as ``--teacher judge:MODULE:FUNCTION``. It never sees the hidden score, so
it can disagree with it; the benchmarks measure how much that costs.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from pbrl.errors import InputError, StateError
from pbrl.oracle import AnsweringSource
from pbrl.text.tokenizer import CharTokenizer, Tokenizer
from pbrl.types import Clip, Label, Outcome, Query

Judge = Callable[[str, list[str]], Any]
PREFIX = "judge:"

_GOOD = {"good", "great", "wonderful", "delight", "fun", "moving", "better", "beautiful", "excellent", "loved", "love",
         "pretty", "charming", "warm", "joy", "best", "nice", "enjoyed", "brilliant", "lovely"}
_BAD = {"bad", "awful", "boring", "waste", "terrible", "worse", "dull", "slow", "disappointing", "ugly", "cold", "mess",
        "worst", "poor", "hate", "hated", "sadly", "sad", "annoying"}


def lexicon_judge(prompt: str, responses: list[str]) -> Any:
    """A built-in stand-in for an AI judge: prefers the response with more positive than
    negative words from a short list (not the hidden VADER score); equal on a tie."""
    def score(text: str) -> int:
        words = re.findall(r"[a-z]+", text.lower())
        return sum(w in _GOOD for w in words) - sum(w in _BAD for w in words)

    scores = [score(r) for r in responses]
    if len(set(scores)) == 1:
        return "equal"
    return sorted(range(len(responses)), key=lambda i: -scores[i])


def load_judge(spec: str) -> tuple[str, Judge]:
    """``judge:MODULE:FUNCTION`` (or ``MODULE:FUNCTION``) -> (name, callable).

    This imports MODULE, which runs its top-level code, as ``python -m`` would: the current
    directory is searched first. Only a callable that takes ``(prompt, responses)`` is taken.
    """
    target = spec[len(PREFIX):] if spec.startswith(PREFIX) else spec
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise InputError("a judge is named judge:MODULE:FUNCTION (e.g. judge:pbrl.text.judge:lexicon_judge), got "
                         f"{spec!r}")
    here = os.getcwd()
    added = here not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, here)  # a judge module beside the user, as python -m finds it
    try:
        judge = getattr(importlib.import_module(module_name), attr)
    except ModuleNotFoundError as exc:
        raise InputError(f"cannot load the judge {target!r}: {exc}; the module must be in the current directory "
                         f"({here}), installed, or on PYTHONPATH") from None
    except AttributeError:
        raise InputError(f"cannot load the judge {target!r}: {module_name} has no {attr!r}") from None
    finally:
        if added:
            sys.path.remove(here)
    check_judge(target, judge)
    return target, judge


def check_judge(name: str, judge: Any) -> None:
    """Refuse anything but a callable taking ``(prompt, responses)`` (``judge:os:system``
    included: it takes one argument)."""
    if not callable(judge):
        raise InputError(f"the judge {name!r} is not callable")
    try:
        inspect.signature(judge).bind("prompt", ["response a", "response b"])
    except (TypeError, ValueError) as exc:
        raise InputError(f"the judge {name!r} does not take (prompt, responses) ({exc}); a judge is "
                         "def judge(prompt: str, responses: list[str]) -> index, ranking, 'equal' or None") from None


class JudgeTeacher(AnsweringSource):
    """A preference source whose answers come from ``judge`` (see the module docstring)."""

    def __init__(self, judge: Judge, name: str = "judge", tokenizer: Tokenizer | None = None) -> None:
        super().__init__()
        self.judge, self.name = judge, name
        self.tokenizer = tokenizer or CharTokenizer()  # the env's (a Hugging Face model's, for one)

    def texts(self, clip: Clip) -> tuple[str, str]:
        if clip.obs.ndim != 2 or clip.obs.dtype.kind not in "iu":
            raise InputError(f"the judge {self.name!r} reads response-game clips; clip {clip.clip_id} is from "
                             f"{clip.env_id}")
        return self.tokenizer.decode(clip.obs[0]), self.tokenizer.decode(clip.actions[0])

    def answer(self, query: Query, clips: Sequence[Clip]) -> Label:
        texts = [self.texts(c) for c in clips]
        prompt, responses = texts[0][0], [r for _, r in texts]
        now = time.time()
        try:
            verdict = self.judge(prompt, responses)
        except Exception as exc:
            raise StateError(f"the judge {self.name!r} raised {type(exc).__name__}: {exc} "
                               f"on prompt {prompt!r}") from exc
        rater = f"{PREFIX}{self.name}"
        if verdict is None or verdict == "skip":
            return Label(query.query_id, Outcome.SKIP, rater=rater, shown_at=now, answered_at=now)
        if verdict == "equal":
            return Label(query.query_id, Outcome.EQUAL, rater=rater, shown_at=now, answered_at=now)
        k = len(clips)
        if isinstance(verdict, int) and 0 <= verdict < k:
            order = [verdict] + [i for i in range(k) if i != verdict]
        elif isinstance(verdict, (list, tuple)) and sorted(verdict) == list(range(k)):
            order = [int(i) for i in verdict]
        else:
            raise InputError(f"the judge {self.name!r} answered {verdict!r}; it must return the best response's index "
                             f"(0..{k - 1}), a ranking of all {k} indices, 'equal' or None")
        if k == 2:
            return Label(query.query_id, Outcome.LEFT if order[0] == 0 else Outcome.RIGHT, rater=rater,
                         shown_at=now, answered_at=now)
        return Label(query.query_id, None, ranking=tuple(order), rater=rater, shown_at=now, answered_at=now)
