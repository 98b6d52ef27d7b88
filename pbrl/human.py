"""People as a preference source: queries go into the run's store, labels come back from it.

The trainer and the rating app (``pbrl rate``) never talk directly; the SQLite store is the
queue between them, so the app can start, crash and restart, several apps can rate one run,
and the trainer never waits for anyone: :meth:`HumanQueue.poll` returns whatever labels have
landed since the last call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pbrl.asking import DEFAULT_QUEUE, AskRule, PacedAsk
from pbrl.errors import InputError
from pbrl.media import MediaWriter
from pbrl.oracle import PreferenceSource
from pbrl.schedule import LabelSchedule
from pbrl.store import PreferenceStore
from pbrl.types import Clip, Label, Query


class HumanQueue(PreferenceSource):
    """Labels from people rating in the app.

    :param store: the run's store (the trainer's connection).
    :param media: renders the queried clips people will see (None: text clips only).
    :param queue_size: unanswered queries the trainer keeps waiting.
    :param after_label: row id of the last label already read (a resumed run).
    :param after_retraction: row id of the last retraction already read.
    """

    def __init__(self, store: PreferenceStore, media: MediaWriter | None, queue_size: int = DEFAULT_QUEUE,
                 after_label: int = 0, after_retraction: int = 0) -> None:
        if queue_size < 1:
            raise InputError(f"queue_size must be >= 1, got {queue_size}")
        self.store, self.media, self.queue_size = store, media, queue_size
        self._label_id, self._retraction_id = after_label, after_retraction

    def resume_after(self, label_id: int, retraction_id: int) -> None:
        """Read only labels and retractions after these row ids (a resumed run read the rest)."""
        self._label_id, self._retraction_id = label_id, retraction_id

    def prepare(self, clips: Mapping[str, Clip]) -> dict[str, Clip]:
        if self.media is None:
            return dict(clips)
        return {clip_id: self.media.write(clip) for clip_id, clip in clips.items()}

    def request(self, queries: Sequence[Query], clips: Mapping[str, Clip]) -> None:
        """Nothing to do: the trainer has stored the queries, which is how people see them."""

    def poll(self) -> list[Label]:
        rows = self.store.labels_after(self._label_id)
        if rows:
            self._label_id = rows[-1][0]
        return [label for _, label in rows]

    def retracted(self) -> list[str]:
        rows = self.store.retractions_after(self._retraction_id)
        if rows:
            self._retraction_id = rows[-1][0]
        return [query_id for _, query_id, _ in rows]

    people = True  # the app writes the labels; the trainer reads them back

    def asking(self, schedule: LabelSchedule) -> AskRule:
        return PacedAsk(schedule, self)

    def waiting(self) -> int:
        return self.store.unanswered()

    def answered(self) -> int:
        return self.store.count_labels()

    def seconds_per_label(self, recent: int = 10) -> float | None:
        """The raters' recent pace: median seconds a query was on screen before its answer."""
        return self.store.answer_seconds(recent)
