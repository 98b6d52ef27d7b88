"""A text model directory (``pbrl text sft`` or ``pbrl text import-hf``) read without torch:
its kind, the response game's keywords that fit it, its tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

from pbrl.errors import MissingFileError
from pbrl.text.formats import HF_KIND, META
from pbrl.text.hf_tokenizer import HFTokenizer
from pbrl.text.tokenizer import CharTokenizer, Tokenizer


def load_tokenizer(directory: str | Path | None) -> Tokenizer:
    """The tokenizer of an LM directory (None or "char": the built-in character tokenizer)."""
    if directory in (None, "char", CharTokenizer.name) or model_kind(directory) != HF_KIND:
        return CharTokenizer()
    return HFTokenizer.load(directory)


def lm_env_kwargs(directory: str | Path) -> dict:
    """The response game's keyword arguments that fit an LM directory: its prompt and response
    lengths and, for a Hugging Face model, its tokenizer."""
    meta = json.loads((Path(directory) / META).read_text()) if (Path(directory) / META).exists() else {}
    kwargs = {"max_prompt_tokens": meta.get("prompt_tokens"), "max_response_tokens": meta.get("response_tokens")}
    if meta.get("kind") == HF_KIND:
        kwargs["tokenizer"] = str(directory)
    return {k: v for k, v in kwargs.items() if v is not None}


def model_kind(directory: str | Path) -> str | None:
    path = Path(directory) / META
    if not path.exists():
        raise MissingFileError(f"{directory}: no {META}; pass a model directory written by `pbrl text sft` or "
                                "`pbrl text import-hf`")
    return json.loads(path.read_text()).get("kind")


