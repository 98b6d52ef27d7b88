"""The rating app, ``pbrl rate RUN_DIR``: a thin pygame loop around :class:`RatingSession`.

Each pass of the loop turns pygame events into session events, carries out the commands
the session returns (write a label to the store, retract one, show the next query, pause,
change speed, quit), polls the store twice a second for queries (claimed with a lease, so
no two raters answer one query) and the trainer's status, and draws the clips looping side
by side in sync at real speed, the buttons and a status bar.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

from pbrl.clip_ui.session import (
    Clicked,
    KeyPressed,
    LabelRefused,
    PendingQuery,
    QueriesAvailable,
    Quit,
    RatingSession,
    Retract,
    RunEnded,
    SetPaused,
    SetSpeed,
    Show,
    Submit,
    WindowClosed,
)
from pbrl.clip_ui.views import ClipView, load_views, wrap_text
from pbrl.envs.registry import instruction
from pbrl.media import MediaError
from pbrl.run_dir import RunDir
from pbrl.store_base import LabelStore
from pbrl.store_pg import PostgresStore, is_url

KEYS = {
    pygame.K_LEFT: "left", pygame.K_RIGHT: "right", pygame.K_UP: "up", pygame.K_DOWN: "down",
    pygame.K_BACKSPACE: "backspace", pygame.K_SPACE: "space", pygame.K_ESCAPE: "escape",
    pygame.K_PLUS: "plus", pygame.K_EQUALS: "plus", pygame.K_KP_PLUS: "plus",
    pygame.K_MINUS: "minus", pygame.K_KP_MINUS: "minus",
    **{getattr(pygame, f"K_{i}"): str(i) for i in range(1, 10)},
    **{getattr(pygame, f"K_KP{i}"): str(i) for i in range(1, 10)},
}
BACKGROUND, PANEL, TEXT, DIM, ACCENT = (24, 26, 30), (44, 47, 54), (230, 232, 236), (150, 154, 162), (90, 160, 255)
STATUS_HEIGHT, BUTTON_HEIGHT, MARGIN, INSTRUCTION_HEIGHT, TIMELINE = 30, 46, 12, 28, 10
IDLE_FPS = 10  # loop rate with nothing playing (paused, or waiting): events and the store still read
PAIR_BUTTONS = (("button:left", "< Left is better"), ("button:equal", "Equal (up)"),
                ("button:cant_tell", "Can't tell (down)"), ("button:right", "Right is better >"),
                ("button:undo", "Undo (backspace)"), ("button:pause", "Pause (space)"))
RANK_BUTTONS = (("button:cant_tell", "Can't tell (down)"), ("button:undo", "Undo (backspace)"),
                ("button:pause", "Pause (space)"))
# for narrow windows: shorter, with the key kept
SHORT = {"< Left is better": "< Left", "Right is better >": "Right >", "Equal (up)": "Equal ^",
         "Can't tell (down)": "Can't tell v", "Undo (backspace)": "Undo (bksp)", "Pause (space)": "Pause (spc)",
         "Resume (space)": "Resume (spc)"}
FLASH_SECONDS = 0.15  # the answered pair stays on screen this long, the chosen clip outlined
ENDED = (230, 90, 80)  # the timeline's mark where a clip's episode ended


@dataclass
class Layout:
    clips: list[pygame.Rect]
    buttons: dict[str, pygame.Rect]
    status: pygame.Rect
    instruction: pygame.Rect


def layout(size: tuple[int, int], k: int, ranking: bool) -> Layout:
    """Where clips, buttons and the status bar go in a window of ``size``."""
    width, height = size
    status = pygame.Rect(0, height - STATUS_HEIGHT, width, STATUS_HEIGHT)
    button_top = height - STATUS_HEIGHT - BUTTON_HEIGHT
    names = RANK_BUTTONS if ranking else PAIR_BUTTONS
    bw = (width - MARGIN * (len(names) + 1)) // len(names)
    buttons = {name: pygame.Rect(MARGIN + i * (bw + MARGIN), button_top + 6, bw, BUTTON_HEIGHT - 12)
               for i, (name, _) in enumerate(names)}
    cw = (width - MARGIN * (k + 1)) // k
    top = INSTRUCTION_HEIGHT + MARGIN + 20  # the instruction, then each clip's title
    ch = max(10, button_top - top - MARGIN)
    clips = [pygame.Rect(MARGIN + i * (cw + MARGIN), top, cw, ch) for i in range(k)]
    return Layout(clips, buttons, status, pygame.Rect(0, 0, width, INSTRUCTION_HEIGHT))


class RatingApp:
    """One rater's window on a run.

    :param run_dir: a ``pbrl train`` run directory, or the URL of a run whose labels are on a
        PostgreSQL server (``postgresql://USER:PASSWORD@HOST/DATABASE/RUN``: its config and
        clip videos are read from there; nothing else is needed).
    :param rater: the name stored with each label.
    :param size: initial window size (resizable).
    :param lease_seconds: how long a claimed query stays this rater's without a renewal.
    :param poll_seconds: how often the store is read for queries and trainer status.
    :param max_fps: frame-rate cap of the loop.
    :param log: where saved labels and skipped queries are reported (one line each).
    :param instructions: the line shown above the clips (default: the env's, what "better" means).
    """

    def __init__(self, run_dir: str | Path, rater: str, size: tuple[int, int] = (1100, 620),
                 lease_seconds: float = 120.0, poll_seconds: float = 0.5, max_fps: int = 60, log=sys.stdout,
                 instructions: str | None = None) -> None:
        if is_url(run_dir):
            self.store: LabelStore = PostgresStore(str(run_dir), create=False)
            config, self.name = self.store.config(), self.store.run
        else:
            local = RunDir.open(Path(run_dir))
            self.store, config, self.name = local.open_store(), local.config, local.path.name
        self.demo = bool(config.get("demo"))
        self.instructions = instructions or instruction(str(config.get("env_id", "")), config.get("env_kwargs"))
        self.rater, self.lease, self.poll_seconds = rater, lease_seconds, poll_seconds
        self.max_fps, self.log = max_fps, log
        self.session = RatingSession(rater)
        self.views: dict[str, list[ClipView]] = {}
        self.message = ""
        self.loop_time = 0.0  # seconds into the clips' loop
        self.info: dict = {"total": 0, "waiting": 0, "trainer": {}}
        self.frame_times: list[float] = []  # perf_counter of each flip
        self.frame_clips: list[bool] = []  # whether that frame showed clips (not the waiting screen)
        self.latencies: list[float] = []  # answer -> next query on screen, seconds
        self._answered_at: float | None = None
        self._pending_latency: float | None = None
        self._next_poll = 0.0
        self._drawn: tuple | None = None  # the scene last drawn (see scene())
        self._flash: tuple[str, set[int], float, float] | None = None  # answered query, chosen, its time, until
        self.first_clip_at: float | None = None  # wall time of the first flip showing clips
        self.waits: list[float] = []  # seconds with no query on screen, after the first clip
        self._idle_since: float | None = None
        pygame.display.init()
        pygame.font.init()
        self.screen = pygame.display.set_mode(size, pygame.RESIZABLE)
        pygame.display.set_caption(f"pbrl rate - {self.name} - {rater}")
        self.font = pygame.font.Font(None, 22)
        self.big = pygame.font.Font(None, 36)
        self.response_font = pygame.font.Font(None, 28)  # responses under a shared prompt
        self.status_fonts = [pygame.font.Font(None, n) for n in (22, 19, 16)]  # the largest that fits the bar
        self.clock = pygame.time.Clock()

    # --- the loop ------------------------------------------------------------------------

    def run(self, script: Callable[[RatingApp], None] | None = None, max_seconds: float | None = None) -> int:
        """Run until the rater quits (or ``max_seconds``); return the labels given.

        :param script: called once per frame (a scripted rater posts pygame events here).
        """
        start = time.perf_counter()
        try:
            while not self.session.quit:
                now = time.time()
                if now >= self._next_poll:
                    self.poll(now)
                for event in pygame.event.get():
                    self.handle_pygame(event)
                if script is not None:
                    script(self)
                playing = self.session.current is not None and not self.session.paused
                dt = self.clock.tick(self.max_fps if playing else IDLE_FPS) / 1000.0
                if not self.session.paused:
                    self.loop_time += dt * self.session.speed
                self._track_waits(time.time())
                scene = self.scene()
                if scene != self._drawn:  # only when something on screen changes: idle costs next to nothing
                    self.draw()
                    self._drawn = scene
                if max_seconds is not None and time.perf_counter() - start > max_seconds:
                    self.execute(self.session.handle(WindowClosed(time.time())))
        finally:
            self.close()
        return self.session.labels_given

    def handle_pygame(self, event: pygame.event.Event) -> None:
        """One pygame event through the session."""
        now = time.time()
        if event.type == pygame.QUIT:
            self.execute(self.session.handle(WindowClosed(now)))
        elif event.type == pygame.KEYDOWN and event.key in KEYS:
            self._mark(event)
            self.execute(self.session.handle(KeyPressed(KEYS[event.key], now)))
        elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            target = self.hit(event.pos)
            if target is not None:
                self._mark(event)
                self.execute(self.session.handle(Clicked(target, now)))
        elif event.type == pygame.VIDEORESIZE:
            self.screen = pygame.display.get_surface()
        elif event.type in (pygame.VIDEOEXPOSE, pygame.WINDOWEXPOSED):
            self._drawn = None  # uncovered: draw again

    def _mark(self, event: pygame.event.Event) -> None:
        # start of the answer -> next pair latency (a scripted rater stamps the moment it posted)
        self._answered_at = getattr(event, "posted_at", time.perf_counter())

    def hit(self, pos: tuple[int, int]) -> str | None:
        """What a click at ``pos`` lands on: "clip:N" or "button:NAME"."""
        current = self.session.current
        lay = self.layout()
        for name, rect in lay.buttons.items():
            if rect.collidepoint(pos):
                return {"button:left": "clip:0", "button:right": "clip:1"}.get(name, name)
        if current is not None:
            for i, rect in enumerate(lay.clips):
                if rect.collidepoint(pos):
                    return f"clip:{i}"
        return None

    def _track_waits(self, now: float) -> None:
        if self.session.current is None:
            if self.first_clip_at is not None and self._idle_since is None and not self.session.ended:
                self._idle_since = now
        elif self._idle_since is not None:
            self.waits.append(now - self._idle_since)
            self._idle_since = None

    def scene(self) -> tuple:
        """Everything the next frame would show, cheaply: the window is redrawn only when this
        changes (a clip's next frame, an answer, the status line, a resize)."""
        current = self.session.current
        views = self.views.get(current.query_id, []) if current is not None else []
        flashing = self._flash is not None and time.perf_counter() < self._flash[3]
        period = self.period(views) if views else None
        return (self.screen.get_size(), current.query_id if current else self.idle_screen(), flashing,
                tuple(view.index_at(self.loop_time, period) for view in views),
                int(self.loop_time * views[0].fps) % period if views and period else 0, tuple(self.session.ranking),
                self.session.paused, self._status_line())

    def layout(self) -> Layout:
        current = self.session.current
        k = len(current.clip_ids) if current is not None else 2
        return layout(self.screen.get_size(), k, ranking=k > 2)

    # --- commands --------------------------------------------------------------------------

    def execute(self, commands: list) -> None:
        for command in commands:
            if isinstance(command, Submit):
                label = command.label
                self._flash = (label.query_id, _chosen(label), self.loop_time, time.perf_counter() + FLASH_SECONDS)
                self._next_poll = 0.0  # claim the next query at once, so one is always loaded ahead
                if self.store.add_label(label, require_claim=True):
                    what = label.outcome.value if label.outcome is not None else f"ranking {list(label.ranking or ())}"
                    print(f"saved {label.query_id} {what}", file=self.log, flush=True)
                else:
                    self.say(f"{label.query_id} was taken by another rater while this window stood still; not saved")
                    self.session.handle(LabelRefused(label.query_id, time.time()))
            elif isinstance(command, Retract):
                self.store.retract(command.query_id, self.rater, time.time(), self.lease)
                print(f"undone {command.query_id}", file=self.log, flush=True)
            elif isinstance(command, Show):
                self.loop_time = 0.0
                if command.query is not None and command.query.query_id not in self.views:
                    self._load(command.query)  # an undo back past the views kept in memory
                if command.query is not None and self._answered_at is not None:
                    self._pending_latency = self._answered_at
                self._answered_at = None
                self._forget_old_views()
                if command.query is None:
                    self._next_poll = 0.0  # look for more at once
            elif isinstance(command, Quit):
                pass  # the loop ends; close() hands the unanswered queries back
            elif isinstance(command, (SetPaused, SetSpeed)):
                pass  # the session holds paused / speed; the loop reads them

    def _forget_old_views(self) -> None:
        """Keep the media of queries still to answer and of the last few answered (for undo)."""
        keep = {q.query_id for q in self.session.queue} | {lab.query_id for lab in self.session.history[-3:]}
        if self.session.current is not None:
            keep.add(self.session.current.query_id)
        for query_id in [q for q in self.views if q not in keep]:
            del self.views[query_id]

    def poll(self, now: float) -> None:
        """Claim queries (renewing this rater's leases), load their media, read the counts."""
        self._next_poll = now + self.poll_seconds
        held = (self.session.current is not None) + len(self.session.queue)
        fresh, broken = [], True
        while broken:  # a broken query is skipped; claim again so that the rater still gets one
            broken = False
            for query in self.store.claim(self.rater, now, limit=max(2, held), lease_seconds=self.lease):
                if query.query_id in self.views:
                    continue
                if self._load(query):
                    fresh.append(PendingQuery(query.query_id, query.clip_ids))
                else:
                    broken = True
        if fresh:
            self.execute(self.session.handle(QueriesAvailable(tuple(fresh), now)))
        self.info = {"total": self.store.count_labels(include_skipped=True),
                     "waiting": self.store.waiting(self.rater, now),
                     "trainer": self.store.status()}
        if self.info["trainer"].get("phase") == "finished" and not self.session.ended:
            self.execute(self.session.handle(RunEnded(now)))  # its queries were withdrawn

    def _load(self, query) -> bool:
        """Decode and scale a query's media; a missing or corrupt file takes the query out of
        the queue (for every rater) with a message naming the file."""
        try:
            views = load_views(self.store, query.clip_ids)
            k = len(query.clip_ids)
            for view, rect in zip(views, layout(self.screen.get_size(), k, k > 2).clips, strict=True):
                if view.text is None:
                    view.surfaces(rect.size)  # scaled now, not when the rater is waiting for it
            self.views[query.query_id] = views
            return True
        except MediaError as exc:
            self.store.mark_broken(query.query_id, str(exc))
            self.say(f"skipped {query.query_id}: {exc}")
            return False

    def say(self, message: str) -> None:
        self.message = message
        print(message, file=self.log, flush=True)

    def close(self) -> None:
        """Hand back the queries claimed and not answered; close the store and the window."""
        answered = {label.query_id for label in self.session.history}
        held = ([self.session.current] if self.session.current else []) + list(self.session.queue)
        for query in held:
            if query.query_id not in answered:
                self.store.release(query.query_id, self.rater)
        self.store.close()
        pygame.display.quit()

    # --- drawing ---------------------------------------------------------------------------

    def draw(self) -> None:
        screen = self.screen
        screen.fill(BACKGROUND)
        lay = self.layout()
        current = self.session.current
        flash = self._flash if self._flash is not None and time.perf_counter() < self._flash[3] else None
        pygame.draw.rect(screen, PANEL, lay.instruction)
        hint = f"   Rank: press 1-{len(lay.clips)}, best first" if len(lay.clips) > 2 else ""
        self._fit_centered(self.instructions + hint, lay.instruction, TEXT)
        if flash is not None and flash[0] in self.views:  # the answer, confirmed before the next pair
            query_id, chosen, seconds, _ = flash
            views = self.views[query_id]
            for i, (view, rect) in enumerate(zip(views, layout(screen.get_size(), len(views), len(views) > 2).clips,
                                                 strict=True)):
                self._draw_clip(i, view, rect, len(views), seconds, self.period(views))
                if i in chosen:
                    pygame.draw.rect(screen, ACCENT, rect.inflate(8, 8), width=4, border_radius=8)
        elif current is None:
            title, detail = self.idle_screen()
            self._centered(title, self.big, screen.get_rect().center, TEXT)
            self._fit_centered(detail, pygame.Rect(0, screen.get_height() // 2 + 20, screen.get_width(), 28), DIM)
        elif current.query_id not in self.views:  # its media went missing after it was answered
            self._centered(f"{current.query_id}: clip media unavailable (undo again, or answer 'can't tell')",
                           self.font, screen.get_rect().center, TEXT)
        else:
            views = self.views[current.query_id]
            rects, prompt = lay.clips, shared_prompt(views)
            if prompt is not None:  # responses to one prompt: the prompt once, labelled, above them
                rects = self._draw_prompt(prompt, rects)
            for i, (view, rect) in enumerate(zip(views, rects, strict=True)):
                self._draw_clip(i, view, rect, len(current.clip_ids), self.loop_time, self.period(views), prompt)
        names = [(name, "Resume (space)" if name == "button:pause" and self.session.paused else text)
                 for name, text in (RANK_BUTTONS if len(lay.clips) > 2 else PAIR_BUTTONS)]
        width = min(rect.width for rect in lay.buttons.values()) - 8
        # one font for every button: the largest in which all fit, else the short forms (keys kept)
        font = next((f for f in self.status_fonts if all(f.size(text)[0] <= width for _, text in names)), None)
        if font is None:
            names, font = [(name, SHORT.get(text, text)) for name, text in names], self.status_fonts[-1]
        for name, text in names:
            rect = lay.buttons[name]
            active = name == "button:pause" and self.session.paused
            pygame.draw.rect(screen, ACCENT if active else PANEL, rect, border_radius=6)
            self._centered(text, font, rect.center, TEXT)
        pygame.draw.rect(screen, PANEL, lay.status)
        self._draw_status(lay.status)
        pygame.display.flip()
        flipped = time.perf_counter()
        self.frame_times.append(flipped)
        self.frame_clips.append(current is not None or flash is not None)
        if current is not None and flash is None and self.first_clip_at is None:
            self.first_clip_at = time.time()
        if self._pending_latency is not None and flash is None:
            self.latencies.append(flipped - self._pending_latency)
            self._pending_latency = None

    def _draw_prompt(self, prompt: str, rects: list[pygame.Rect]) -> list[pygame.Rect]:
        """The shared prompt in a panel across the clips' top; returns the clips' rects below it."""
        left, right, top = rects[0].x, rects[-1].right, rects[0].y
        lines = wrap_text(f"Prompt: {prompt}", self.font, right - left - 16)[:3]
        panel = pygame.Rect(left, top - 18, right - left, 12 + 19 * len(lines))
        pygame.draw.rect(self.screen, PANEL, panel, border_radius=6)
        for n, line in enumerate(lines):
            self.screen.blit(self.font.render(line, True, TEXT), (left + 8, panel.y + 6 + 19 * n))
        shift = panel.bottom + 24 - top
        return [pygame.Rect(r.x, r.y + shift, r.width, max(20, r.height - shift)) for r in rects]

    def period(self, views: list[ClipView]) -> int:
        """Frames in one loop of a query's clips: all of them loop together, over the run's clip
        length (a clip whose episode ended sooner holds its last frame until the loop restarts)."""
        longest = max((len(v.frames) for v in views), default=1)
        return max(longest, int(self.info["trainer"].get("clip_length") or 0))

    def _draw_clip(self, i: int, view: ClipView, rect: pygame.Rect, k: int, seconds: float, period: int,
                   prompt: str | None = None) -> None:
        title = ("Left", "Right")[i] if k == 2 else f"Clip {i + 1}"
        if view.text is not None:
            if prompt is not None:
                title = ("Left response", "Right response")[i] if k == 2 else f"Response {i + 1}"
            self.screen.blit(self.font.render(title, True, DIM), (rect.x, rect.y - 18))
            pygame.draw.rect(self.screen, PANEL, rect, border_radius=6)
            text, font, y = view.text, self.font, rect.y + 8
            if prompt is not None:  # the prompt is drawn once above: the response alone, larger
                text, font = view.text.split("\n", 1)[-1], self.response_font
            step = font.get_linesize()
            for line in wrap_text(text, font, rect.width - 16):
                if y > rect.bottom - step:
                    break
                self.screen.blit(font.render(line, True, TEXT), (rect.x + 8, y))
                y += step
            self._draw_rank_badge(i, rect)
            return
        box = pygame.Rect(rect.x, rect.y, rect.width, max(10, rect.height - TIMELINE))
        frame = view.frame_at(seconds, box.size, period)
        placed = frame.get_rect(center=box.center)
        self.screen.blit(frame, placed)
        self.screen.blit(self.font.render(title, True, DIM), (placed.x, placed.y - 18))
        self._draw_rank_badge(i, placed)
        # the timeline: where in the loop this frame is, and where the episode ended
        bar = pygame.Rect(placed.x, placed.bottom + 4, placed.width, 4)
        pygame.draw.rect(self.screen, PANEL, bar)
        shown = int(seconds * view.fps) % period
        pygame.draw.rect(self.screen, ACCENT, (bar.x, bar.y, bar.width * (shown + 1) // period, bar.height))
        if len(view.frames) < period:
            x = bar.x + bar.width * len(view.frames) // period
            pygame.draw.rect(self.screen, ENDED, (x - 1, bar.y - 3, 3, bar.height + 6))
            if shown >= len(view.frames):
                label = self.status_fonts[-1].render("episode ended", True, ENDED)
                self.screen.blit(label, label.get_rect(bottomright=(placed.right - 4, placed.bottom - 4)))

    def _draw_rank_badge(self, i: int, rect: pygame.Rect) -> None:
        if self.session.ranking and i in self.session.ranking:
            center = (rect.x + 18, rect.y + 18)
            pygame.draw.circle(self.screen, ACCENT, center, 14)
            self._centered(str(self.session.ranking.index(i) + 1), self.font, center, TEXT)

    def _draw_status(self, rect: pygame.Rect) -> None:
        """The status line in the largest font that fits; in a narrow window the least needed
        parts go first (trainer, pace, waiting), never the labels."""
        parts = self._status_parts()
        while True:
            line = "  |  ".join(parts)
            font = next((f for f in self.status_fonts if f.size(line)[0] <= rect.width - 2 * MARGIN), None)
            if font is not None or len(parts) <= 2:
                break
            parts = parts[:-1]
        rendered = (font or self.status_fonts[-1]).render(line, True, TEXT)
        self.screen.blit(rendered, rendered.get_rect(midleft=(MARGIN, rect.centery)))

    def _fit_centered(self, text: str, rect: pygame.Rect, color) -> None:
        font = next((f for f in (self.font, *self.status_fonts[1:]) if f.size(text)[0] <= rect.width - 8),
                    self.status_fonts[-1])
        self._centered(text, font, rect.center, color)

    def _centered(self, text: str, font: pygame.font.Font, center: tuple[int, int], color) -> None:
        surface = font.render(text, True, color)
        self.screen.blit(surface, surface.get_rect(center=center))

    def idle_screen(self) -> tuple[str, str]:
        """What the window says when no query is on screen: run finished, budget spent, demo
        done, or waiting (with the trainer's state)."""
        t, total = self.info["trainer"], self.info["total"]
        budget = t.get("budget")
        if self.session.ended:
            return ("The run has finished", f"{total} labels in all, {self.session.labels_given} from you: thank you. "
                    "Close the window (Esc).")
        if self.demo and not self.info["waiting"]:
            return ("Demo done", f"{self.session.labels_given} labels given. Rate a real run: "
                    "pbrl train pbrl/Pendulum-v1 --teacher human --open-ui")
        if budget and total >= budget:
            return (f"All {budget} labels are in: thank you",
                    f"the trainer is finishing its run ({self._trainer_line()})")
        return "Waiting for new clips...", self._trainer_line()

    def _trainer_line(self) -> str:
        t = self.info["trainer"]
        if not t:
            return "trainer: no status yet"
        fit = f"refit {time.time() - t['last_fit_at']:.0f} s ago" if t.get("last_fit_at") else "no fit yet"
        total = t.get("total_steps", 0)
        step = min(t.get("policy_step", 0), total) if total else t.get("policy_step", 0)  # a last rollout runs past
        return (f"trainer: {t.get('phase', '?')}, step {step:,}/{total:,}, "
                f"reward model v{t.get('model_version', 0)} ({fit})")

    def _status_parts(self) -> list[str]:
        """The status bar's parts, most needed first."""
        history = self.session.history
        recent = sorted(lab.answered_at - lab.shown_at for lab in history[-10:])
        pace = f"{recent[len(recent) // 2]:.1f} s/label" if recent else "- s/label"  # the recent median
        budget = self.info["trainer"].get("budget")
        labels = f"labels {self.info['total']}/{budget}" if budget else f"{self.info['total']} labels in all"
        first = f"{self.rater}: {len(history)} this session"
        if self.session.paused:
            first += "  PAUSED"
        if self.session.speed != 1:
            first += f"  speed {self.session.speed:g}x"
        parts = [first, labels]
        if self.message:
            parts.append(self.message)
        return [*parts, f"{self.info['waiting']} waiting", pace, self._trainer_line()]

    def _status_line(self) -> str:
        return "  |  ".join(self._status_parts())

def shared_prompt(views: list[ClipView]) -> str | None:
    """The prompt every text clip of a query answers (a text clip is "prompt\\nresponse"), or None."""
    if not views or any(v.text is None or "\n" not in v.text for v in views):
        return None
    prompts = {v.text.split("\n", 1)[0] for v in views if v.text is not None}
    return prompts.pop() if len(prompts) == 1 else None


def _chosen(label) -> set[int]:
    """The clips an answer picked: the better one, both when equal, none when it can't tell."""
    if label.ranking is not None:
        return {label.ranking[0]}
    return {"left": {0}, "right": {1}, "equal": {0, 1}}.get(label.outcome.value if label.outcome else "", set())


def rate(run_dir: str | Path, rater: str, **kwargs) -> int:
    """Open the app on a run; returns the labels given."""
    return RatingApp(run_dir, rater, **kwargs).run()
