"""Benchmark suites: ``pbrl bench SUITE``, and ``pbrl compare`` (a suite of one task).

A suite is a grid of cells (task, method, label budget, seed, options). Methods: ``random``
(a uniformly random policy, the zero of the normalised score), ``ppo`` (true-reward RL, the
ceiling), ``pbrl`` (preference learning with a synthetic teacher) at each budget, the
suite's variants (teachers, query strategies) and ``imitation`` (its PreferenceComparisons,
when installed). Every cell writes its own JSON file
under ``OUT/cells/`` when it finishes (temporary name, fsync, rename), and a re-run skips
the cells whose files exist, so a suite survives interruption and can be spread over
sessions or machines; ``--workers N`` runs cells in N processes. The report
(:mod:`pbrl.bench_report`) is made from those files alone.

A suite that is not RL on a pbrl env (the text suite) plugs in through ``"module:attr"``
strings on its :class:`Suite`, its cell runner and its report; this module and the report
import none of its code.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import MISSING, dataclass, fields, is_dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pbrl.errors import InputError
from pbrl.family import load_attr
from pbrl.io import atomic_write
from pbrl.run_dir import RunDir

if TYPE_CHECKING:  # annotations only: the trainer (torch, SB3) is imported by the cells that run it
    from pbrl.trainer import TrainConfig

# task -> env steps (PPO with the RL Zoo's per-env settings converges within them)
CLASSIC = {"pbrl/CartPole-v1": 50_000, "pbrl/Acrobot-v1": 100_000, "pbrl/MountainCarContinuous-v0": 100_000,
           "pbrl/Pendulum-v1": 100_000}
MUJOCO = {f"pbrl/{name}-v5": 1_000_000 for name in ("HalfCheetah", "Hopper", "Walker2d", "Ant", "Swimmer", "Reacher",
                                                   "InvertedPendulum", "InvertedDoublePendulum")}
ATARI = {f"pbrl/{name}-v5": 10_000_000 for name in ("Pong", "BeamRider", "Enduro")}
DEFAULT_STEPS = {**CLASSIC, **MUJOCO, **ATARI}
TEACHERS = ("perfect", "boltzmann", "myopic", "mistake", "skip", "equal")
QUERIES = ("uniform", "disagreement", "entropy")

Option = tuple[str, Any]  # (TrainConfig field, value); "reward.n_members" for a field of the reward model's config


@dataclass(frozen=True)
class Cell:
    """One run of a suite: a task, a method, a label budget (0 for true-reward RL), a seed,
    env steps and ``options``: overrides of TrainConfig fields (sorted, values frozen to
    tuples), part of the cell's identity, so that a grid with other options never reuses its
    result file."""

    task: str
    # "random", "ppo", "pbrl", "pbrl:teacher=NAME", "pbrl:query=NAME", "imitation"; text: "sft", "dpo", "rloo", "grpo"
    method: str
    labels: int
    seed: int
    steps: int
    options: tuple[Option, ...] = ()

    @property
    def name(self) -> str:
        """The result file's stem; with options, a stable digest of them is appended (the names
        of cells without options, every committed one, are unchanged)."""
        name = (f"{self.task.split('/')[-1]}__{self.method.replace(':', '-').replace('=', '-')}"
                f"__{self.labels}__s{self.seed}")
        return f"{name}__o{options_digest(self.options)}" if self.options else name


def options_digest(options: tuple[Option, ...]) -> str:
    """8 hex digits of SHA-256 over the options as JSON: the same options, the same name, on
    any machine and Python."""
    return hashlib.sha256(json.dumps(options, default=str).encode()).hexdigest()[:8]


@dataclass(frozen=True)
class Suite:
    """A grid's recipe: tasks and their env steps, label budgets, methods, and the hooks of a
    suite that is not RL on a pbrl env (named by strings, so that this module imports none
    of its code)."""

    name: str
    tasks: dict[str, int]
    labels: tuple[int, ...]
    variants: tuple[str, ...] = ("pbrl",)
    ceiling: bool = True  # true-reward PPO cells
    true_reward: tuple[str, ...] = ()  # other label-free RL methods on the hidden reward, beside PPO's cells
    imitation: bool = False  # imitation's PreferenceComparisons cells at each budget, when installed
    any_task: bool = False  # an ablation: --task may name any pbrl id, not only the suite's own
    zero: str = "random"  # the policy whose return is the normalised score's 0 (text: the SFT policy)
    target: tuple[float, int] | None = None  # (normalised score, largest budget) pbrl's rows should meet
    # "module:attr" of a cell runner ``(cell, out) -> result`` for tasks that are not RL on a pbrl
    # env; it times its own method (its train_seconds is the cell's wall time)
    runner: str | None = None
    report: str | None = None  # "module:attr" of a pbrl.bench_report.SuiteReport: its tables, text and plots
    dependent: tuple[str, ...] = ()  # methods whose cells read another cell's output (they run last)
    optional: tuple[str, ...] = ()  # methods run only when --method names them (e.g. they need an extra)

    def methods(self) -> tuple[str, ...]:
        """Every method a cell of this suite may have."""
        yardsticks = (self.zero, "ppo", *self.true_reward) if self.ceiling else ()
        return (*yardsticks, *self.variants, *self.optional, *(("imitation",) if self.imitation else ()))


SUITES: dict[str, Suite] = {
    "classic": Suite("classic", CLASSIC, (100,), imitation=True, target=(0.95, 200)),
    "mujoco": Suite("mujoco", MUJOCO, (700,), imitation=True, target=(0.9, 700)),
    "atari": Suite("atari", ATARI, (5500,)),
    "teachers": Suite("teachers", {"pbrl/Pendulum-v1": 100_000}, (200,), tuple(f"pbrl:teacher={t}" for t in TEACHERS),
                      any_task=True),
    # the response game (pbrl.text.bench): steps are responses; PPO on the hidden score is the ceiling
    "text": Suite("text", {"text/sentiment": 8_000, "text/arithmetic": 20_000}, (1000,), ("pbrl", "dpo"), zero="sft",
                  true_reward=("rloo", "grpo"), dependent=("dpo",), runner="pbrl.text.bench:run_text_cell",
                  report="pbrl.text.bench:REPORT", optional=("pbrl:teacher=judge-lm",)),
    "queries": Suite("queries", {"pbrl/Pendulum-v1": 100_000}, (200,), tuple(f"pbrl:query={q}" for q in QUERIES),
                     any_task=True),
}


def cells(suite: Suite, seeds: tuple[int, ...], labels: tuple[int, ...] | None = None, steps: int | None = None,
          tasks: tuple[str, ...] | None = None, imitation: bool = False,
          methods: tuple[str, ...] | None = None) -> list[Cell]:
    """The suite's grid, true-reward PPO first (it is the yardstick of every other cell);
    ``imitation``: with imitation's cells (suites that have them); ``methods``: only the cells
    of these methods (the suite's optional ones among them)."""
    if methods and (unknown := [m for m in methods if m not in suite.methods()]):
        raise InputError(f"suite {suite.name} has no method {', '.join(map(repr, unknown))}; its methods: "
                         f"{', '.join(suite.methods())}")
    chosen = {t: s for t, s in suite.tasks.items() if not tasks or t in tasks or t.split("/")[-1] in tasks}
    if tasks and suite.any_task:  # the ablation on another task
        from pbrl.envs import entry_for

        chosen = {}
        for name in tasks:
            task = name if name.startswith("pbrl/") else f"pbrl/{name}"
            entry_for(task)  # an unknown id: a KeyError naming the registered ones
            chosen[task] = suite.tasks.get(task) or DEFAULT_STEPS.get(task) or steps or 0
            if not chosen[task]:
                raise InputError(f"{task} has no default env steps in pbrl bench; give --steps")
    if tasks and not chosen:
        raise InputError(f"no task of suite {suite.name} matches {list(tasks)}; its tasks: {', '.join(suite.tasks)}")
    grid = []
    for task, default_steps in chosen.items():
        n = steps or default_steps
        for seed in seeds:
            if suite.ceiling:
                grid += [Cell(task, suite.zero, 0, seed, n), Cell(task, "ppo", 0, seed, n)]
                grid += [Cell(task, method, 0, seed, n) for method in suite.true_reward]
            for budget in labels or suite.labels:
                grid += [Cell(task, variant, budget, seed, n) for variant in (*suite.variants, *suite.optional)]
                if imitation and suite.imitation:
                    grid.append(Cell(task, "imitation", budget, seed, n))
    if methods:
        return [c for c in grid if c.method in methods]
    return [c for c in grid if c.method not in suite.optional]


# the cell's own fields, and fields that change none of a cell's numbers (cells record no video;
# the queue is the human teacher's, which no cell has): neither is an option
IDENTITY = ("env_id", "labels", "steps", "seed")
UNSCORED = ("video", "queue")
# the options the yardsticks take from a compare's TrainConfig: the random policy acts in the
# same env; the ceiling is true-reward RL with the same algorithm
YARDSTICK_OPTIONS = {"random": ("env_kwargs", "eval_episodes"), "ppo": ("algo", "eval_episodes")}


def train_overrides(config: TrainConfig) -> tuple[Option, ...]:
    """The fields of ``config`` that differ from TrainConfig's defaults (the reward model's
    too, as ``reward.FIELD``), sorted and frozen: a cell's options."""
    return tuple(sorted(_overrides(config, "", IDENTITY + UNSCORED)))


def _overrides(obj: Any, prefix: str, skip: tuple[str, ...] = ()) -> list[Option]:
    found: list[Option] = []
    for f in fields(obj):
        if f.name in skip or not f.init:
            continue
        value = getattr(obj, f.name)
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        if is_dataclass(value) and not isinstance(value, type):
            found += _overrides(value, f"{prefix}{f.name}.")
        elif default is MISSING or value != default:
            found.append((prefix + f.name, _frozen(value)))
    return found


def _frozen(value: Any) -> Any:
    """Dicts and lists as (sorted) tuples: a Cell is hashable, its options' JSON stable."""
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def with_overrides(config: Any, options: tuple[Option, ...]) -> Any:
    """``config`` (a TrainConfig, or a nested config) with ``options`` applied."""
    top: dict[str, Any] = {}
    nested: dict[str, list[Option]] = {}
    for name, value in options:
        head, _, rest = name.partition(".")
        if rest:
            nested.setdefault(head, []).append((rest, value))
        else:
            current = getattr(config, head)
            top[head] = (dict(value) if isinstance(current, dict) else list(value) if isinstance(current, list)
                         else value)
    top.update({head: with_overrides(getattr(config, head), tuple(items)) for head, items in nested.items()})
    return replace(config, **top)


def compare_cells(config: TrainConfig, seeds: tuple[int, ...]) -> list[Cell]:
    """``pbrl compare``'s grid, a suite of one task: per seed the random policy, true-reward RL
    and pbrl at ``config.labels``, with the same env steps; every option of ``config`` goes to
    the pbrl cell (and the env's and algorithm to the yardsticks that use them)."""
    options = train_overrides(config)
    grid = []
    for seed in seeds:
        for method in ("random", "ppo"):
            own = tuple(o for o in options if o[0] in YARDSTICK_OPTIONS[method])
            grid.append(Cell(config.env_id, method, 0, seed, config.steps, own))
        grid.append(Cell(config.env_id, "pbrl", config.labels, seed, config.steps, options))
    return grid


READ_BACK = "_read_back"  # run_rl_cell's mark on a finished run's summary read back (run_cell pops it)


def _failed(error: str, start: float) -> dict[str, Any]:
    """The result of a cell that could not work: recorded with its error, the suite goes on."""
    return {"error": error, "true_return_mean": float("nan"), "labels": 0, "curve": [],
            "train_seconds": time.perf_counter() - start}


def runner_of(task: str) -> str | None:
    """The ``"module:attr"`` of the cell runner of the suite that owns ``task``; None: RL on a
    pbrl env (:func:`run_rl_cell`)."""
    return next((s.runner for s in SUITES.values() if s.runner and task in s.tasks), None)


def run_cell(cell: Cell, out: str, beside: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run one cell and write its result file; returns the result. ``beside``: the names of
    the cells running when it started, kept in the file as ``ran_beside``."""
    start = time.perf_counter()
    spec = runner_of(cell.task)
    if spec is None:
        result = run_rl_cell(cell, out)
        if result.pop(READ_BACK, False):  # a finished run's summary: all its training was before this call
            wall = float(result["train_seconds"])
        else:  # a resumed cell's wall time counts the training of its earlier parts too
            wall = time.perf_counter() - start + float(result.get("seconds_before", 0.0))
    else:
        try:
            result = load_attr(spec)(cell, out)
        except (RuntimeError, ValueError) as exc:  # e.g. DPO with no directed comparison
            result = _failed(str(exc), start)
        wall = result["train_seconds"]  # the runner times its own method (not what its cells share)
    row = {**result, "labels_used": result.get("labels", 0), **cell.__dict__,  # "labels" is the cell's budget
           "wall_seconds": wall, "finished_at": time.time(),
           "machine": machine(), "versions": versions(),
           "ran_beside": list(beside)}
    write_row(out, cell, row)
    return row


def write_row(out: str | Path, cell: Cell, row: dict[str, Any]) -> Path:
    """The cell's result file, ``OUT/cells/NAME.json`` (atomically)."""
    path = Path(out) / "cells" / f"{cell.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(row, indent=1).encode()
    atomic_write(path, lambda f: f.write(text))
    return path


def run_rl_cell(cell: Cell, out: str) -> dict[str, Any]:
    """A cell on a pbrl env: the random policy, true-reward RL, imitation or pbrl (with the
    method's variant and the cell's options)."""
    from pbrl.baseline import BaselineConfig, run_baseline

    options = dict(cell.options)
    if cell.method == "random":  # the zero of the normalised score: uniformly random actions, same evaluation
        from pbrl import rl

        episodes = int(options.get("eval_episodes", 10))
        returns, _ = rl.evaluate(None, cell.task, episodes, cell.seed, env_kwargs=dict(options.get("env_kwargs", ())))
        return {"true_return_mean": float(np.mean(returns)), "true_return_std": float(np.std(returns)),
                "train_seconds": 0.0, "curve": []}
    if cell.method == "ppo":
        algo, episodes = options.get("algo", "ppo"), int(options.get("eval_episodes", 10))
        # checkpointed in OUT/runs/NAME: a cell stopped by the end of a session goes on from there
        return run_baseline(BaselineConfig(cell.task, algo, cell.steps, cell.seed, episodes),
                            label=f"{algo} {cell.task} s{cell.seed}", directory=Path(out) / "runs" / cell.name)
    start = time.perf_counter()
    if cell.method == "imitation":
        from pbrl.imitation_pc import run_imitation

        try:
            return run_imitation(cell.task, cell.labels, cell.steps, cell.seed,
                                 label=f"imitation {cell.task} s{cell.seed}")
        except Exception as exc:  # third-party code on a stack it does not pin: recorded, the suite goes on
            # (e.g. "no trajectory as long as a fragment": imitation cannot pad a short episode)
            return _failed(f"imitation: {exc}", start)
    from pbrl.trainer import TrainConfig, train

    # teacher=NAME, query=NAME
    variant: dict[str, Any] = dict(part.split("=", 1) for part in cell.method.split(":")[1:])
    config = TrainConfig(env_id=cell.task, labels=cell.labels, steps=cell.steps, seed=cell.seed, video=False, **variant)
    config = with_overrides(config, cell.options)  # a bad option stops the suite: it is no result
    run_path = Path(out) / "runs" / cell.name
    resume = _resumable(run_path, config)
    if resume is None:
        RunDir.set_aside(run_path)  # an interrupted cell of other settings starts again; nothing of it is lost
    elif resume == "finished":
        return {**json.loads((run_path / "summary.json").read_text()), READ_BACK: True}
    try:
        return train(config, run_path, resume=resume == "resume")
    except (RuntimeError, ValueError) as exc:  # e.g. B-Pref's skip teacher on negative returns
        return _failed(str(exc), start)


def _resumable(run_path: Path, config: Any) -> str | None:
    """How a cell's run directory goes on: ``finished`` (its summary is there), ``resume``
    (a checkpoint of the same settings: a cell stopped by the end of a session goes on from
    there), or None (nothing, or another run: set aside and start again)."""
    from pbrl.config import TrainConfig
    from pbrl.run import resolved

    try:
        same = resolved(TrainConfig.from_json(json.loads((run_path / "config.json").read_text()))) == resolved(config)
    except (OSError, ValueError):  # no run, or a config.json this pbrl cannot read
        return None
    if not same:
        return None
    if (run_path / "summary.json").exists():
        return "finished"
    return "resume" if (run_path / "progress.json").exists() else None


def best_seconds(fn: Callable[[], Any], repeats: int, device: Any = "cpu") -> float:
    """The fastest of ``repeats`` calls of ``fn`` after a warm-up call, in seconds; on a CUDA
    ``device`` the GPU's queued work is waited for on both sides of each call."""
    import torch

    cuda = torch.device(device).type == "cuda"
    fn()
    times = []
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times)


def machine() -> str:
    """Cores and architecture, and the GPU when torch sees one ("16 cores, x86_64, GPU NVIDIA
    H200"); the report says "no GPU" of a machine that names none."""
    import torch

    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return f"{os.cpu_count()} cores, {platform.machine()}{gpu}"


def versions() -> dict[str, str]:
    """The versions a cell ran with (python, the stack, pbrl's git commit when in a checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for name in ("pbrl", "gymnasium", "stable-baselines3", "torch", "mujoco", "ale-py", "numpy", "imitation"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    try:
        import subprocess

        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                                cwd=Path(__file__).resolve().parent)
        if commit.returncode == 0:
            found["pbrl_commit"] = commit.stdout.strip()
    except OSError:
        pass
    return found


def done(out: str | Path) -> dict[str, dict[str, Any]]:
    """Finished cells' results, by cell name."""
    folder = Path(out) / "cells"
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}


