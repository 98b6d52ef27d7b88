"""The ``pbrl`` command."""

from __future__ import annotations

import argparse
import sys


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


def _baseline(args: argparse.Namespace) -> int:
    from pbrl.baseline import BaselineConfig, run_baseline

    config = BaselineConfig(env_id=args.env_id, algo=args.algo, steps=int(args.steps), seed=args.seed)
    print(f"{config.algo.upper()} on the true reward of {config.env_id}, {config.steps:,} steps, seed {config.seed}")
    result = run_baseline(config)
    print(
        f"true return of the final policy: {result['true_return_mean']:.1f} +- {result['true_return_std']:.1f} "
        f"({config.eval_episodes} deterministic episodes; trained in {result['train_seconds']:.0f} s)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pbrl",
        description="Preference-based reinforcement learning (Christiano et al. 2017) on gymnasium + SB3.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    envs = sub.add_parser("envs", help="list the pbrl/... environment ids (or measure their speed)")
    envs.add_argument("--family", action="append", choices=["classic", "mujoco", "atari"], help="only this family (repeatable)")
    envs.add_argument("--speed", action="store_true", help="measure random-action steps/s with and without rendering")
    envs.add_argument("--seconds", type=float, default=2.0, help="seconds per speed measurement (default 2)")
    envs.set_defaults(func=_envs)

    base = sub.add_parser("baseline", help="train PPO/A2C on the true reward and print the true return")
    base.add_argument("env_id", nargs="?", default="pbrl/CartPole-v1", help="a pbrl id (default pbrl/CartPole-v1)")
    base.add_argument("--algo", default="ppo", choices=["ppo", "a2c"])
    base.add_argument("--steps", type=float, default=40_000, help="environment steps (1e5 notation works)")
    base.add_argument("--seed", type=int, default=0)
    base.set_defaults(func=_baseline)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except (ValueError, KeyError, TypeError, ImportError, FileNotFoundError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"pbrl {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
