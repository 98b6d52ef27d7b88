"""An AI judge with a language model behind it (RLAIF, constitutional-AI style).

The judge writes one question per query: a principle ("Which response is more positive?"),
the prompt, the responses labelled A, B, ..., and "Answer: Response"; it reads the model's
log-probability of each label as the next tokens and prefers the most likely. Each query is
asked in two orders (as given and reversed) and the label log-probabilities are averaged per
response, which cancels the model's preference for a position. A difference smaller than
``margin`` nats between the two best is "equal".

    --teacher judge-lm:MODEL_DIR [--principle "more positive"]

``MODEL_DIR`` is any model directory of ``pbrl text import-hf`` (SmolLM2-135M-Instruct ships
with the ``hf`` extra) or ``pbrl text sft`` (too small to judge; for wiring tests). Unlike a
``judge:MODULE:FUNCTION`` spec, nothing is imported: the model is weights and a tokenizer.

    python -m pbrl.text.lm_judge MODEL_DIR --task sentiment --pairs 500

measures its agreement with the task's hidden score on pairs of corpus responses to one
prompt (ties of the hidden score left out) and writes it as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pbrl.errors import InputError
from pbrl.text.load import load_lm
from pbrl.text.model_dir import load_tokenizer
from pbrl.text.tokenizer import EOS

PREFIX = "judge-lm:"
LETTERS = "ABCDEFGHI"
# what "better" means per task, when no --principle is given
PRINCIPLES = {"sentiment": "more positive", "arithmetic": "the correct answer to the sum"}
JUDGE_MAX_LEN = 1024  # tokens a Hugging Face judge reads (its question is longer than a response game's prompt)


class LMJudge:
    """``judge(prompt, responses)`` answered by a causal LM (see the module docstring).

    :param model_dir: the model directory.
    :param principle: what the better response is ("more positive").
    :param margin: log-probability difference (nats) under which the answer is "equal".
    :param device: where the model runs ("auto": CUDA when there is a GPU, else the CPU).
    """

    def __init__(self, model_dir: str | Path, principle: str, margin: float = 0.0, device: str = "auto") -> None:
        if not principle.strip():
            raise InputError("the LM judge needs a principle, e.g. --principle 'more positive'")
        self.device = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                                   ("cpu" if device == "auto" else device))
        self.lm = load_lm(model_dir).eval().to(self.device)
        if hasattr(self.lm, "hf"):  # a Hugging Face model reads far more than the game's prompt
            self.lm.config = dataclasses.replace(self.lm.config, max_len=JUDGE_MAX_LEN)
        self.tokenizer = load_tokenizer(model_dir)
        self.principle, self.margin = principle.strip().rstrip("?"), margin
        self.name = f"lm:{model_dir}"  # the rater name becomes judge:lm:MODEL_DIR

    def question(self, prompt: str, responses: list[str]) -> str:
        """The text the model continues with a label: plain, or in the model's chat template
        when its tokenizer has one (an instruct model answers as the assistant)."""
        lines = [f"Which response is {self.principle}?", f"Prompt: {prompt}"]
        lines += [f"Response {LETTERS[i]}: {r}" for i, r in enumerate(responses)]
        hf = getattr(self.tokenizer, "tokenizer", None)  # a Hugging Face tokenizer, inside pbrl's
        template = getattr(hf, "apply_chat_template", None)
        if template is not None and getattr(hf, "chat_template", None):
            asked = "\n".join([*lines, f"Answer with the letter of the response that is {self.principle}."])
            chat = template([{"role": "user", "content": asked}], tokenize=False, add_generation_prompt=True)
            return f"{chat}The answer is Response"
        return "\n".join([*lines, "Answer: Response"])

    def _label_rows(self, k: int) -> tuple[list[list[int]], torch.Tensor]:
        labels = [self.tokenizer.ids(f" {LETTERS[i]}") for i in range(k)]
        width = max(len(ids) for ids in labels) + 1
        rows = torch.zeros((k, width), dtype=torch.long)  # each label, EOS, then PAD
        for i, ids in enumerate(labels):
            rows[i, : len(ids)] = torch.as_tensor(ids)
            rows[i, len(ids)] = EOS
        return labels, rows

    def letter_logprobs(self, prompt: str, orders: list[list[str]]) -> np.ndarray:
        """Per order of the responses, the log-probability of each label after the question
        ``[orders, K]``; every order and label in one batch (left-padded questions)."""
        k = len(orders[0])
        if not 2 <= k <= len(LETTERS):
            raise InputError(f"the LM judge compares 2 to {len(LETTERS)} responses, got {k}")
        questions = [self.tokenizer.ids(self.question(prompt, responses)) for responses in orders]
        labels, rows = self._label_rows(k)
        longest = max(len(q) for q in questions)
        if longest + rows.shape[1] > self.lm.config.max_len:
            raise InputError(f"the judge's question is {longest} tokens and its model reads at most "
                             f"{self.lm.config.max_len}: use a Hugging Face model (pbrl text import-hf) or shorter "
                             "prompts and responses")
        padded = torch.zeros((len(questions), longest), dtype=torch.long)  # PAD on the left
        for i, q in enumerate(questions):
            padded[i, longest - len(q):] = torch.as_tensor(q)
        with torch.no_grad():
            logp, _, _ = self.lm.response_logprobs(padded.repeat_interleave(k, 0).to(self.device),
                                                   rows.repeat(len(questions), 1).to(self.device))
        logp = logp.cpu()
        sums = np.array([float(logp[r, : len(labels[r % k])].sum()) for r in range(len(questions) * k)])
        return sums.reshape(len(questions), k)

    def scores(self, prompt: str, responses: list[str]) -> np.ndarray:
        """Per response, its label's log-probability averaged over the two orders."""
        forward, backward = self.letter_logprobs(prompt, [responses, responses[::-1]])
        return (forward + backward[::-1]) / 2

    def __call__(self, prompt: str, responses: list[str]) -> Any:
        scores = self.scores(prompt, responses)
        order = sorted(range(len(responses)), key=lambda i: -scores[i])
        if scores[order[0]] - scores[order[1]] <= self.margin:
            return "equal"
        return order