COMMANDS_FILE = "commands.txt"


def record_command(out: str | Path, command: str) -> None:
    """Add ``command`` to OUT/commands.txt (once): the report shows what made its cells."""
    path = Path(out) / COMMANDS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    known = path.read_text().splitlines() if path.exists() else []
    if command not in known:
        text = "\n".join(known + [command]) + "\n"
        atomic_write(path, lambda f: f.write(text.encode()))


LIGHT = ("random",)  # cells of a few seconds: run together, before the timed ones


def dependent_methods() -> set[str]:
    """The methods whose cells read another cell's output (DPO reads the pbrl cell's labels)."""
    return {m for suite in SUITES.values() for m in suite.dependent}


def rounds(todo: list[Cell], workers: int) -> list[list[Cell]]:
    """The order cells start in, as rounds of at most ``workers`` that start side by side:
    true-reward PPO with the preference-learning cell of its task, seed and steps (plain pbrl
    first), so that the two start together; the other timed cells after them, in order, and the
    cells that read another's output (DPO) in rounds of their own after those; the light cells
    (the random policy) first. :func:`_run_parallel` starts each cell as a worker frees."""
    dependent = dependent_methods()

    def chunks(cells: list[Cell]) -> list[list[Cell]]:
        return [cells[i:i + workers] for i in range(0, len(cells), max(1, workers))]

    groups: dict[tuple[str, int, int], list[Cell]] = {}
    for cell in todo:
        if cell.method not in LIGHT:
            groups.setdefault((cell.task, cell.seed, cell.steps), []).append(cell)
    paired, rest, last = [], [], []
    for group in groups.values():
        ppo = [c for c in group if c.method == "ppo"]
        others = sorted((c for c in group if c.method != "ppo" and c.method not in dependent),
                        key=lambda c: c.method != "pbrl")  # stable: plain pbrl first, then in grid order
        last += [c for c in group if c.method in dependent]
        if ppo and others and workers > 1:
            paired.append([ppo[0], *others[: workers - 1]])
            ppo, others = ppo[1:], others[workers - 1:]
        rest += ppo + others
    return chunks([c for c in todo if c.method in LIGHT]) + paired + chunks(rest) + chunks(last)


