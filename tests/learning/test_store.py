"""The label store keeps every label, once: each test of the shared operations runs on SQLite
and on a real PostgreSQL server (``store_location``: tests/conftest.py)."""

import sqlite3

import numpy as np
import pytest

from pbrl.store import PreferenceStore, open_store
from pbrl.types import Clip, Label, Outcome, Query


def clip(cid):
    return Clip(cid, "pbrl/CartPole-v1", np.ones((3, 4), np.float32), np.zeros(3, np.int64), np.ones(3), 2, step=7)


def test_labels_survive_reopening_and_retries_are_idempotent(store_location):
    path = store_location
    store = open_store(path)
    store.add_clips([clip("a"), clip("b")])
    store.add_query(Query("q0", ("a", "b"), step=7), created_at=1.0)
    label = Label("q0", Outcome.RIGHT, rater="ann", shown_at=2.0, answered_at=3.0)
    store.add_label(label)
    store.add_label(label)  # a retry
    store.add_label(Label("q0", Outcome.LEFT, rater="bob", shown_at=2.0, answered_at=4.0))
    store.close()

    again = open_store(path)
    labels = again.labels()
    assert [(lab.rater, lab.outcome) for lab in labels] == [("ann", Outcome.RIGHT), ("bob", Outcome.LEFT)]
    assert again.query("q0") == Query("q0", ("a", "b"), 7)
    restored = again.clip("a")
    np.testing.assert_array_equal(restored.obs, clip("a").obs)
    assert restored.length == 2 and restored.step == 7
    if isinstance(again, PreferenceStore):
        assert again.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert again.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert again.last_label_id() == 3  # row ids only grow, and the ignored retry took one too


def test_rankings_and_skips(store_location):
    store = open_store(store_location)
    store.add_queries([Query("q1", ("a", "b", "c")), Query("q2", ("a", "b"))], 1.0, [clip("a"), clip("b"), clip("c")])
    store.add_label(Label("q1", None, ranking=(2, 0, 1)))
    store.add_label(Label("q2", Outcome.SKIP, rater="x"))
    assert store.labels()[0].ranking == (2, 0, 1)
    assert store.count_labels() == 1 and store.count_labels(include_skipped=True) == 2


def test_a_file_that_is_not_a_store_is_refused_unchanged(tmp_path):
    path = tmp_path / "labels.sqlite"
    path.write_bytes(b"precious data, not sqlite" * 100)
    with pytest.raises(ValueError, match="is damaged"):
        PreferenceStore(path)
    assert path.read_bytes() == b"precious data, not sqlite" * 100


def seeded_store(location, n=3):
    store = open_store(location)
    store.add_clips([clip("a"), clip("b")])
    for i in range(n):
        store.add_query(Query(f"q{i}", ("a", "b")), created_at=float(i))
    return store


def test_claims_give_each_query_to_one_rater_and_expire(store_location):
    store = seeded_store(store_location)
    other = open_store(store_location)  # a second app on the same run
    assert store.claim_next("ann", now=100.0, lease_seconds=60).query_id == "q0"
    assert other.claim_next("bob", now=100.0, lease_seconds=60).query_id == "q1"
    assert store.claim_next("ann", now=101.0).query_id == "q0"  # her live claim comes back
    store.add_label(Label("q0", Outcome.LEFT, rater="ann"))
    assert store.claim_next("ann", now=102.0).query_id == "q2"
    assert other.claim_next("carl", now=103.0) is None  # q1 and q2 are held
    assert other.claim_next("carl", now=161.0).query_id == "q1"  # bob's lease ran out
    store.release("q2", "ann")
    assert other.claim_next("dave", now=162.0).query_id == "q2"


def test_retract_removes_only_that_raters_label(store_location):
    store = seeded_store(store_location, n=1)
    store.add_label(Label("q0", Outcome.LEFT, rater="ann"))
    store.retract("q0", "bob")
    assert len(store.labels()) == 1
    store.retract("q0", "ann")
    assert store.labels() == []


def _rate_until_empty(path, rater, out):
    import time as _time

    store = open_store(path)
    answered = []
    while (query := store.claim_next(rater, now=_time.time(), lease_seconds=600)) is not None:
        store.add_label(Label(query.query_id, Outcome.LEFT, rater=rater), require_claim=True)  # as the app does
        answered.append(query.query_id)
    out.put(answered)


def test_raters_in_separate_processes_never_answer_the_same_query(store_location):
    import multiprocessing as mp

    seeded_store(store_location, n=150).close()
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    # six raters claiming and labelling at once (four were enough to deadlock PostgreSQL when a
    # claim's row lock blocked a label's foreign-key check)
    procs = [ctx.Process(target=_rate_until_empty, args=(store_location, f"r{i}", out)) for i in range(6)]
    for p in procs:
        p.start()
    answered = [q for _ in procs for q in out.get(timeout=120)]
    for p in procs:
        p.join(timeout=60)
    assert sorted(answered) == sorted(f"q{i}" for i in range(150))  # each exactly once
    labels = open_store(store_location).labels()
    assert len(labels) == 150 and len({lab.query_id for lab in labels}) == 150


