"""Command-line options generated from the config dataclasses: one source of truth.

Each field of a config dataclass (``TrainConfig``, ``RewardModelConfig``, ``BaselineConfig``,
the text configs) becomes an argparse option:

- the flag is ``--field-name``; a nested config's fields (``TrainConfig.reward``) keep their
  flat names (``--combine``, ``--dropout``) unless the name is taken by an outer field or an
  alias, then they get the nested field's name in front (``--reward-k``);
- the type comes from the annotation: ``int`` (which also reads float notation: ``--steps
  5e5``), ``float``, ``str``, ``bool`` (a ``--x`` / ``--no-x`` pair), ``X | None``,
  ``tuple[int, ...]`` (several values) and ``dict`` (``--x KEY=VALUE``, repeatable; or one
  option per field of a dataclass that describes the keys, as the teacher's parameters);
- the default is the dataclass's, and the help says so ("default: ..."); a ``None`` default
  reads as the caller says (``none_help``: "the env family's" for the reward model);
- the help text is the field's attribute docstring (the string literal under the field, read
  with ``ast`` from the class source, as tyro and Stable-Baselines3's docs do), or its
  ``:param name:`` line in the class docstring;
- choices are given where the config's module knows them (``choices``);
- an alias table (:class:`Alias`) keeps documented flags whose names differ from the fields.

:func:`config_from_args` builds the dataclass, nested configs included, back from the parsed
namespace, so a command never lists the fields by hand; :func:`changed_flags` names the options
given a value other than their default (``pbrl train --resume`` refuses them), and
:class:`LazyArgumentParser` adds a command's options only when that command is used.

Why argparse and not tyro (cleanrl's choice, which also generates a CLI from dataclasses):
tyro names a nested config's fields ``--reward.n-members``, which would rename the flat flags
the README documents (``--members``, ``--combine``, ``--fixed-l2``), and its ``int`` parser
rejects ``--steps 5e5``; it would also be one more dependency for what the standard library
does in a page.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import re
import textwrap
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, TypeVar

from pbrl.errors import InputError

_UNSET: Any = object()
T = TypeVar("T")


@dataclass(frozen=True)
class Alias:
    """A flag whose name is not its field's.

    :param flag: the option string, e.g. ``--std-k``.
    :param path: the field it sets, dotted through nested configs (``reward.k``), or a key of
        a dict field (``env_kwargs.task``).
    :param const: when given, the flag takes no value and sets the field to this
        (``--fixed-l2``: ``reward.adapt_l2 = False``); otherwise it is another name of the
        field's option (a switch of a bool field sets it True).
    :param help: help text (default: the field's).
    """

    flag: str
    path: str
    const: Any = _UNSET
    help: str | None = None


def int_arg(text: str) -> int:
    """An int that may be written in float notation: ``5e5``, ``1e6``, ``2000.0``."""
    try:
        return int(text)
    except ValueError:
        value = float(text)  # a ValueError here: argparse says "invalid int value"
        if not value.is_integer():
            raise InputError(text) from None
        return int(value)


int_arg.__name__ = "int"  # argparse names the type in its error: "invalid int value: '2.5'"


def field_docs(cls: type) -> dict[str, str]:
    """The attribute docstrings of ``cls``'s fields (its bases' too), one line each; fields
    without one fall back to a ``:param name:`` entry of the class docstring."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is object or not dataclasses.is_dataclass(klass):
            continue
        docs.update(_param_docs(klass.__doc__ or ""))
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        tree = ast.parse(source)
        body = next(node for node in tree.body if isinstance(node, ast.ClassDef)).body
        for node, after in pairwise(body):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                    and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)):
                docs[node.target.id] = _one_line(after.value.value)
    return docs


def _param_docs(doc: str) -> dict[str, str]:
    out = {}
    for match in re.finditer(r":param (\w+):(.*?)(?=\n\s*:|\Z)", inspect.cleandoc(doc), flags=re.S):
        out[match.group(1)] = _one_line(match.group(2))
    return out


def _one_line(text: str) -> str:
    return " ".join(text.replace("``", "").split())


