"""A scripted rater: the synthetic teacher answers through the app's own event path.

It reads the clips on screen from the store, asks a B-Pref teacher for the answer and posts
the key a person would press (left / right / up / down, or number keys for a ranking) into
pygame's event queue, so the app handles it exactly as a key press. Used by the tests
(labels reach a real trainer; SIGKILL mid-session; two raters on one run) and by the app's
benchmark.

    python -m pbrl.clip_ui.scripted RUN_DIR [--rater NAME] [--delay S] [--seconds S] [--until-finished]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

from pbrl.oracle import SyntheticTeacher, teacher_config

OUTCOME_KEYS = {"left": pygame.K_LEFT, "right": pygame.K_RIGHT, "equal": pygame.K_UP, "skip": pygame.K_DOWN}


class TeacherScript:
    """Called once per frame by :meth:`RatingApp.run`; answers each query ``delay`` seconds
    after it appears.

    :param teacher: the B-Pref teacher's name.
    :param delay: seconds a query stays on screen before the answer (a person's pace).
    :param stop_when: called each frame; True ends the session (Esc).
    """

    def __init__(self, teacher: str = "perfect", delay: float = 0.05, seed: int = 0, stop_when=None) -> None:
        self.teacher = SyntheticTeacher(teacher_config(teacher), seed=seed)
        self.delay, self.stop_when = delay, stop_when
        self._query_id: str | None = None
        self._since = 0.0
        self._answered: set[str] = set()

    def __call__(self, app) -> None:
        if self.stop_when is not None and self.stop_when():
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE))
            return
        current = app.session.current
        if current is None:
            self._query_id = None
            return
        if current.query_id != self._query_id:
            self._query_id, self._since = current.query_id, time.perf_counter()
        if current.query_id in self._answered or time.perf_counter() - self._since < self.delay:
            return
        self._answered.add(current.query_id)
        clips = [app.store.clip(clip_id) for clip_id in current.clip_ids]
        label = self.teacher.answer(app.store.query(current.query_id), clips)
        if label.ranking is not None:
            keys = [pygame.K_1 + i for i in label.ranking[:-1]]
        else:
            assert label.outcome is not None  # a Label holds exactly one of outcome and ranking
            keys = [OUTCOME_KEYS[label.outcome.value]]
        stamp = time.perf_counter()
        for key in keys:
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, posted_at=stamp))


def main(argv: list[str] | None = None) -> int:
    from pbrl.clip_ui.app import RatingApp

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--rater", default="scripted")
    parser.add_argument("--teacher", default="perfect")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds before each answer")
    parser.add_argument("--seconds", type=float, help="stop after this long")
    parser.add_argument("--until-finished", action="store_true",
                        help="stop when the trainer reports that it has finished")
    args = parser.parse_args(argv)
    app = RatingApp(args.run_dir, args.rater)
    finished = (lambda: app.info["trainer"].get("phase") == "finished") if args.until_finished else None
    given = app.run(TeacherScript(args.teacher, args.delay, stop_when=finished), max_seconds=args.seconds)
    print(f"{given} labels given", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
