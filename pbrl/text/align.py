"""Direct alignment on stored comparisons: DPO, IPO and KTO, no reward model.

The comparisons come from a run's store (the response game's labelled queries: the left or
right response preferred; equal and skipped answers carry no direction and are left out; a
ranking of K gives its K-1 neighbouring pairs) or from a JSONL file of
``{"prompt", "chosen", "rejected"}`` records, the format TRL reads (``export_jsonl`` writes
it). With ``pi`` the policy (initialised from the SFT model) and ``ref`` the frozen SFT
model, ``r(y) = log pi(y|x) - log ref(y|x)`` summed over the response's tokens (EOS
included):

- DPO (Rafailov et al. 2023): ``-log sigma(beta * (r(y_w) - r(y_l)))``;
- IPO (Azar et al. 2023): ``(h - 1 / (2 beta))^2`` with ``h`` the same difference of
  log-ratios averaged per token (TRL's length normalisation);
- KTO (Ethayarajh et al. 2024), chosen responses as desirable and rejected as undesirable:
  ``(1 - sigma(beta (r(y_w) - z))) + (1 - sigma(beta (z - r(y_l))))`` with the reference
  point ``z = max(0, mean r(y'))`` over mismatched pairs (each prompt with another
  example's chosen response), detached, as TRL estimates it.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from pbrl.errors import InputError, MissingFileError, check_numbers
from pbrl.io import atomic_write
from pbrl.rl import set_torch_threads
from pbrl.text.load import load_lm
from pbrl.text.model import CausalLM, seed_everything
from pbrl.text.model_dir import lm_env_kwargs, load_tokenizer
from pbrl.text.tokenizer import CharTokenizer

METHODS = ("dpo", "ipo", "kto")
Pair = tuple[str, str, str]  # prompt, chosen, rejected


def pairs_from_store(path: str | Path, tokenizer: Any = None) -> list[Pair]:
    """(prompt, chosen, rejected) of every directed label in a run's ``labels.sqlite``;
    ``tokenizer``: the one its ids are in (default: the run's own, from its config.json: a
    Hugging Face model's when it trained one, else the built-in character tokenizer)."""
    from pbrl.store import PreferenceStore

    path = Path(path)
    if path.is_dir():
        path = path / "labels.sqlite"
    if tokenizer is None and (path.parent / "config.json").exists():
        env_kwargs = json.loads((path.parent / "config.json").read_text()).get("env_kwargs") or {}
        tokenizer = load_tokenizer(env_kwargs.get("tokenizer"))
    if not path.exists():
        raise MissingFileError(f"{path}: no label store; pass a run directory of `pbrl train pbrl/ResponseGame-v0` or "
                                "a JSONL file")
    store = PreferenceStore(path, create=False)
    tok, pairs = tokenizer or CharTokenizer(), []
    try:
        for record in store.label_records():
            ids = json.loads(record["clip_ids"])
            if record["ranking"] is not None:
                order = [ids[i] for i in json.loads(record["ranking"])]
            elif record["outcome"] in ("left", "right"):
                order = ids if record["outcome"] == "left" else ids[::-1]
            else:
                continue
            clips = [store.clip(c) for c in order]
            if clips[0].obs.dtype.kind not in "iu" or clips[0].actions.ndim != 2:
                raise InputError(f"{path}: clip {clips[0].clip_id} is not a response-game clip (env {clips[0].env_id})")
            texts = [(tok.decode(c.obs[0]), tok.decode(c.actions[0])) for c in clips]
            pairs += [(texts[i][0], texts[i][1], texts[i + 1][1]) for i in range(len(texts) - 1)]
    finally:
        store.close()
    return pairs


def export_jsonl(pairs: list[Pair], path: str | Path) -> None:
    """The comparisons as TRL's preference format, one ``{"prompt", "chosen", "rejected"}`` per line."""
    text = "".join(json.dumps({"prompt": p, "chosen": c, "rejected": r}) + "\n" for p, c, r in pairs)
    atomic_write(Path(path), lambda f: f.write(text.encode()))


def import_jsonl(path: str | Path) -> list[Pair]:
    """Read TRL-style preference records; a clear error names the first bad line."""
    pairs = []
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise MissingFileError(f"{path}: cannot read it ({exc.strerror})") from None
    for n, raw in enumerate(data.splitlines(), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}:{n}: not UTF-8 text (byte {exc.start + 1} of the line); JSONL files are "
                             "UTF-8: convert it, e.g. with iconv -t UTF-8") from None
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            pair = (record["prompt"], record["chosen"], record["rejected"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InputError(f"{path}:{n}: not a {{\"prompt\", \"chosen\", \"rejected\"}} record "
                             f"({type(exc).__name__}: {exc})") from None
        if not all(isinstance(v, str) for v in pair):
            raise InputError(f"{path}:{n}: prompt, chosen and rejected must be strings")
        pairs.append(pair)
    if not pairs:
        raise InputError(f"{path}: no preference records")
    return pairs


@dataclass(frozen=True)
class AlignConfig:
    """``pbrl align``: direct alignment of the SFT policy on comparisons."""

    method: str = "dpo"
    """dpo, ipo (per-token length normalisation, as TRL) or kto"""
    sft: str = ""
    """the SFT model directory: the starting policy and the frozen reference"""
    task: str = "sentiment"
    """whose hidden score evaluates the result: sentiment or arithmetic"""
    beta: float = 0.1
    """the methods' beta: strength of the tie to the reference"""
    epochs: int = 3
    """passes over the comparisons"""
    batch_size: int = 32
    """comparisons per gradient step"""
    learning_rate: float = 1e-4
    """AdamW learning rate"""
    eval_prompts: int = 256
    """prompts of the evaluation before and after training"""
    seed: int = 0
    """seeds the batch order and the evaluation"""

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InputError(f"unknown alignment method {self.method!r}; choose one of {', '.join(METHODS)}")
        if not self.sft:
            raise InputError("align needs --sft DIR, the SFT model (the starting policy and the reference)")
        if self.beta <= 0 or self.epochs < 1 or self.batch_size < 1:
            raise InputError(f"align: beta > 0, epochs >= 1 and batch_size >= 1, got {self.beta}, {self.epochs}, "
                             f"{self.batch_size}")
        check_numbers(self, {"learning_rate": "--lr"}, beta="> 0", learning_rate="> 0", eval_prompts=">= 1",
                      seed=">= 0")


def _logratios(policy: CausalLM, ref_logp: torch.Tensor, prompts: torch.Tensor, responses: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed and per-token-averaged log pi/ref of each response."""
    logp, mask, _ = policy.response_logprobs(prompts, responses)
    diff = ((logp - ref_logp) * mask).sum(1)
    return diff, diff / mask.sum(1).clamp(min=1)


def alignment_loss(method: str, beta: float, chosen: tuple[torch.Tensor, torch.Tensor],
                   rejected: tuple[torch.Tensor, torch.Tensor], mismatched: torch.Tensor | None = None) -> torch.Tensor:
    """The method's loss from the (summed, per-token) log-ratios of chosen and rejected responses."""
    if method == "dpo":
        return -F.logsigmoid(beta * (chosen[0] - rejected[0])).mean()
    if method == "ipo":
        return ((chosen[1] - rejected[1]) - 1 / (2 * beta)).pow(2).mean()
    z = (mismatched.mean().clamp(min=0) if mismatched is not None else torch.zeros(())).detach()
    return ((1 - torch.sigmoid(beta * (chosen[0] - z))) + (1 - torch.sigmoid(beta * (z - rejected[0])))).mean()


def align(config: AlignConfig, pairs: list[Pair], out: str | Path) -> dict[str, Any]:
    """Train the policy on ``pairs``; writes ``out/policy``, ``out/summary.json``; returns the summary."""
    from pbrl.text.rl import evaluate_text

    if not pairs:
        raise InputError("no comparisons to align on (equal and skipped answers are left out)")
    out = Path(out)
    generator = seed_everything(config.seed)
    set_torch_threads()
    ref = load_lm(config.sft).eval()
    policy = load_lm(config.sft)
    meta = json.loads((Path(config.sft) / "lm.json").read_text())
    plen, rlen = meta.get("prompt_tokens", 48), meta.get("response_tokens", 24)
    tok = load_tokenizer(config.sft)
    prompts = torch.as_tensor(np.stack([tok.encode_prompt(p, plen)[0] for p, _, _ in pairs]))
    chosen = torch.as_tensor(np.stack([tok.encode_response(c, rlen) for _, c, _ in pairs]))
    rejected = torch.as_tensor(np.stack([tok.encode_response(r, rlen) for _, _, r in pairs]))
    with torch.no_grad():
        ref_c, _, _ = ref.response_logprobs(prompts, chosen)
        ref_r, _, _ = ref.response_logprobs(prompts, rejected)
        ref_m, _, _ = ref.response_logprobs(prompts, chosen.roll(1, 0))
    optimizer = torch.optim.AdamW(policy.parameters(), lr=config.learning_rate, weight_decay=0.0)
    env_kwargs = {"max_prompt_tokens": plen, "max_response_tokens": rlen, **lm_env_kwargs(config.sft)}
    before = evaluate_text(ref, config.task, config.eval_prompts, config.seed, ref, env_kwargs)
    print(f"align {config.method}: {len(pairs)} comparisons; SFT policy score {before['score_sampled']:.3f} sampled",
          flush=True)
    start, losses, accuracy = time.perf_counter(), [], []
    policy.train()
    for epoch in range(config.epochs):
        order = torch.randperm(len(pairs), generator=generator)
        for batch in order.split(config.batch_size):
            c = _logratios(policy, ref_c[batch], prompts[batch], chosen[batch])
            r = _logratios(policy, ref_r[batch], prompts[batch], rejected[batch])
            mismatched = None
            if config.method == "kto":
                mismatched, _ = _logratios(policy, ref_m[batch], prompts[batch], chosen.roll(1, 0)[batch])
            loss = alignment_loss(config.method, config.beta, c, r, mismatched)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
            optimizer.step()
            losses.append(loss.item())
            accuracy.append(float((c[0] > r[0]).float().mean()))
        print(f"  epoch {epoch + 1}/{config.epochs}  loss {np.mean(losses[-len(order.split(config.batch_size)):]):.4f}"
              f"  chosen above rejected {np.mean(accuracy[-len(order.split(config.batch_size)):]):.2f}", flush=True)
    seconds = time.perf_counter() - start
    policy.eval()
    after = evaluate_text(policy, config.task, config.eval_prompts, config.seed, ref, env_kwargs)
    policy.save(out / "policy",
                {"task": config.task, "prompt_tokens": plen, "response_tokens": rlen, "aligned": config.method})
    summary = {"config": asdict(config), "comparisons": len(pairs), "sft": before, "final": after,
               "train_seconds": seconds, "final_loss": float(np.mean(losses[-10:]))}
    text = json.dumps(summary, indent=2).encode()
    atomic_write(out / "summary.json", lambda f: f.write(text))
    print(f"align {config.method}: score {before['score_sampled']:.3f} -> {after['score_sampled']:.3f} sampled, "
          f"{before['score_greedy']:.3f} -> {after['score_greedy']:.3f} greedy; KL to SFT {after['kl_sampled']:.2f}; "
          f"{seconds:.0f} s", flush=True)
    return summary
