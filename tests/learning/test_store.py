"""The SQLite label store keeps every label, once."""

import sqlite3

import numpy as np
import pytest

from pbrl.store import PreferenceStore
from pbrl.types import Clip, Label, Outcome, Query


def clip(cid):
    return Clip(cid, "pbrl/CartPole-v1", np.ones((3, 4), np.float32), np.zeros(3, np.int64), np.ones(3), 2, step=7)


def test_labels_survive_reopening_and_retries_are_idempotent(tmp_path):
    path = tmp_path / "labels.sqlite"
    store = PreferenceStore(path)
    store.add_clips([clip("a"), clip("b")])
    store.add_query(Query("q0", ("a", "b"), step=7), created_at=1.0)
    label = Label("q0", Outcome.RIGHT, rater="ann", shown_at=2.0, answered_at=3.0)
    store.add_label(label)
    store.add_label(label)  # a retry
    store.add_label(Label("q0", Outcome.LEFT, rater="bob", shown_at=2.0, answered_at=4.0))
    store.close()

    again = PreferenceStore(path)
    labels = again.labels()
    assert [(l.rater, l.outcome) for l in labels] == [("ann", Outcome.RIGHT), ("bob", Outcome.LEFT)]
    assert again.query("q0") == Query("q0", ("a", "b"), 7)
    restored = again.clip("a")
    np.testing.assert_array_equal(restored.obs, clip("a").obs)
    assert restored.length == 2 and restored.step == 7
    assert again.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert again.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_rankings_and_skips(tmp_path):
    store = PreferenceStore(tmp_path / "s.sqlite")
    store.add_label(Label("q1", None, ranking=(2, 0, 1)))
    store.add_label(Label("q2", Outcome.SKIP, rater="x"))
    assert store.labels()[0].ranking == (2, 0, 1)
    assert store.count_labels() == 1 and store.count_labels(include_skipped=True) == 2


def test_a_file_that_is_not_a_store_is_refused_unchanged(tmp_path):
    path = tmp_path / "labels.sqlite"
    path.write_bytes(b"precious data, not sqlite" * 100)
    with pytest.raises(ValueError, match="not a readable pbrl label store"):
        PreferenceStore(path)
    assert path.read_bytes() == b"precious data, not sqlite" * 100
