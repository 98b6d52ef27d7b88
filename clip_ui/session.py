"""The rating app's logic as a pure state machine: events in, commands out.

The pygame loop (to come) turns key presses, clicks and store polls into events and carries
out the commands (show a query, write a label, retract one, quit); this module never touches
pygame, the store or the clock by itself, so every rule is tested by injecting events.

Keys as in Christiano et al. 2017: left / right arrow = that clip is better, up = equally
good, down = can't tell; Backspace undoes the last label, space pauses, +/- change the
playback speed, Esc quits. With K > 2 clips, number keys give the ranking, best first.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from pbrl.types import Label, Outcome

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)
PAIR_KEYS = {"left": Outcome.LEFT, "right": Outcome.RIGHT, "up": Outcome.EQUAL, "down": Outcome.SKIP}
PAIR_CLICKS = {"clip:0": Outcome.LEFT, "clip:1": Outcome.RIGHT, "button:equal": Outcome.EQUAL,
               "button:cant_tell": Outcome.SKIP}


# --- events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PendingQuery:
    """A query waiting for this rater: its id and the clips it shows, in order."""

    query_id: str
    clip_ids: tuple[str, ...]


@dataclass(frozen=True)
class KeyPressed:
    key: str  # "left", "right", "up", "down", "backspace", "space", "plus", "minus", "escape", "1".."9"
    now: float


@dataclass(frozen=True)
class Clicked:
    target: str  # "clip:N", "button:equal", "button:cant_tell", "button:undo", "button:pause"
    now: float


@dataclass(frozen=True)
class QueriesAvailable:
    queries: tuple[PendingQuery, ...]
    now: float


@dataclass(frozen=True)
class WindowClosed:
    now: float


@dataclass(frozen=True)
class LabelRefused:
    """The store refused a label (another rater holds the query): it was never given."""

    query_id: str
    now: float


@dataclass(frozen=True)
class RunEnded:
    """The trainer has finished: the queries held are withdrawn and no label can be undone."""

    now: float


# --- commands ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Show:
    """Show this query (None: "waiting for new clips")."""

    query: PendingQuery | None


@dataclass(frozen=True)
class Submit:
    label: Label


@dataclass(frozen=True)
class Retract:
    """Undo: delete this rater's label for the query."""

    query_id: str


@dataclass(frozen=True)
class SetPaused:
    paused: bool


@dataclass(frozen=True)
class SetSpeed:
    speed: float


@dataclass(frozen=True)
class Quit:
    pass


Event = KeyPressed | Clicked | QueriesAvailable | WindowClosed | LabelRefused | RunEnded
Command = Show | Submit | Retract | SetPaused | SetSpeed | Quit


@dataclass
class RatingSession:
    """One rater's session.

    :param rater: the name written with every label.
    """

    rater: str
    queue: deque[PendingQuery] = field(default_factory=deque)
    current: PendingQuery | None = None
    shown_at: float = 0.0
    history: list[Label] = field(default_factory=list)
    ranking: list[int] = field(default_factory=list)
    paused: bool = False
    speed: float = 1.0
    quit: bool = False
    ended: bool = False  # the trainer has finished
    _known: dict[str, PendingQuery] = field(default_factory=dict)  # every query seen, by id

    @property
    def labels_given(self) -> int:
        return len(self.history)

    def handle(self, event: Event) -> list[Command]:
        """Apply one event; return what the app must do, in order."""
        if self.quit:
            return []
        if isinstance(event, WindowClosed):
            return self._quit()
        if isinstance(event, RunEnded):
            self.ended, self.queue, self.current, self.ranking = True, deque(), None, []
            return [Show(None)]
        if isinstance(event, LabelRefused):
            self.history = [label for label in self.history if label.query_id != event.query_id]
            return []
        if isinstance(event, QueriesAvailable):
            if self.ended:
                return []
            for query in event.queries:
                if query.query_id not in self._known:
                    self._known[query.query_id] = query
                    self.queue.append(query)
            return self._advance(event.now) if self.current is None else []
        if isinstance(event, Clicked):
            return self._click(event)
        return self._key(event)

    # --- rules ---------------------------------------------------------------------------------

    def _key(self, event: KeyPressed) -> list[Command]:
        key = event.key
        if key == "escape":
            return self._quit()
        if key == "space":
            self.paused = not self.paused
            return [SetPaused(self.paused)]
        if key in ("plus", "minus"):
            i = SPEEDS.index(self.speed) + (1 if key == "plus" else -1)
            self.speed = SPEEDS[min(max(i, 0), len(SPEEDS) - 1)]
            return [SetSpeed(self.speed)]
        if key == "backspace":
            if self.ranking:  # a ranking being typed loses its last entry first
                self.ranking.pop()
                return []
            return self._undo(event.now)
        if self.current is None:
            return []
        if len(self.current.clip_ids) == 2 and key in PAIR_KEYS:
            return self._answer(PAIR_KEYS[key], None, event.now)
        if len(self.current.clip_ids) > 2 and key == "down":
            return self._answer(Outcome.SKIP, None, event.now)
        if len(self.current.clip_ids) > 2 and key.isdigit():
            return self._rank(int(key) - 1, event.now)
        return []

    def _click(self, event: Clicked) -> list[Command]:
        if event.target == "button:undo":
            return self._key(KeyPressed("backspace", event.now))  # as the key: a half-typed ranking first
        if event.target == "button:pause":
            return self._key(KeyPressed("space", event.now))
        if self.current is None:
            return []
        if len(self.current.clip_ids) == 2 and event.target in PAIR_CLICKS:
            return self._answer(PAIR_CLICKS[event.target], None, event.now)
        if len(self.current.clip_ids) > 2 and event.target.startswith("clip:"):
            return self._rank(int(event.target.split(":")[1]), event.now)
        if event.target == "button:cant_tell":
            return self._answer(Outcome.SKIP, None, event.now)
        return []

    def _rank(self, position: int, now: float) -> list[Command]:
        assert self.current is not None  # a click ranks the query on screen
        k = len(self.current.clip_ids)
        if not 0 <= position < k or position in self.ranking:
            return []
        self.ranking.append(position)
        if len(self.ranking) == k - 1:  # the last clip is implied
            self.ranking.append(next(i for i in range(k) if i not in self.ranking))
        if len(self.ranking) == k:
            ranking, self.ranking = tuple(self.ranking), []
            return self._answer(None, ranking, now)
        return []

    def _answer(self, outcome: Outcome | None, ranking: tuple[int, ...] | None, now: float) -> list[Command]:
        assert self.current is not None  # an answer is to the query on screen
        label = Label(self.current.query_id, outcome, ranking, rater=self.rater, shown_at=self.shown_at,
                      answered_at=now)
        self.history.append(label)
        self.current = None
        return [Submit(label), *self._advance(now)]

    def _undo(self, now: float) -> list[Command]:
        if not self.history or self.ended:  # a finished run has trained on every label
            return []
        label = self.history.pop()
        if self.current is not None:
            self.queue.appendleft(self.current)
        self.current = self._known[label.query_id]
        self.shown_at = now
        self.ranking = []
        return [Retract(label.query_id), Show(self.current)]

    def _advance(self, now: float) -> list[Command]:
        self.current = self.queue.popleft() if self.queue else None
        self.shown_at = now
        self.ranking = []
        return [Show(self.current)]

    def _quit(self) -> list[Command]:
        self.quit = True  # the query on screen gets no label
        return [Quit()]
