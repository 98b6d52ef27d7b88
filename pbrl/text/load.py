"""Load the language model a model directory holds, built-in or Hugging Face."""

from __future__ import annotations

from pathlib import Path

from pbrl.text.hf import HFCausalLM
from pbrl.text.model import CausalLM, TinyCausalLM
from pbrl.text.model_dir import HF_KIND, model_kind


def load_lm(directory: str | Path) -> CausalLM:
    """The LM a directory holds: the built-in model (``pbrl text sft``) or a Hugging Face one
    (``pbrl text import-hf``, which needs the ``hf`` extra)."""
    kind = model_kind(directory)
    if kind == HF_KIND:
        return HFCausalLM.load(directory)
    return TinyCausalLM.load(directory)
