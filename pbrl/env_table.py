"""``pbrl envs``: what each registered id is, and what one step of it costs."""

from __future__ import annotations

import time
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from pbrl.envs import SUITE, dependency_installed
from pbrl.envs.registry import SuiteEntry


@dataclass(frozen=True)
class EnvRow:
    id: str
    family: str
    installed: bool
    observation_space: str
    action_space: str
    note: str


def short_space(space: gym.Space) -> str:
    """A one-line space description: bounds only where they are the same for every dimension."""
    if isinstance(space, gym.spaces.Box):
        low, high = np.unique(space.low), np.unique(space.high)
        bounds = f"{low[0]:g}, {high[0]:g}, " if len(low) == 1 and len(high) == 1 else ""
        return f"Box({bounds}{space.shape}, {space.dtype})"
    if isinstance(space, gym.spaces.MultiDiscrete) and len(np.unique(space.nvec)) == 1:
        return f"MultiDiscrete({space.nvec.size} x {space.nvec.flat[0]})"  # a response: length x vocabulary
    return str(space)


def describe(entry: SuiteEntry) -> EnvRow:
    """One row of ``pbrl envs``; builds the env when its optional dependency is installed."""
    if not dependency_installed(entry):
        return EnvRow(entry.id, entry.family, False, "-", "-", f"not installed: {entry.install_hint}")
    env = gym.make(entry.id)
    try:
        return EnvRow(entry.id, entry.family, True, short_space(env.observation_space), short_space(env.action_space),
                      "")
    finally:
        env.close()


def format_table(rows: list[EnvRow]) -> str:
    header = ("id", "family", "installed", "observation space", "action space")
    cells = [header] + [
        (r.id, r.family, "yes" if r.installed else f"no ({r.note.split(': ', 1)[1]})", r.observation_space,
         r.action_space)
        for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(header))).rstrip() for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def steps_per_second(env_id: str, render: bool, seconds: float, seed: int = 0) -> float:
    """Random-action env steps per second (with an ``rgb_array`` render each step if ``render``)."""
    env = gym.make(env_id, render_mode="rgb_array" if render else None)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    if render:
        env.render()  # the first frame sets the renderer up; not timed
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if render:
            env.render()
        if terminated or truncated:
            env.reset()
        steps += 1
    rate = steps / (time.perf_counter() - start)
    env.close()
    return rate


def speed_table(seconds: float = 2.0, families: tuple[str, ...] | None = None) -> str:
    """Markdown table of steps/s with and without rendering, every installed id, one run."""
    lines = [
        "| id | family | steps/s (no render) | steps/s (rgb_array render each step) | frame shape |",
        "|---|---|---:|---:|---|",
    ]
    print("\n".join(lines), flush=True)
    for entry in SUITE:
        if families and entry.family not in families:
            continue
        if not dependency_installed(entry):
            lines.append(f"| {entry.id} | {entry.family} | not installed | | |")
            continue
        plain = steps_per_second(entry.id, render=False, seconds=seconds)
        rendered = steps_per_second(entry.id, render=True, seconds=seconds)
        env = gym.make(entry.id, render_mode="rgb_array")
        env.reset(seed=0)
        shape = "x".join(map(str, np.asarray(env.render()).shape))
        env.close()
        line = f"| {entry.id} | {entry.family} | {plain:,.0f} | {rendered:,.0f} | {shape} |"
        print(line, flush=True)
        lines.append(line)
    return "\n".join(lines)
