"""Benchmark of the rating app with a real trainer beside it.

A human-teacher trainer (``pbrl train ENV --teacher human``) runs in its own process and
queues clips; the app rates them with the scripted rater (answers posted as key presses
after ``--delay`` seconds, a person's pace). Measured: the time from the trainer's first
query to the first pair on screen, the waits with no pair on screen after that, redraws per
second while two clips loop (each fitted into a 256x256 box by default; the app draws a
frame only when one changes, so this is the clips' own frame rate, capped at 60), the time
from the key press to the next pair on screen (the flip that first shows it), comparisons
per minute, and then the app's CPU use while paused.

    python -m pbrl.clip_ui.bench [--env pbrl/Pendulum-v1] [--seconds 40] [--delay 3] [--screenshot PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pbrl.clip_ui.app import BUTTON_HEIGHT, INSTRUCTION_HEIGHT, MARGIN, STATUS_HEIGHT
from pbrl.errors import StateError
from pbrl.io import write_json


def window_for(clip: int, k: int = 2) -> tuple[int, int]:
    """The window size whose clip boxes are ``clip`` x ``clip`` pixels."""
    return MARGIN * (k + 1) + clip * k, clip + INSTRUCTION_HEIGHT + STATUS_HEIGHT + BUTTON_HEIGHT + 2 * MARGIN + 20


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="pbrl/Pendulum-v1", help="the trainer's env (Pendulum: square 500x500 frames)")
    parser.add_argument("--clip", type=int, default=256, help="side of each clip's box in pixels")
    parser.add_argument("--seconds", type=float, default=40.0, help="seconds of rating measured")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds each pair is watched before the answer")
    parser.add_argument("--labels", type=int, default=100,
                        help="the trainer's label budget (it trains after the first 10%%)")
    parser.add_argument("--size", help="window WIDTHxHEIGHT (default: two --clip boxes)")
    parser.add_argument("--screenshot", help="save a PNG of the window at the end")
    parser.add_argument("--out", help="write the numbers as JSON here")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="seconds the app is measured paused")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    from pbrl.clip_ui.app import RatingApp
    from pbrl.clip_ui.scripted import TeacherScript

    class KeptOpen(RatingApp):
        def close(self) -> None:  # measured below, closed after
            pass

    size = window_for(args.clip)
    if args.size:
        width, height = (int(v) for v in args.size.split("x"))
        size = (width, height)
    tmp = Path(tempfile.mkdtemp(prefix="pbrl-rate-bench-"))
    run = tmp / "run"
    pbrl = os.path.join(os.path.dirname(sys.executable), "pbrl")
    trainer = subprocess.Popen([pbrl, "train", args.env, "--teacher", "human", "--labels", str(args.labels),
                                "--steps", "2000000", "--no-video", "--out", str(run)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not (run / "config.json").exists():  # written last: the run directory is complete
            if trainer.poll() is not None:
                raise StateError("the trainer exited before it made its run directory")
            time.sleep(0.2)
        app = KeptOpen(run, "bench", size=size, log=open(os.devnull, "w"))
        given = app.run(TeacherScript(delay=args.delay), max_seconds=args.seconds)
        if args.screenshot:
            import pygame

            pygame.image.save(app.screen, args.screenshot)
        first_query = min(_created(run), default=None)
        times = np.array(app.frame_times)
        clips = np.array(app.frame_clips)
        latencies = np.array(app.latencies) * 1000
        phase = app.info["trainer"].get("phase")
        policy_step = app.info["trainer"].get("policy_step")
        idle_cpu = _paused_cpu(app, args.idle_seconds)
        RatingApp.close(app)
    finally:
        trainer.terminate()
        trainer.wait(timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)
    second = (times - times[0]).astype(int)
    frames = np.bincount(second)[:-1]  # frames in each whole second
    full = np.bincount(second, weights=~clips)[:-1] == 0  # seconds with clips on screen throughout
    looping = frames[full]
    result = {
        "env": args.env, "window": list(size), "clip_box": args.clip, "seconds": round(float(times[-1] - times[0]), 1),
        "seconds_looping_clips": int(full.sum()),
        "seconds_waiting_after_first_clip": int((~full[np.argmax(full):]).sum()) if full.any() else None,
        "waiting_at_second": [int(i) for i in np.flatnonzero(~full)],
        "fps_mean_looping": round(float(looping.mean()), 1) if len(looping) else None,
        "fps_worst_second_looping": int(looping.min()) if len(looping) else None,
        "first_pair_seconds_after_first_query": (round(app.first_clip_at - first_query, 2)
                                                 if app.first_clip_at and first_query else None),
        "waits_after_first_pair": len(app.waits), "longest_wait_seconds": round(max(app.waits, default=0.0), 2),
        "comparisons_per_minute": round(60 * given / max(1e-9, float(times[-1] - times[0])), 1),
        "idle_cpu_share_paused": round(idle_cpu, 3),
        "labels": given, "latency_ms_median": round(float(np.median(latencies)), 1) if len(latencies) else None,
        "latency_ms_p90": round(float(np.percentile(latencies, 90)), 1) if len(latencies) else None,
        "trainer_phase_at_end": phase, "trainer_policy_step_at_end": policy_step,
        "command": "python -m pbrl.clip_ui.bench " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
                   f"SDL {os.environ['SDL_VIDEODRIVER']}",
    }
    print(json.dumps(result, indent=2))
    if args.out:
        write_json(args.out, result)
    return 0


def _created(run: Path) -> list[float]:
    """When each of the run's queries was asked (wall time)."""
    import sqlite3

    db = sqlite3.connect(f"file:{run / 'labels.sqlite'}?mode=ro", uri=True)
    try:
        return [row[0] for row in db.execute("SELECT created_at FROM queries")]
    finally:
        db.close()


def _paused_cpu(app, seconds: float) -> float:
    """The app's share of one core over ``seconds`` paused (Space), its loop running as ever."""
    import pygame

    app.session.quit = False
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE))
    started, cpu = time.perf_counter(), time.process_time()
    app.run(max_seconds=seconds)
    return (time.process_time() - cpu) / (time.perf_counter() - started)


if __name__ == "__main__":
    sys.exit(main())
