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


def seeded_store(tmp_path, n=3):
    store = PreferenceStore(tmp_path / "labels.sqlite")
    store.add_clips([clip("a"), clip("b")])
    for i in range(n):
        store.add_query(Query(f"q{i}", ("a", "b")), created_at=float(i))
    return store


def test_claims_give_each_query_to_one_rater_and_expire(tmp_path):
    store = seeded_store(tmp_path)
    other = PreferenceStore(tmp_path / "labels.sqlite")  # a second app on the same run
    assert store.claim_next("ann", now=100.0, lease_seconds=60).query_id == "q0"
    assert other.claim_next("bob", now=100.0, lease_seconds=60).query_id == "q1"
    assert store.claim_next("ann", now=101.0).query_id == "q0"  # her live claim comes back
    store.add_label(Label("q0", Outcome.LEFT, rater="ann"))
    assert store.claim_next("ann", now=102.0).query_id == "q2"
    assert other.claim_next("carl", now=103.0) is None  # q1 and q2 are held
    assert other.claim_next("carl", now=161.0).query_id == "q1"  # bob's lease ran out
    store.release("q2", "ann")
    assert other.claim_next("dave", now=162.0).query_id == "q2"


def test_retract_removes_only_that_raters_label(tmp_path):
    store = seeded_store(tmp_path, n=1)
    store.add_label(Label("q0", Outcome.LEFT, rater="ann"))
    store.retract("q0", "bob")
    assert len(store.labels()) == 1
    store.retract("q0", "ann")
    assert store.labels() == []


def _rate_until_empty(path, rater, out):
    import time as _time

    store = PreferenceStore(path)
    answered = []
    while (query := store.claim_next(rater, now=_time.time(), lease_seconds=600)) is not None:
        store.add_label(Label(query.query_id, Outcome.LEFT, rater=rater))
        answered.append(query.query_id)
    out.put(answered)


def test_raters_in_separate_processes_never_answer_the_same_query(tmp_path):
    import multiprocessing as mp

    seeded_store(tmp_path, n=60).close()
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_rate_until_empty, args=(tmp_path / "labels.sqlite", f"r{i}", out)) for i in range(3)]
    for p in procs:
        p.start()
    answered = [q for _ in procs for q in out.get(timeout=120)]
    for p in procs:
        p.join(timeout=60)
    assert sorted(answered) == sorted(f"q{i}" for i in range(60))  # each exactly once
    labels = PreferenceStore(tmp_path / "labels.sqlite").labels()
    assert len(labels) == 60 and len({l.query_id for l in labels}) == 60
