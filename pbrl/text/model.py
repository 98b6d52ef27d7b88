"""A small built-in causal transformer over the character tokenizer: the text policy's LM.

Decoder-only, pre-LayerNorm blocks, learned positions counted from the first non-PAD token
(so a left-padded prompt starts at position 0 whatever its padding), PAD keys masked out of
attention. Three things are asked of it: logits for teacher forcing, autoregressive sampling
of a response after a batch of left-padded prompts, and the summed log-probability of given
responses (one teacher-forced pass).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from pbrl.errors import InputError, MissingFileError
from pbrl.io import atomic_write
from pbrl.text.formats import META
from pbrl.text.tokenizer import EOS, PAD, CharTokenizer

FORMAT_VERSION = 1
WEIGHTS = "lm.pt"


@dataclass(frozen=True)
class LMConfig:
    """Shape of the built-in model."""

    vocab_size: int = CharTokenizer().vocab_size
    d_model: int = 128
    n_layers: int = 2
    n_heads: int = 4
    d_ff: int = 384
    max_len: int = 96  # prompt + response tokens
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise InputError(f"d_model {self.d_model} is not a multiple of n_heads {self.n_heads}")


class Block(nn.Module):
    def __init__(self, c: LMConfig) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(c.d_model), nn.LayerNorm(c.d_model)
        self.qkv, self.proj = nn.Linear(c.d_model, 3 * c.d_model), nn.Linear(c.d_model, c.d_model)
        self.ff = nn.Sequential(nn.Linear(c.d_model, c.d_ff), nn.GELU(), nn.Linear(c.d_ff, c.d_model))
        self.n_heads, self.dropout = c.n_heads, c.dropout

    def forward(self, x: torch.Tensor, mask: torch.Tensor, cache: list | None = None) -> torch.Tensor:
        """``cache``: None, or a list this block keeps its keys and values in (``[]`` at the
        first call, then the same list for each new token: x holds only the new positions)."""
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        if cache is not None:
            if cache:
                k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
            cache[:] = [k, v]
        attn = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0)
        x = x + self.proj(attn.transpose(1, 2).reshape(b, t, d))
        return x + self.ff(self.ln2(x))


class CausalLM(nn.Module):
    """What the text policy, the KL penalty and DPO ask of a language model, over pbrl's token
    ids (PAD 0 and EOS 2 whatever the tokenizer): ``forward(ids, caches) -> (logits, hidden)``,
    ``_next`` (one more token on a cached sequence) and ``new_caches``; sampling and teacher-
    forced log-probabilities are built on them here. :class:`TinyCausalLM` is the built-in one,
    :class:`pbrl.text.hf.HFCausalLM` a Hugging Face model behind the same interface."""

    config: LMConfig

    def new_caches(self) -> list[list]:
        raise NotImplementedError

    def save(self, directory: str | Path, extra: dict | None = None) -> None:
        """The model and its metadata (with ``extra``'s keys) in ``directory``."""
        raise NotImplementedError

    def _next(self, token: torch.Tensor, real: torch.Tensor, caches: list[list]) -> torch.Tensor:
        """Logits [B, 1, V] after appending ``token`` [B] to the cached sequence whose non-PAD
        positions are ``real`` [B, T]; the same as a full :meth:`forward` of the longer sequence."""
        raise NotImplementedError

    @staticmethod
    def _next_position(token: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """The position [B] of ``token`` after the non-PAD positions ``real`` [B, T]: as a full
        pass counts it (real tokens before it; a PAD shares the previous position)."""
        return (real.sum(1) - (token == PAD).long()).clamp(min=0)

    # --- what a policy needs -------------------------------------------------------------

    def response_logprobs(self, prompts: torch.Tensor, responses: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Teacher-forced, one pass: per-token log-probabilities [B, L] of ``responses`` after
        ``prompts`` (0 after the first EOS), the mask [B, L] of the tokens that count (up to and
        including the first EOS) and the per-token entropy [B, L] (0 after EOS). PAD is never
        emitted, here as in :meth:`generate`, so both see the same distribution."""
        prompts, responses = prompts.long(), responses.long()
        ids = torch.cat([prompts, responses], 1)
        logits, _ = self(ids[:, :-1])
        logits = logits[:, prompts.shape[1] - 1:].float()  # the positions that predict each response token
        logits[..., PAD] = -torch.inf
        logp_all = torch.log_softmax(logits, -1)
        mask = response_mask(responses)
        counted = mask.bool()
        logp = logp_all.gather(-1, responses.clamp(min=1)[..., None]).squeeze(-1)
        logp = torch.where(counted, logp, torch.zeros_like(logp))
        p_all = logp_all.exp()
        entropy = -(p_all * torch.where(p_all > 0, logp_all, torch.zeros_like(logp_all))).sum(-1)
        return logp, mask, torch.where(counted, entropy, torch.zeros_like(entropy))

    @torch.no_grad()
    def generate(self, prompts: torch.Tensor, length: int, generator: torch.Generator | None = None,
                 temperature: float = 1.0, greedy: bool = False) -> torch.Tensor:
        """Sample ``length`` tokens after each left-padded prompt; PAD after a row's EOS."""
        prompts = prompts.long()
        b, t = prompts.shape
        if t + length - 1 > self.config.max_len:
            raise InputError(f"{t} + {length} tokens exceed the model's max_len {self.config.max_len}; "
                             "shorten prompts or responses")
        out = torch.full((b, length), PAD, dtype=torch.long, device=prompts.device)
        done = torch.zeros(b, dtype=torch.bool, device=prompts.device)
        # a key-value cache: the prompt in one pass, then one position per new token
        caches = self.new_caches()
        logits, _ = self(prompts, caches)
        real = prompts != PAD
        for i in range(length):
            step = logits[:, -1].float()
            step[:, PAD] = -torch.inf  # PAD is never emitted: a response ends with EOS
            if greedy:
                token = step.argmax(-1)
            else:
                probs = torch.softmax(step / max(temperature, 1e-6), -1)
                token = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
            token = torch.where(done, torch.full_like(token, PAD), token)
            out[:, i] = token
            done |= token == EOS
            if bool(done.all()) or i == length - 1:
                break
            logits = self._next(token, real, caches)
            real = torch.cat([real, token[:, None] != PAD], 1)
        return out


class TinyCausalLM(CausalLM):
    """The built-in LM. ``forward(ids) -> (logits [B, T, V], hidden [B, T, D])``."""

    def __init__(self, config: LMConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or LMConfig()
        self.embed, self.pos = nn.Embedding(c.vocab_size, c.d_model), nn.Embedding(c.max_len, c.d_model)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layers))
        self.ln = nn.LayerNorm(c.d_model)
        self.head = nn.Linear(c.d_model, c.vocab_size, bias=False)

    def forward(self, ids: torch.Tensor, caches: list[list] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        ids = ids.long()
        b, t = ids.shape
        if t > self.config.max_len:
            raise InputError(f"{t} tokens exceed the model's max_len {self.config.max_len}; shorten prompts or "
                             "responses")
        real = ids != PAD
        positions = (real.cumsum(1) - 1).clamp(min=0)
        causal = torch.ones(t, t, dtype=torch.bool, device=ids.device).tril()
        # a query sees earlier non-PAD keys, and always itself (a PAD row must see something)
        mask = (causal & real[:, None, :]) | torch.eye(t, dtype=torch.bool, device=ids.device)
        x = self.embed(ids) + self.pos(positions)
        for i, block in enumerate(self.blocks):
            x = block(x, mask[:, None], None if caches is None else caches[i])
        hidden = self.ln(x)
        return self.head(hidden), hidden

    def new_caches(self) -> list[list]:
        return [[] for _ in self.blocks]

    def _next(self, token: torch.Tensor, real: torch.Tensor, caches: list[list]) -> torch.Tensor:
        keys = torch.cat([real, torch.ones_like(real[:, :1])], 1)  # earlier non-PAD keys, and itself
        x = self.embed(token[:, None]) + self.pos(self._next_position(token, real)[:, None])
        for block, cache in zip(self.blocks, caches, strict=True):
            x = block(x, keys[:, None, None, :], cache)
        return self.head(self.ln(x))

    # --- checkpoints -----------------------------------------------------------------------

    def save(self, directory: str | Path, extra: dict | None = None) -> None:
        """state_dict + JSON metadata (format version, shape, tokenizer), written atomically."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write(directory / WEIGHTS, lambda f: torch.save(self.state_dict(), f))
        meta = {"format_version": FORMAT_VERSION, "kind": "pbrl-tiny-causal-lm", "tokenizer": CharTokenizer.name,
                "config": asdict(self.config), **(extra or {})}
        atomic_write(directory / META, lambda f: f.write(json.dumps(meta, indent=2).encode()))

    @classmethod
    def load(cls, directory: str | Path) -> TinyCausalLM:
        directory = Path(directory)
        if not (directory / META).exists():
            raise MissingFileError(f"{directory}: no {META}; pass a directory written by `pbrl text sft` "
                                    "(TinyCausalLM.save)")
        meta = json.loads((directory / META).read_text())
        if meta.get("format_version") != FORMAT_VERSION or meta.get("kind") != "pbrl-tiny-causal-lm":
            raise InputError(f"{directory}: not a pbrl tiny LM of format {FORMAT_VERSION} ({meta.get('kind')}, "
                             f"format {meta.get('format_version')})")
        if meta.get("tokenizer") != CharTokenizer.name:
            raise InputError(f"{directory}: the model was trained with tokenizer {meta.get('tokenizer')!r}, not "
                             f"{CharTokenizer.name!r}: the model and the tokenizer do not match")
        model = cls(LMConfig(**meta["config"]))
        model.load_state_dict(torch.load(directory / WEIGHTS, weights_only=True))
        return model


def response_mask(responses: torch.Tensor) -> torch.Tensor:
    """1 for the tokens of each response up to and including its first EOS, 0 after."""
    is_eos = (responses == EOS).long()
    before = is_eos.cumsum(1) - is_eos  # EOS seen strictly before this token
    return (before == 0).float()


def count_parameters(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def seed_everything(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    return torch.Generator().manual_seed(seed)
