"""People as a preference source: queries go into the run's store, labels come back from it.

The trainer and the rating app (``pbrl rate``) never talk directly; the SQLite store is the
queue between them, so the app can start, crash and restart, several apps can rate one run,
and the trainer never waits for anyone: :meth:`HumanQueue.poll` returns whatever labels have
landed since the last call.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from pbrl.asking import DEFAULT_QUEUE, AskRule, PacedAsk
from pbrl.errors import InputError
from pbrl.media import MediaWriter
from pbrl.oracle import PreferenceSource
from pbrl.schedule import LabelSchedule
from pbrl.store_base import LabelStore
from pbrl.types import Clip, Label, Query


class HumanQueue(PreferenceSource):
    """Labels from people rating in the app.

    :param store: the run's store (the trainer's connection).
    :param media: renders the queried clips people will see (None: text clips only).
    :param queue_size: unanswered queries the trainer keeps waiting.
    :param after_label: row id of the last label already read (a resumed run).
    :param after_retraction: row id of the last retraction already read.
    """

    def __init__(self, store: LabelStore, media: MediaWriter | None, queue_size: int = DEFAULT_QUEUE,
                 after_label: int = 0, after_retraction: int = 0) -> None:
        if queue_size < 1:
            raise InputError(f"queue_size must be >= 1, got {queue_size}")
        self.store, self.media, self.queue_size = store, media, queue_size
        self._label_id, self._retraction_id = after_label, after_retraction
        self._worker: ThreadPoolExecutor | None = None  # renders media and publishes queries
        self._worker_store: LabelStore | None = None
        self._jobs: list[Future[None]] = []
        self._lock = threading.Lock()
        self._pending = 0  # queries handed to publish and not yet in the store

    def resume_after(self, label_id: int, retraction_id: int) -> None:
        """Read only labels and retractions after these row ids (a resumed run read the rest)."""
        self._label_id, self._retraction_id = label_id, retraction_id

    def publish(self, store: LabelStore, queries: Sequence[Query], clips: Mapping[str, Clip],
                created_at: float, model_version: int) -> None:
        """Render the queries' clips in a worker thread, off the training loop, and store each
        query as soon as its own clips exist (a clip in two queries is rendered once)."""
        if self.media is None:  # text clips: nothing to render
            store.add_queries(queries, created_at, clips.values(), model_version=model_version)
            return
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pbrl-media")
        with self._lock:
            self._pending += len(queries)
        self._jobs.append(self._worker.submit(self._render, list(queries), dict(clips), created_at, model_version))
        self._jobs = [job for job in self._jobs if not job.done() or job.exception() is not None]

    def _render(self, queries: list[Query], clips: dict[str, Clip], created_at: float, model_version: int) -> None:
        assert self.media is not None
        if self._worker_store is None:  # SQLite connections stay in their thread
            self._worker_store = self.store.reopen()
        for query in queries:
            written = [self.media.write(clips[clip_id]) for clip_id in query.clip_ids]
            self._worker_store.add_queries([query], created_at, written, model_version=model_version)
            with self._lock:
                self._pending -= 1

    def drain(self) -> None:
        """Wait for the queries being rendered (an error while rendering is raised here)."""
        jobs, self._jobs = self._jobs, []
        for job in jobs:
            job.result()

    def close(self) -> None:
        """Finish the renders under way, then release the worker's store and renderer."""
        if self._worker is None:
            return
        try:
            self.drain()
        finally:
            self._worker.submit(self._release).result()
            self._worker.shutdown(wait=True)
            self._worker = None

    def _release(self) -> None:
        if self.media is not None:
            self.media.close()  # its GL context lives in this thread
        if self._worker_store is not None:
            self._worker_store.close()
            self._worker_store = None

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
        with self._lock:
            pending = self._pending
        return self.store.unanswered() + pending

    def answered(self) -> int:
        return self.store.count_labels()

    def seconds_per_label(self, recent: int = 10) -> float | None:
        """The raters' recent pace: median seconds a query was on screen before its answer."""
        return self.store.answer_seconds(recent)
