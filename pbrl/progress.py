"""One status line at every tenth of a run: steps, speed, mean true return."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from pbrl.run_dir import curve_point_due


class Progress(BaseCallback):
    """Print ``steps/total, steps/s, true return (last 100 episodes)`` every ``total/10`` steps.

    :param total: steps of the run.
    :param offset: steps already done before ``learn`` (warm-up), added to the count.
    :param extra: returns more text for the line (labels, accuracy, ...).
    """

    def __init__(self, total: int, offset: int = 0, label: str = "", extra: Callable[[], str] | None = None) -> None:
        super().__init__()
        self.total, self.offset, self.label, self.extra = total, offset, label, extra
        self.every = max(total // 10, 1)
        self.next, self.begun, self.based = self.every, offset, False
        self.start = time.perf_counter()
        self.curve: list[dict[str, float]] = []  # (steps, mean true return of the last 100 episodes)

    def _on_training_start(self) -> None:
        # a resumed run: the next tenth after where it goes on from, its speed from there (once:
        # a caller that calls learn() round after round keeps one speed over the whole run)
        if self.based:
            return
        self.based = True
        self.begun = self.offset + self.model.num_timesteps
        self.next = (self.begun // self.every + 1) * self.every
        self.start = time.perf_counter()

    def _on_rollout_end(self) -> None:
        returns = [ep["r"] for ep in self.model.ep_info_buffer or ()]
        steps = self.offset + self.num_timesteps
        if returns and curve_point_due(self.curve, steps):
            self.curve.append({"steps": steps, "true_return": float(np.mean(returns))})

    def _on_step(self) -> bool:
        done = self.offset + self.num_timesteps
        if done >= self.next:
            self.next += self.every
            rate = (done - self.begun) / max(time.perf_counter() - self.start, 1e-9)
            returns = [ep["r"] for ep in self.model.ep_info_buffer or ()]
            mean = f"{np.mean(returns):.1f}" if returns else "-"
            more = f"  {self.extra()}" if self.extra else ""
            tag = f"[{self.label}] " if self.label else ""
            print(f"  {tag}{done:>9,}/{self.total:,} steps  {rate:,.0f} steps/s  true return {mean}{more}", flush=True)
        return True