def agreement(judge: LMJudge, task: str, pairs: int, seed: int = 0) -> dict[str, Any]:
    """How often the judge prefers the response with the higher hidden score, on ``pairs``
    pairs of the task's corpus responses to one prompt (hidden-score ties left out)."""
    from pbrl.text.sft import corpus
    from pbrl.text.tasks import make_task

    scorer = make_task(task)
    rng = np.random.default_rng(seed)
    data = corpus(task, 4 * pairs, seed)
    agreed = equal = counted = 0
    started = time.perf_counter()
    for _ in range(pairs):
        (prompt, first), (_, other) = (data[i] for i in rng.choice(len(data), 2, replace=False))
        truth = scorer.score(prompt, first) - scorer.score(prompt, other)
        if truth == 0:
            continue
        verdict = judge(prompt, [first, other])
        counted += 1
        if verdict == "equal":
            equal += 1
        elif (verdict[0] == 0) == (truth > 0):
            agreed += 1
    return {"task": task, "principle": judge.principle, "model": judge.name, "pairs": counted,
            "agreement": agreed / max(counted, 1), "equal": equal / max(counted, 1),
            "seconds_per_pair": (time.perf_counter() - started) / max(pairs, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pbrl.text.lm_judge", description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir")
    parser.add_argument("--task", default="sentiment", choices=sorted(PRINCIPLES))
    parser.add_argument("--principle", help="default: the task's")
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="write the result as JSON here")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    judge = LMJudge(args.model_dir, args.principle or PRINCIPLES[args.task])
    result = agreement(judge, args.task, args.pairs, args.seed)
    print(json.dumps(result, indent=2))
    if args.out:
        from pbrl.io import write_json, write_text

        write_json(args.out, result)
        command = "python -m pbrl.text.lm_judge " + shlex.join(argv if argv is not None else sys.argv[1:])
        write_text(Path(args.out).with_suffix(".md"), report(result, command))
    return 0


def report(result: dict[str, Any], command: str) -> str:
    """The markdown the text suite's report shows for a ``judge.json``."""
    return "\n".join([
        f"The LM judge (`{command}`): asked which response is \"{result['principle']}\" on {result['pairs']} "
        f"pairs of {result['task']} corpus responses to one prompt whose hidden scores differ, it agreed with the "
        f"hidden score on **{result['agreement']:.3f}** of them (0.5 is chance), answered equal on "
        f"{result['equal']:.3f}, at {result['seconds_per_pair']:.1f} s a pair (both orders, 2 CPU cores).", ""])


if __name__ == "__main__":
    sys.exit(main())
