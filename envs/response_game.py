"""The response game: a language model's turn as a one-step episode.

The observation is the prompt as token ids (a ``Box`` of ints, not ``Discrete``, so SB3
does not one-hot it), the action is the whole response (``MultiDiscrete``: token ids up to
``max_response_tokens``, padded after end-of-sequence), and the episode ends after that one
step with the task's hidden score as the true reward (``pbrl``'s ``HiddenReward`` gives the
agent 0.0, a learned reward, or, for baselines, the score). ``info`` holds ``prompt``,
``response``, ``response_finished`` (an EOS was emitted) and ``prompt_truncated``.

Prompts longer than ``max_prompt_tokens - 1`` (one id is BOS) keep their end, with a
warning (``long_prompts="truncate"``, the default) or are refused (``"error"``). A response
without EOS is scored as it stands, all ``max_response_tokens`` of it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from pbrl.errors import InputError
from pbrl.text.model_dir import load_tokenizer
from pbrl.text.tasks import TextTask, make_task


class ResponseGameEnv(gym.Env):
    """One prompt, one response, one score.

    :param task: ``"sentiment"``, ``"arithmetic"``, a :class:`pbrl.text.TextTask`, or a
        callable ``score(prompt, response) -> float`` (then ``prompts`` is required).
    :param prompts: the prompts a callable (or the sentiment) task draws from.
    :param max_prompt_tokens: observation length (BOS included); default per task (sentiment
        and callables 48, arithmetic 8).
    :param max_response_tokens: action length (EOS included); default per task (24, arithmetic 6).
    :param long_prompts: ``"truncate"`` (keep the end, warn once) or ``"error"``.
    :param task_options: keyword arguments of the named task (e.g. ``{"max_operand": 50}``).
    :param tokenizer: ``"char"`` (the built-in character tokenizer), or a model directory of
        ``pbrl text import-hf`` whose Hugging Face tokenizer to use (the ``hf`` extra).
    :param group_size: each prompt is served this many times in a row (``K`` responses to
        one prompt: what same-prompt comparisons and group baselines need); 1 draws a new
        prompt at every reset.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 1}

    def __init__(self, task: str | TextTask | Callable[[str, str], Any] = "sentiment",
                 prompts: Sequence[str] | None = None, max_prompt_tokens: int | None = None,
                 max_response_tokens: int | None = None,
                 long_prompts: str = "truncate", task_options: dict[str, Any] | None = None,
                 render_mode: str | None = None, tokenizer: str = "char", group_size: int = 1) -> None:
        self.task = make_task(task, prompts, **(task_options or {}))
        if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
            raise InputError(f"pbrl/ResponseGame-v0: group_size must be an integer >= 1, got {group_size!r}")
        self.group_size, self._served = group_size, 0
        max_prompt_tokens = self.task.prompt_tokens if max_prompt_tokens is None else max_prompt_tokens
        max_response_tokens = self.task.response_tokens if max_response_tokens is None else max_response_tokens
        for name, value in (("max_prompt_tokens", max_prompt_tokens), ("max_response_tokens", max_response_tokens)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise InputError(f"pbrl/ResponseGame-v0: {name} must be an integer >= 2, got {value!r}")
        if long_prompts not in ("truncate", "error"):
            raise InputError(f"pbrl/ResponseGame-v0: long_prompts must be 'truncate' or 'error', got {long_prompts!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise InputError(f"pbrl/ResponseGame-v0: render_mode must be one of {self.metadata['render_modes']}")
        self.tokenizer = load_tokenizer(tokenizer)
        self.max_prompt_tokens, self.max_response_tokens = max_prompt_tokens, max_response_tokens
        self.long_prompts, self.render_mode = long_prompts, render_mode
        vocab = self.tokenizer.vocab_size
        self.observation_space = spaces.Box(0, vocab - 1, shape=(max_prompt_tokens,), dtype=np.int64)
        self.action_space = spaces.MultiDiscrete(np.full(max_response_tokens, vocab, dtype=np.int64))
        self._prompt, self._obs, self._cut = "", np.zeros(max_prompt_tokens, dtype=np.int64), False
        self._response: str | None = None
        self._warned = False

    def encode_prompt(self, prompt: str) -> tuple[np.ndarray, bool]:
        """The observation of ``prompt`` and whether it was cut (or the error ``long_prompts`` asks for)."""
        obs, cut = self.tokenizer.encode_prompt(prompt, self.max_prompt_tokens)
        if cut and self.long_prompts == "error":
            raise InputError(f"pbrl/ResponseGame-v0 (task {self.task.name!r}): the prompt {prompt!r} has {len(prompt)} "
                             f"characters, more than max_prompt_tokens - 1 = {self.max_prompt_tokens - 1}; raise "
                             "max_prompt_tokens, shorten the prompts, or pass long_prompts='truncate'")
        if cut and not self._warned:
            warnings.warn(f"pbrl/ResponseGame-v0: prompt {prompt!r} is longer than max_prompt_tokens - 1 = "
                          f"{self.max_prompt_tokens - 1}; its end is kept (raise max_prompt_tokens to see it whole)",
                          stacklevel=3)
            self._warned = True
        return obs, cut

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        prompt = (options or {}).get("prompt")
        if prompt is not None:
            self._prompt, self._served = str(prompt), 1
        elif self._served % self.group_size == 0 or seed is not None:  # a new group
            self._prompt, self._served = self.task.prompt(self.np_random), 1
        else:
            self._served += 1  # the same prompt again
        self._obs, self._cut = self.encode_prompt(self._prompt)
        self._response = None
        return self._obs.copy(), {"prompt": self._prompt, "prompt_truncated": self._cut}

    def step(self, action):
        ids = np.asarray(action, dtype=np.int64).reshape(-1)
        if ids.shape != (self.max_response_tokens,):
            raise InputError(f"pbrl/ResponseGame-v0: the action must hold {self.max_response_tokens} token ids, "
                             f"got shape {np.asarray(action).shape}")
        self.tokenizer.check_ids(ids, "the response")
        self._response = self.tokenizer.decode(ids)
        score = self.task.checked_score(self._prompt, self._response)
        info = {"prompt": self._prompt, "response": self._response, "response_finished": self.tokenizer.finished(ids),
                "prompt_truncated": self._cut, "task": self.task.name}
        return self._obs.copy(), score, True, False, info

    def render(self):
        text = f"{self._prompt}|{self._response if self._response is not None else ''}"
        if self.render_mode == "ansi":
            return text + "\n"
        if self.render_mode == "rgb_array":
            return text_frame(self._prompt, self._response or "")
        return None


def text_frame(prompt: str, response: str, size: tuple[int, int] = (160, 480)) -> np.ndarray:
    """An RGB picture of a prompt (grey) and its response (black), wrapped."""
    import textwrap

    from PIL import Image, ImageDraw, ImageFont

    height, width = size
    image = Image.new("RGB", (width, height), (250, 250, 245))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    y = 8
    for colour, part in (((110, 110, 110), prompt), ((10, 10, 10), response)):
        for line in textwrap.wrap(part, width=70) or [""]:
            draw.text((8, y), line, fill=colour, font=font)
            y += 14
    return np.asarray(image, dtype=np.uint8)