def _optional(hint: Any) -> tuple[Any, bool]:
    """``X | None`` -> (X, True); anything else -> (hint, False)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0], True
    return hint, False


def _scalar(hint: Any) -> Callable[[str], Any]:
    if hint is int:
        return int_arg
    if hint in (float, str):
        return hint
    if hint is bool:
        return _bool_arg
    return _json_or_str


def _bool_arg(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise InputError(text)


_bool_arg.__name__ = "bool"


def _json_or_str(text: str) -> Any:
    """A value of ``KEY=VALUE``: numbers, true/false, null and JSON read as such, else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _show(value: Any, none: str) -> str:
    if value is None:
        return none
    if value == "":
        return "none"
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items()) or "none"
    return str(value)


def _help(doc: str, default: str) -> str:
    text = f"{doc} (default: {default})" if doc else f"default: {default}"
    return text.replace("%", "%%")


def _same_as(flag: str, const: Any, switch: bool) -> str:
    if switch:
        return f"same as {flag if const else '--no-' + flag[2:]}"
    return f"same as {flag} {_show(const, 'none')}"


class _Switch(argparse.Action):
    """``--x`` sets True, ``--no-x`` False (a bool field; ``bool | None`` keeps None as its default)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        negatives = [f"--no-{option_strings[0][2:]}"]  # of the field's own flag, not of its aliases
        self.negatives = set(negatives)
        super().__init__([*option_strings, *negatives], dest, nargs=0, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, option_string not in self.negatives)

    def format_usage(self) -> str:
        return " | ".join(self.option_strings)


class _DictItems(argparse.Action):
    """``--x KEY=VALUE`` (repeatable) into a dict field; the dict is copied, never changed in place."""

    def __init__(self, option_strings: Sequence[str], dest: str, value_type: Callable[[str], Any] = _json_or_str,
                 **kwargs: Any) -> None:
        self.value_type = value_type
        super().__init__(option_strings, dest, metavar="KEY=VALUE", **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        key, sep, value = str(values).partition("=")
        if not sep or not key:
            raise argparse.ArgumentError(self, f"takes KEY=VALUE, got {values!r}")
        try:
            parsed = self.value_type(value)
        except ValueError:
            raise argparse.ArgumentError(self, f"invalid value for {key}: {value!r}") from None
        setattr(namespace, self.dest, {**(getattr(namespace, self.dest, None) or {}), key: parsed})


class _DictKey(argparse.Action):
    """An option that sets one key of a dict field (``--beta 0.5``: ``teacher_params["beta"]``)."""

    def __init__(self, option_strings: Sequence[str], dest: str, key: str = "", **kwargs: Any) -> None:
        self.key = key
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, {**(getattr(namespace, self.dest, None) or {}), self.key: values})


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _fields(cls: type) -> list[tuple[dataclasses.Field, Any]]:
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(cls) if f.init]


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return _UNSET


def _is_config(hint: Any) -> bool:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


def add_config_arguments(
    parser: argparse.ArgumentParser,
    cls: type,
    *,
    positional: Iterable[str] = (),
    aliases: Iterable[Alias] = (),
    choices: Mapping[str, Iterable[str]] | None = None,
    expand: Mapping[str, type] | None = None,
    none_help: Mapping[type, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
    skip: Iterable[str] = (),
) -> None:
    """Add one option per field of the dataclass ``cls`` (nested configs included) to ``parser``.

    :param positional: top-level fields taken as optional positional arguments instead.
    :param aliases: flags whose names differ from the fields (:class:`Alias`).
    :param choices: the allowed values of a field, by dotted path (``reward.combine``).
    :param expand: dict fields whose keys are the fields of a dataclass, by path: one option
        per key (``{"teacher_params": TeacherConfig}``: ``--beta``, ``--gamma``, ...), unset
        keys left out of the dict.
    :param none_help: what a ``None`` default means, per config class (help text).
    :param defaults: a different parser default for a path (e.g. a positional that must be
        given: None); the dataclass's stays in the help of every other field.
    :param skip: paths left off the command line (they keep the dataclass's default).
    """
    builder = _ArgumentBuilder(parser, cls, positional=positional, aliases=aliases, choices=choices, expand=expand,
                               none_help=none_help, defaults=defaults, skip=skip)
    builder.add(parser, cls, "")
    builder.check_names(cls)


class _ArgumentBuilder:
    """What :func:`add_config_arguments` works with while it walks a config class: the parser,
    the caller's aliases, choices, expanded dicts, help and defaults (by path), the flags taken
    so far and the paths met (``known``)."""

    def __init__(
        self,
        parser: argparse.ArgumentParser,
        cls: type,
        *,
        positional: Iterable[str],
        aliases: Iterable[Alias],
        choices: Mapping[str, Iterable[str]] | None,
        expand: Mapping[str, type] | None,
        none_help: Mapping[type, str] | None,
        defaults: Mapping[str, Any] | None,
        skip: Iterable[str],
    ) -> None:
        self.parser = parser
        self.aliases = list(aliases)
        self.choices = {k: list(v) for k, v in (choices or {}).items()}
        self.expand, self.none_help, self.defaults = dict(expand or {}), dict(none_help or {}), dict(defaults or {})
        self.skip, self.positional = set(skip), set(positional)
        self.by_path: dict[str, list[Alias]] = {}
        for alias in self.aliases:
            self.by_path.setdefault(alias.path, []).append(alias)
        self.taken = {a.flag for a in self.aliases} | {_flag(f.name) for f, _ in _fields(cls)}
        for f, _ in _fields(cls):  # the expanded dicts' keys are top-level flags too
            if f.name in self.expand:
                self.taken |= {_flag(g.name) for g, _ in _fields(self.expand[f.name])}
        self.known: set[str] = set()

    def add(self, group: Any, klass: type, prefix: str) -> None:
        docs = field_docs(klass)
        nested = []
        for f, hint in _fields(klass):
            path = prefix + f.name
            self.known.add(path)
            if path in self.skip:
                continue
            if _is_config(hint):
                nested.append((f, hint))
                continue
            flag = _flag(f.name)
            if prefix and flag in self.taken:
                flag = _flag(prefix.replace(".", "_") + f.name)
            self.taken.add(flag)
            self.add_field(group, klass, f, hint, path, flag, docs.get(f.name, ""))
        for f, hint in nested:
            title = f"{prefix}{f.name} ({hint.__name__})"
            description = _one_line((hint.__doc__ or "").split("\n\n")[0]).replace("%", "%%")
            self.add(self.parser.add_argument_group(title, description), hint, prefix + f.name + ".")

    def add_field(self, group: Any, klass: type, f: dataclasses.Field, hint: Any, path: str, flag: str,
                  doc: str) -> None:
        defaults, by_path, none_help = self.defaults, self.by_path, self.none_help
        default = _default(f)
        base, optional = _optional(hint)
        shown = _show(defaults.get(path, default), none_help.get(klass, "none") if path not in defaults else "none")
        own = [a for a in by_path.get(path, []) if a.const is _UNSET and a.flag != flag]
        extra = [a.flag for a in own]
        kwargs: dict[str, Any] = {"dest": path, "default": defaults.get(path, default), "help": _help(doc, shown)}
        if path in self.choices:
            kwargs["choices"] = self.choices[path]
        origin = typing.get_origin(base)
        if path in self.positional:
            del kwargs["dest"]
            group.add_argument(path, nargs="?", type=_scalar(base), **kwargs)
        elif base is bool:
            group.add_argument(flag, *extra, action=_Switch, **kwargs)
        elif origin is tuple:
            item = typing.get_args(base)[0]
            group.add_argument(flag, *extra, nargs="+", type=_scalar(item), action=_TupleStore,
                               metavar=item.__name__.upper(), **kwargs)
        elif origin is dict or base is dict:
            if path in self.expand:
                self.add_expanded(self.expand[path], path, kwargs["default"], doc)
            else:
                value_type = typing.get_args(base)[1] if typing.get_args(base) else Any
                group.add_argument(flag, *extra, action=_DictItems, value_type=_scalar(value_type), **kwargs)
        else:
            if "choices" not in kwargs:
                kwargs["metavar"] = f.name.upper()
            group.add_argument(flag, *extra, type=_scalar(base), **kwargs)
        for alias in by_path.get(path, []):  # switches: --fixed-l2, --reward-state-only
            if alias.const is not _UNSET:
                group.add_argument(alias.flag, dest=path, action="store_const", const=alias.const,
                                   help=(alias.help or _same_as(flag, alias.const, base is bool)).replace("%", "%%"))
        for alias in self.aliases:  # keys of a dict field: --task (env_kwargs["task"])
            if alias.path.startswith(path + ".") and alias.path.count(".") == path.count(".") + 1:
                key = alias.path.rsplit(".", 1)[1]
                group.add_argument(alias.flag, dest=path, action=_DictKey, key=key, default=kwargs["default"],
                                   metavar=key.upper(), help=(alias.help or f"the {key} of {flag}").replace("%", "%%"))
                self.known.add(alias.path)

    def add_expanded(self, keys: type, path: str, default: dict, doc: str) -> None:
        docs = field_docs(keys)
        sub = self.parser.add_argument_group(f"{path} ({keys.__name__})", doc.replace("%", "%%") or None)
        for g, hint in _fields(keys):
            base, _ = _optional(hint)
            flag = _flag(g.name)
            sub.add_argument(flag, *[a.flag for a in self.by_path.get(f"{path}.{g.name}", [])], dest=path,
                             action=_DictKey, key=g.name, type=_scalar(base), default=default, metavar=g.name.upper(),
                             help=_help(docs.get(g.name, ""), self.none_help.get(keys, "none")))
            self.known.add(f"{path}.{g.name}")

    def check_names(self, cls: type) -> None:
        """Every path the caller named is a field (or a key alias) met while adding."""
        named = ({a.path for a in self.aliases} | set(self.choices) | set(self.expand) | set(self.defaults)
                 | self.positional | self.skip)
        unknown = sorted(named - self.known)
        if unknown:  # a renamed field: its alias or choices would silently stop working
            raise InputError(f"no field of {cls.__name__} is called {', '.join(unknown)}")


class _TupleStore(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, tuple(values))


def config_from_args(cls: type[T], args: argparse.Namespace, prefix: str = "", **overrides: Any) -> T:
    """The dataclass ``cls`` built from a namespace parsed with :func:`add_config_arguments`:
    each field the namespace holds (nested configs from their own fields), the dataclass's
    default for the rest; ``overrides`` replace top-level fields."""
    kwargs: dict[str, Any] = {}
    for f, hint in _fields(cls):
        path = prefix + f.name
        if _is_config(hint):
            kwargs[f.name] = config_from_args(hint, args, path + ".")
        elif hasattr(args, path):
            value = getattr(args, path)
            kwargs[f.name] = dict(value) if isinstance(value, dict) else value
    kwargs.update(overrides)
    return cls(**kwargs)


def changed_flags(parser: argparse.ArgumentParser, args: argparse.Namespace, ignore: Iterable[str] = ()) -> list[str]:
    """The options of ``parser`` whose value in ``args`` differs from the parser's default, one
    name per field (a switch alias when its value is the one set: ``--fixed-l2``), and per key
    of a dict field."""
    defaults = parser.parse_args([])
    actions = [a for a in parser._actions if a.dest not in set(ignore) | {argparse.SUPPRESS}]
    out: list[str] = []

    def report(name: str) -> None:
        if name not in out:
            out.append(name)

    for action in actions:
        dest = action.dest
        value, default = getattr(args, dest, None), getattr(defaults, dest, None)
        if value == default:
            continue
        if isinstance(action, _DictKey):
            if (value or {}).get(action.key) != (default or {}).get(action.key):
                report(action.option_strings[0])
        elif isinstance(action, _DictItems):
            keyed = {a.key for a in actions if isinstance(a, _DictKey) and a.dest == dest}
            if any((value or {}).get(k) != (default or {}).get(k) for k in set(value or {}) | set(default or {})
                   if k not in keyed):
                report(action.option_strings[0])
        elif action is next(a for a in actions if a.dest == dest):  # once per field
            switch = [a for a in actions if a.dest == dest and isinstance(a, argparse._StoreConstAction)
                      and a.const == value]
            if switch:
                report(switch[0].option_strings[0])
            elif isinstance(action, _Switch):
                report(next(s for s in action.option_strings if (s in action.negatives) != bool(value)))
            else:
                report(action.option_strings[0] if action.option_strings else dest)
    return out


class LazyArgumentParser(argparse.ArgumentParser):
    """A (sub)command parser whose arguments are added on first use, parsing or help: building
    ``pbrl train``'s options imports the trainer (and torch), which ``pbrl --help`` and the
    light commands need not wait for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deferred: list[Callable[[argparse.ArgumentParser], None]] = []

    def defer(self, populate: Callable[[argparse.ArgumentParser], None]) -> None:
        self._deferred.append(populate)

    def populate(self) -> None:
        while self._deferred:
            self._deferred.pop(0)(self)

    def parse_known_args(self, args=None, namespace=None):
        self.populate()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self.populate()
        return super().format_help()

    def format_usage(self) -> str:
        self.populate()
        return super().format_usage()