@contextmanager
def sigterm_exits() -> Iterator[None]:
    """SIGTERM (``kill``, a scheduler) raises SystemExit inside the block, as Ctrl-C raises
    KeyboardInterrupt, so that a grid runner stops the cells it started (main thread only;
    the previous handler comes back after)."""
    import signal
    import threading

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop) if threading.current_thread() is threading.main_thread() else None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run_parallel(todo: list[Cell], out: str, workers: int) -> None:
    """The cells in ``workers`` spawned processes, started in :func:`rounds`' order, a freed
    worker taking the next cell at once (so every timed cell shares the machine with the same
    number of others until the grid's tail; the light cells run before the timed ones, and a
    cell that reads another's output after every other). A cell's file names each cell whose
    run overlapped its own (``ran_beside``). Stopped (Ctrl-C, or SIGTERM from ``kill`` or a scheduler), it takes the
    running cells with it: orphaned workers would go on writing result files; a finished cell's
    file is already written, and an interrupted one starts again."""
    import multiprocessing as mp

    dependent = dependent_methods()
    order = [cell for batch in rounds(todo, workers) for cell in batch]
    # the light cells (seconds) first, then the timed ones, then those that read another's output
    phases = [[c for c in order if c.method in LIGHT],
              [c for c in order if c.method not in LIGHT and c.method not in dependent],
              [c for c in order if c.method in dependent]]
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"))
    with sigterm_exits():
        try:
            finished = 0
            for queue in phases:
                running: dict[Future[dict[str, Any]], Cell] = {}
                beside: dict[str, set[str]] = {}  # each running cell: the cells whose runs overlapped it
                while queue or running:
                    while queue and len(running) < workers:
                        cell = queue.pop(0)
                        beside[cell.name] = {c.name for c in running.values()}
                        for other in running.values():
                            beside[other.name].add(cell.name)
                        running[pool.submit(run_cell, cell, out, tuple(sorted(beside[cell.name])))] = cell
                    for future in wait(running, return_when=FIRST_COMPLETED).done:
                        cell = running.pop(future)
                        row = future.result()
                        if set(row["ran_beside"]) != beside[cell.name]:  # cells started after it
                            write_row(out, cell, {**row, "ran_beside": sorted(beside[cell.name])})
                        finished += 1
                        print(f"== [{finished}/{len(todo)}] finished {cell.name}", flush=True)
        except (KeyboardInterrupt, SystemExit):
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    pool.shutdown()


