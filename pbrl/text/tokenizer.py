"""A character tokenizer: the built-in small models read and write printable ASCII.

Ids: 0 PAD, 1 BOS, 2 EOS, 3 UNK, then newline and the 95 printable ASCII characters (space
to ``~``), 100 ids in all. A prompt is encoded left-padded (``PAD ... PAD BOS p1 ... pn``)
so that every row of a batch ends where generation starts; a response is ``r1 ... rm EOS``
then PAD to its fixed length, and everything after the first EOS is ignored.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pbrl.errors import InputError

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIAL = 4


class Tokenizer:
    """What every tokenizer of the response game shares, over pbrl's ids (PAD 0, EOS 2): the
    response encoding, the EOS test and the id check. A subclass gives ``name``,
    ``vocab_size``, ``ids(text)``, ``encode_prompt`` and ``decode``."""

    name: str
    vocab_size: int

    def ids(self, text: str) -> list[int]:
        raise NotImplementedError

    def encode_prompt(self, text: str, length: int) -> tuple[np.ndarray, bool]:
        """The prompt's ids, left-padded (or cut) to ``length``, and whether it was cut."""
        raise NotImplementedError

    def decode(self, ids: Sequence[int] | np.ndarray, stop_at_eos: bool = True) -> str:
        raise NotImplementedError

    def encode_response(self, text: str, length: int) -> np.ndarray:
        """The response then ``EOS``, right-padded to ``length`` (cut to fit, EOS kept if room)."""
        body = self.ids(text)[:length]
        row = np.full(length, PAD, dtype=np.int64)
        row[: len(body)] = body
        if len(body) < length:
            row[len(body)] = EOS
        return row

    def finished(self, ids: Sequence[int] | np.ndarray) -> bool:
        """Whether a response emitted EOS."""
        return bool(np.any(np.asarray(ids) == EOS))

    def check_ids(self, ids: np.ndarray, what: str) -> None:
        """A clear error for ids a model of another vocabulary produced."""
        ids = np.asarray(ids)
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise InputError(f"{what} holds token id {int(ids.max() if ids.max() >= self.vocab_size else ids.min())}, "
                             f"outside this tokenizer's vocabulary 0..{self.vocab_size - 1} ({self.name}): the model "
                             "and the tokenizer do not match")


class CharTokenizer(Tokenizer):
    """Printable-ASCII characters as ids; no vocabulary file, nothing to download.

    :param alphabet: the characters with ids (default newline + printable ASCII).
    """

    name = "char-ascii-v1"

    def __init__(self, alphabet: str | None = None) -> None:
        self.alphabet = alphabet if alphabet is not None else "\n" + "".join(chr(c) for c in range(32, 127))
        if len(set(self.alphabet)) != len(self.alphabet):
            raise InputError("the tokenizer's alphabet repeats a character")
        self._ids = {ch: SPECIAL + i for i, ch in enumerate(self.alphabet)}
        self.vocab_size = SPECIAL + len(self.alphabet)

    def ids(self, text: str) -> list[int]:
        """The ids of ``text``'s characters (UNK for a character outside the alphabet)."""
        return [self._ids.get(ch, UNK) for ch in text]

    def encode_prompt(self, text: str, length: int) -> tuple[np.ndarray, bool]:
        """``BOS`` + the prompt, left-padded to ``length``; (ids, whether it was cut). A prompt
        that does not fit keeps its end (the part a continuation follows)."""
        body = self.ids(text)
        cut = len(body) + 1 > length
        if cut:
            body = body[len(body) + 1 - length:]
        row = np.full(length, PAD, dtype=np.int64)
        row[length - len(body) - 1:] = [BOS, *body]
        return row, cut

    def decode(self, ids: Sequence[int] | np.ndarray, stop_at_eos: bool = True) -> str:
        """Text of ``ids``: special ids are dropped, and with ``stop_at_eos`` nothing after
        the first EOS counts."""
        out = []
        for i in np.asarray(ids, dtype=np.int64).ravel().tolist():
            if i == EOS and stop_at_eos:
                break
            if SPECIAL <= i < self.vocab_size:
                out.append(self.alphabet[i - SPECIAL])
        return "".join(out)
