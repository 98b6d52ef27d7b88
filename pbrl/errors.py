"""The errors pbrl raises for what a user can fix (the bottom layer: imports nothing of pbrl).

Each message names the file or flag, the cause and the fix. The ``pbrl`` command prints a
:class:`PbrlError` as one line and exits with status 2; any other exception is a bug in pbrl
(or below it) and keeps its traceback. Each type is also the built-in exception it refines
(an :class:`InputError` is a ValueError), so ``except ValueError`` goes on catching it.
"""

from __future__ import annotations

import math


class PbrlError(Exception):
    """A failure the user can fix; the message says how."""

    def __str__(self) -> str:  # KeyError's own str() would quote the message
        return str(self.args[0]) if self.args else ""


class InputError(PbrlError, ValueError):
    """A flag, argument or file content that pbrl cannot use."""


class MissingFileError(PbrlError, FileNotFoundError):
    """A file or directory pbrl needs is not there."""


class RunExistsError(PbrlError, FileExistsError):
    """The output directory already holds a run (nothing is overwritten)."""


class StateError(PbrlError, RuntimeError):
    """What is going on stops the command: another trainer on the run, no display, a run
    whose warm-up gave no label, a judge or scorer that raised."""


class UnknownNameError(PbrlError, KeyError):
    """An unknown env id, family or stored item."""


class UnsupportedError(PbrlError, TypeError):
    """A space, object or callable pbrl cannot work with."""


class MissingDependencyError(PbrlError, ImportError):
    """An id's optional dependency is not installed; the message names the extra."""


class SpecError(PbrlError, ImportError):
    """A ``module:attr`` string (a judge, a family, a suite's runner) that names nothing importable."""


def check_numbers(obj: object, flags: dict[str, str] | None = None, **rules: str) -> None:
    """Refuse a field of the config ``obj`` that is not a finite number meeting its rule:
    ``check_numbers(config, l2=">= 0", lr="> 0")``. A field at None is left to its default.

    :param flags: the command-line flag of a field whose flag is not ``--field-name``.
    """
    for name, rule in rules.items():
        value = getattr(obj, name)
        if value is None:
            continue
        op, bound = rule.split()
        ok = math.isfinite(value) and (value > float(bound) if op == ">" else value >= float(bound))
        if not ok:
            flag = (flags or {}).get(name, "--" + name.replace("_", "-"))
            raise InputError(f"{flag} must be a number {rule}, got {value}")