def run_suite(grid: list[Cell], out: str, workers: int = 1, command: str | None = None,
              execute: Callable[[list[Cell], str], None] | None = None, where: str = "") -> list[dict[str, Any]]:
    """Run the cells without a result file (in ``workers`` processes, or by ``execute(cells,
    out)``, e.g. as tasks on a Ray cluster: :mod:`pbrl.bench_ray`, said ``where``); every
    finished row. ``command``: the invocation, recorded in OUT/commands.txt for the report."""
    if command:
        record_command(out, command)
    finished = done(out)
    clashes = [c for c in grid if c.name in finished and int(finished[c.name].get("steps", c.steps)) != c.steps]
    if clashes:  # a cell's name does not carry its steps: never mix runs of different lengths
        c = clashes[0]
        raise InputError(f"{out}/cells/{c.name}.json ran {int(finished[c.name]['steps'])} env steps, this grid asks "
                         f"{c.steps} ({len(clashes)} such cells); pass another --out, or delete those files "
                         "to rerun them")
    # a cell that reads another's output (DPO reads the pbrl cell's labels) waits for it: those
    # go last, so that parallel workers do not sit on a lock
    dependent = dependent_methods()
    todo = sorted((c for c in grid if c.name not in finished), key=lambda c: c.method in dependent)
    where = where or f"with {workers} worker(s)"
    print(f"{len(grid)} cells, {len(grid) - len(todo)} already done, {len(todo)} to run {where} -> {out}", flush=True)
    if execute is not None:
        execute(todo, out)
    elif workers <= 1:
        for i, cell in enumerate(todo, 1):
            print(f"== [{i}/{len(todo)}] {cell.name}", flush=True)
            run_cell(cell, out)
    else:
        _run_parallel(todo, out, workers)
    names = {c.name for c in grid}
    return [row for name, row in done(out).items() if name in names]