V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE clips (clip_id TEXT PRIMARY KEY, env_id TEXT NOT NULL, length INTEGER NOT NULL, step INTEGER NOT NULL,
    frames_path TEXT, data BLOB NOT NULL);
CREATE TABLE queries (query_id TEXT PRIMARY KEY, clip_ids TEXT NOT NULL, step INTEGER NOT NULL,
    created_at REAL NOT NULL);
CREATE TABLE claims (query_id TEXT PRIMARY KEY, rater TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE labels (id INTEGER PRIMARY KEY AUTOINCREMENT, query_id TEXT NOT NULL, rater TEXT NOT NULL, outcome TEXT,
    ranking TEXT, shown_at REAL NOT NULL, answered_at REAL NOT NULL, UNIQUE (query_id, rater));
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO queries VALUES ('q0', '["a", "b"]', 5, 1.0);
INSERT INTO labels (query_id, rater, outcome, ranking, shown_at, answered_at)
    VALUES ('q0', 'ann', 'left', NULL, 1.0, 2.0);
"""


def test_a_format_1_store_is_upgraded_in_place_keeping_every_label(tmp_path):
    path = tmp_path / "labels.sqlite"
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA)
    db.close()
    store = PreferenceStore(path)
    assert [(lab.query_id, lab.outcome) for lab in store.labels()] == [("q0", Outcome.LEFT)]
    assert store.label_records()[0]["model_version"] == 0 and store.label_records()[0]["policy_step"] == 5
    assert store.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "2"
    store.set_status(phase="training")
    assert store.status() == {"phase": "training"}


def test_a_newer_format_or_a_foreign_database_is_refused_unchanged(tmp_path):
    path = tmp_path / "labels.sqlite"
    PreferenceStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value='3' WHERE key='schema_version'")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(ValueError, match="format 3 was written by a newer pbrl"):
        PreferenceStore(path)
    assert path.read_bytes() == before
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE songs (title TEXT)")
    db.commit()
    db.close()
    with pytest.raises(ValueError, match="not a pbrl label store"):
        PreferenceStore(other)
    with pytest.raises(FileNotFoundError, match="no label store"):
        PreferenceStore(tmp_path / "absent.sqlite", create=False)
    assert not (tmp_path / "absent.sqlite").exists()


def test_model_version_undo_records_broken_queries_and_claimed_labels(store_location):
    store = open_store(store_location)
    store.add_queries([Query("q0", ("a", "b"), step=40), Query("q1", ("a", "b"), step=40)], 1.0, [clip("a"), clip("b")],
                      model_version=3)
    assert [q.query_id for q in store.claim("ann", now=10.0, limit=2)] == ["q0", "q1"]
    assert not store.add_label(Label("q0", Outcome.LEFT, rater="bob"), require_claim=True)  # ann holds q0
    assert store.add_label(Label("q0", Outcome.LEFT, rater="ann", shown_at=10.0, answered_at=11.0), require_claim=True)
    record = store.label_records()[0]
    assert (record["model_version"], record["policy_step"], record["rater"]) == (3, 40, "ann")
    (label_id, _), = store.labels_after(0)
    store.retract("q0", "ann", now=12.0)
    assert store.retractions_after(0) == [(1, "q0", "ann")] and store.labels_after(label_id) == []
    assert store.claim("ann", now=13.0, limit=2)[0].query_id == "q0"  # the undone query is hers again
    store.mark_broken("q1", "clip file media/x.mp4 is missing")
    assert store.waiting("carl", now=500.0) == 1 and store.unanswered() == 1
    assert [q.query_id for q in store.claim("carl", now=500.0, limit=5)] == ["q0"]
    assert store.clip_media("a") == (None, None)


def test_a_postgresql_run_is_named_by_its_url_and_bad_urls_say_the_form(postgres_run, capsys):
    from pbrl.cli import main
    from pbrl.store_pg import PostgresStore, check_server, split_url, without_password

    server, name = postgres_run
    url = f"{server}/{name}"
    with pytest.raises(FileNotFoundError, match=f"no run '{name}' in this database"):
        PostgresStore(url, create=False)
    store = PostgresStore(url)
    store.set_config({"env_id": "pbrl/CartPole-v1", "teacher": "perfect"})
    assert PostgresStore(url, create=False).config()["teacher"] == "perfect"
    assert main(["rate", url]) == 2  # a synthetic teacher's run: nobody's to rate, said before any window opens
    assert "trained with the perfect teacher" in capsys.readouterr().err
    store.db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(ValueError, match="format 99 was written by a newer pbrl"):
        PostgresStore(url)
    for bad in ("postgresql://u@h/db", "postgresql://u@h/db/a/b", "mysql://u@h/db/run"):
        with pytest.raises(ValueError, match="DATABASE/RUN"):
            split_url(bad)
    with pytest.raises(ValueError, match="give a PostgreSQL database"):
        check_server("postgresql://u@h/db/run")
    assert without_password("postgresql://u:secret@h:5432/db") == "postgresql://u@h:5432/db"
    with pytest.raises(RuntimeError, match="cannot reach the PostgreSQL server of postgresql://pbrl:\\*\\*\\*@"):
        PostgresStore("postgresql://pbrl:pbrl@127.0.0.1:1/pbrl_test/x")  # nothing listens there; no password shown
