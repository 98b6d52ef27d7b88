"""The SFT step: the built-in LM learns to answer a task's prompts from a corpus pbrl makes.

Corpora (generated, seeded, nothing downloaded):

- ``sentiment``: each review opening continued by a short phrase drawn evenly from positive,
  negative and neutral phrases, so that the SFT policy's mean hidden score is near 0 and
  there is room to move either way;
- ``arithmetic``: ``a+b=`` followed by the right answer (the SFT model learns it imperfectly
  in a few thousand steps, which is what RL with the verifier then improves).

The SFT model is the PPO policy's starting point and the frozen reference of its KL penalty.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pbrl.errors import InputError, check_numbers
from pbrl.rl import set_torch_threads
from pbrl.text.model import CausalLM, LMConfig, TinyCausalLM, count_parameters, seed_everything
from pbrl.text.tasks import ArithmeticTask, review_openings
from pbrl.text.tokenizer import CharTokenizer, Tokenizer

POSITIVE = ("great.", "wonderful!", "a real delight.", "fun and moving.", "better than I hoped.", "beautiful.",
            "excellent, I loved it.", "pretty good.", "charming and warm.", "a joy.")
NEGATIVE = ("awful.", "boring.", "a waste of time.", "terrible, sadly.", "worse than I feared.", "dull and slow.",
            "bad.", "disappointing.", "ugly and cold.", "a mess.")
NEUTRAL = ("fine.", "long.", "what I expected.", "okay, I guess.", "in two parts.", "about a family.", "quiet.",
           "set in Paris.", "mostly in black and white.", "about two hours.")


def corpus(task: str, n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` (prompt, response) pairs of ``task``'s SFT corpus."""
    rng = np.random.default_rng(seed)
    if task == "sentiment":
        openings, pools = review_openings(), (POSITIVE, NEGATIVE, NEUTRAL)
        pairs = []
        for _ in range(n):
            pool = pools[int(rng.integers(3))]
            pairs.append((openings[int(rng.integers(len(openings)))], " " + pool[int(rng.integers(len(pool)))]))
        return pairs
    if task == "arithmetic":
        maker = ArithmeticTask()
        return [(p, str(maker.answer(p))) for p in (maker.prompt(rng) for _ in range(n))]
    raise InputError(f"no SFT corpus for task {task!r}; pbrl makes corpora for 'sentiment' and 'arithmetic'")


def encode_pairs(pairs: list[tuple[str, str]], prompt_len: int, response_len: int,
                 tokenizer: Tokenizer | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    tok = tokenizer or CharTokenizer()
    prompts = np.stack([tok.encode_prompt(p, prompt_len)[0] for p, _ in pairs])
    responses = np.stack([tok.encode_response(r, response_len) for _, r in pairs])
    return torch.as_tensor(prompts), torch.as_tensor(responses)


def nll(model: CausalLM, prompts: torch.Tensor, responses: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood per response token (EOS included)."""
    logp, mask, _ = model.response_logprobs(prompts, responses)
    return -(logp * mask).sum() / mask.sum()


@dataclass(frozen=True)
class SFTConfig:
    """``pbrl text sft``: supervised training of the built-in LM on a task's corpus."""

    task: str = "arithmetic"
    """the task whose generated corpus the model learns: sentiment or arithmetic"""
    steps: int = 2000
    """gradient steps (AdamW, one-cycle learning-rate schedule)"""
    batch_size: int = 64
    """(prompt, response) pairs per gradient step"""
    lr: float = 1e-3
    """peak learning rate of the one-cycle schedule"""
    corpus_size: int = 20_000
    """generated (prompt, response) pairs, 5% of them held out"""
    prompt_tokens: int | None = None
    """prompt length in tokens (None: the task's, the env's observation length)"""
    response_tokens: int | None = None
    """response length in tokens (None: the task's, the env's action length)"""
    seed: int = 0
    """seeds the corpus and the training"""

    def lengths(self) -> tuple[int, int]:
        from pbrl.text.tasks import TASKS

        task = TASKS[self.task] if self.task in TASKS else None
        return (self.prompt_tokens or (task.prompt_tokens if task else 48),
                self.response_tokens or (task.response_tokens if task else 24))

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "corpus_size", "prompt_tokens", "response_tokens"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise InputError(f"sft: {name} must be >= 1, got {getattr(self, name)}")
        check_numbers(self, lr="> 0", seed=">= 0")


def train_sft(config: SFTConfig, out: str | Path | None = None, log_every: int | None = None) -> TinyCausalLM:
    """Train the built-in LM on ``config.task``'s corpus; saved to ``out`` when given."""
    generator = seed_everything(config.seed)
    set_torch_threads()
    pairs = corpus(config.task, config.corpus_size, config.seed)
    prompt_len, response_len = config.lengths()
    prompts, responses = encode_pairs(pairs, prompt_len, response_len)
    held = max(1, len(pairs) // 20)  # 5% held out
    model = TinyCausalLM(LMConfig(max_len=prompt_len + response_len))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=config.steps, pct_start=0.1)
    log_every = log_every or max(config.steps // 10, 1)
    start = time.perf_counter()
    print(f"sft {config.task}: {count_parameters(model):,} parameters, {len(pairs) - held:,} pairs, "
          f"{config.steps} steps", flush=True)
    for step in range(1, config.steps + 1):
        idx = torch.randint(held, len(pairs), (config.batch_size,), generator=generator)
        loss = nll(model, prompts[idx], responses[idx])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % log_every == 0 or step == config.steps:
            with torch.no_grad():
                val = nll(model, prompts[:held], responses[:held]).item()
            print(f"  step {step:>6}/{config.steps}  loss {loss.item():.3f}  held-out {val:.3f}  "
                  f"{step / (time.perf_counter() - start):.1f} steps/s", flush=True)
    model.eval()
    if out is not None:
        model.save(out, {"task": config.task, "prompt_tokens": prompt_len, "response_tokens": response_len,
                         "sft": {k: getattr(config, k) for k in config.__dataclass_fields__}})
    return model
