"""Nothing lost, nothing stuck: the label store's durability, run creation that is whole or
absent, budgets the steps can supply, and the kill-anywhere harness (real processes, real files)."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

from pbrl import reliability
from pbrl.run import Run
from pbrl.store import PreferenceStore
from pbrl.trainer import TrainConfig

PBRL = os.path.join(os.path.dirname(sys.executable), "pbrl")
TINY = ["--labels", "12", "--steps", "2500", "--no-video", "--eval-episodes", "1"]


def _labels_in_main_file(path, tmp_path) -> int | None:
    """The labels a copy of the main file alone holds (no -wal beside it): None without tables."""
    copy = tmp_path / "copy.sqlite"
    shutil.copyfile(path, copy)
    db = sqlite3.connect(copy)
    try:
        return db.execute("SELECT COUNT(*) FROM labels").fetchone()[0]
    except sqlite3.OperationalError:
        return None
    finally:
        db.close()
        copy.unlink()


def test_a_checkpoint_puts_every_label_in_labels_sqlite_itself(tmp_path):
    out = tmp_path / "run"
    config = TrainConfig(env_id="pbrl/CartPole-v1", labels=20, steps=4000, seed=1, video=False)
    with Run(config, out) as run:
        run.build()
        run.warm_up()
        assert run.learner.labels > 0
        run.checkpoint(run.recorder.total_steps)
        # mid-run, the trainer's connection open: a copy of labels.sqlite alone has them all
        assert _labels_in_main_file(out / "labels.sqlite", tmp_path) == run.learner.labels
        assert json.loads((out / "progress.json").read_text())["label_rows"] == run.learner.labels


def test_a_trainer_ending_beside_another_reader_leaves_a_whole_labels_sqlite(tmp_path):
    import time

    out = tmp_path / "run"
    proc = subprocess.Popen([PBRL, "train", "pbrl/CartPole-v1", *TINY, "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not (out / "config.json").exists():  # config.json is written after the store
        assert proc.poll() is None, "the run ended before the reader could open the store"
        time.sleep(0.05)
    reader = sqlite3.connect(out / "labels.sqlite")  # the rating app's connection, open as the trainer ends
    try:
        reader.execute("SELECT COUNT(*) FROM meta").fetchone()
        assert proc.wait(timeout=600) == 0
        assert _labels_in_main_file(out / "labels.sqlite", tmp_path) == 12
    finally:
        reader.close()


def test_resume_refuses_a_store_that_lost_labels_and_changes_nothing(tmp_path):
    out = tmp_path / "run"
    result = subprocess.run([PBRL, "train", "pbrl/CartPole-v1", *TINY, "--out", str(out)], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    for name in ("labels.sqlite", "labels.sqlite-wal", "labels.sqlite-shm"):  # an older, empty copy put back
        (out / name).unlink(missing_ok=True)
    PreferenceStore(out / "labels.sqlite").close()
    progress = (out / "progress.json").read_bytes()
    result = subprocess.run([PBRL, "train", "--resume", str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 2
    assert "labels up to #0 (0 labels)" in result.stderr and "labels up to #12" in result.stderr
    assert "labels.sqlite-wal deleted" in result.stderr and "Traceback" not in result.stderr
    assert (out / "progress.json").read_bytes() == progress  # a refused resume changes nothing


@pytest.mark.parametrize("left", [("config.json",), ("config.json", "labels.sqlite"), ("labels.sqlite",),
                                  ("labels.sqlite", ".config.json.x1y2.tmp")])
def test_what_a_killed_start_leaves_is_resumable_or_replaced(tmp_path, left):
    out = tmp_path / "run"
    out.mkdir()
    config = TrainConfig(env_id="pbrl/CartPole-v1", labels=12, steps=2500, seed=2, video=False, eval_episodes=1)
    if "config.json" in left:
        (out / "config.json").write_text(json.dumps(config.to_json()))
    if "labels.sqlite" in left:
        PreferenceStore(out / "labels.sqlite").close()
        for log in ("labels.sqlite-wal", "labels.sqlite-shm"):  # as a kill leaves them
            (out / log).write_bytes(b"")
    for name in left:
        if name.endswith(".tmp"):  # config.json's write, killed before its rename
            (out / name).write_text('{"env_id": "pbrl/Cart')
    (out / "progress.json").write_text('{"env_steps": 0, "resumes": 0, "model_version": 0}')
    result = subprocess.run([PBRL, "train", "pbrl/CartPole-v1", *TINY, "--seed", "2", "--out", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "stopped before its first query" in result.stderr and "starting it afresh" in result.stderr
    assert PreferenceStore(out / "labels.sqlite").count_labels() == 12
    if "config.json" in left:  # the same leftover resumes too
        out2 = tmp_path / "again"
        out2.mkdir()
        (out2 / "config.json").write_text(json.dumps(config.to_json()))
        result = subprocess.run([PBRL, "train", "--resume", str(out2)], capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
        assert PreferenceStore(out2 / "labels.sqlite").count_labels() == 12


def test_a_directory_with_queries_is_never_replaced(tmp_path):
    out = tmp_path / "run"
    result = subprocess.run([PBRL, "train", "pbrl/CartPole-v1", *TINY, "--out", str(out)], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0
    (out / "policy.pt").unlink()  # even with little else left, its labels are kept
    before = (out / "labels.sqlite").read_bytes()
    result = subprocess.run([PBRL, "train", "pbrl/CartPole-v1", *TINY, "--out", str(out)], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 2 and "already holds a run (" in result.stderr and "--resume" in result.stderr
    assert (out / "labels.sqlite").read_bytes() == before


def test_sac_on_discrete_actions_is_refused_before_the_directory_exists(tmp_path):
    out = tmp_path / "run"
    result = subprocess.run([PBRL, "train", "pbrl/CartPole-v1", *TINY, "--algo", "sac", "--out", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 2 and "--algo sac needs continuous (Box) actions" in result.stderr
    assert "use --algo ppo or a2c or dqn" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_dqn_on_continuous_actions_is_refused_before_the_directory_exists(tmp_path):
    out = tmp_path / "run"
    result = subprocess.run([PBRL, "train", "pbrl/Pendulum-v1", *TINY, "--algo", "dqn", "--out", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 2 and "--algo dqn needs discrete actions" in result.stderr
    assert "use --algo ppo or a2c or sac or td3" in result.stderr and not out.exists()


@pytest.mark.parametrize("labels", ["1000000000", "5000"])
def test_a_budget_the_steps_cannot_supply_is_refused_at_once(tmp_path, labels):
    out = tmp_path / "run"
    result = subprocess.run([PBRL, "train", "pbrl/CartPole-v1", "--labels", labels, "--steps", "2000",
                             "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "raise --steps or lower --labels" in result.stderr
    assert "cut only 80 clips of 25 steps (3160 different queries)" in result.stderr and not out.exists()


def test_no_query_is_asked_twice(tmp_path):
    out = tmp_path / "run"  # 60 labels from 2500 steps: 100 clips, each in more than one query
    result = subprocess.run([PBRL, "train", "pbrl/CartPole-v1", "--labels", "60", "--steps", "2500", "--no-video",
                             "--eval-episodes", "1", "--query", "uniform", "--out", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "each clip is shown in about 1.2 queries" in result.stderr
    store = PreferenceStore(out / "labels.sqlite")
    sets = [frozenset(q.clip_ids) for q in store.queries()]
    assert len(sets) == len(set(sets)) >= 60


@pytest.mark.slow
def test_kill_anywhere_loses_no_label(tmp_path):
    result = reliability.kill_anywhere(4, tmp_path, seed=5, labels=20, steps=4000)
    assert len(result["trials"]) == 4
    assert all(reliability.ok(row) for row in result["trials"]), result["trials"]
    assert "4 of 4" in reliability.table(result)
