"""People in the loop, with real processes: a trainer learns from labels given through the
app's event path; SIGKILL never loses an acknowledged label; two apps never answer the same
query; a real X server shows both clips and the status bar."""

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from pbrl.clip_ui.demo import make_demo_run
from pbrl.store import PreferenceStore, open_store

PBRL = os.path.join(os.path.dirname(sys.executable), "pbrl")
SCRIPTED = [sys.executable, "-m", "pbrl.clip_ui.scripted"]
DUMMY = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}


def _rate_while_training(out, seed, env_id="pbrl/CartPole-v1", labels=100, steps=50000, delay=0.2, extra=(),
                         rate=None, cwd=None):
    """``pbrl train --teacher human`` in one process, the scripted rater in the app in another
    (answering ``delay`` s after each query appears; ``rate``: what it is given to rate, the
    run directory by default; ``cwd``: where it runs), until the trainer finishes; returns
    the run's summary and the rater's log."""
    trainer = subprocess.Popen([PBRL, "train", env_id, "--teacher", "human", "--labels", str(labels),
                                "--steps", str(steps), "--no-video", "--seed", str(seed), "--out", str(out), *extra],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=DUMMY)
    while not (out / "config.json").exists():  # written last: the run directory is complete
        assert trainer.poll() is None, trainer.stdout.read()
        time.sleep(0.2)
    rater = subprocess.Popen([*SCRIPTED, str(rate or out), "--rater", "bot", "--delay", str(delay), "--until-finished"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=DUMMY, cwd=cwd)
    log, _ = trainer.communicate(timeout=1200)
    rater_log, _ = rater.communicate(timeout=60)
    assert trainer.returncode == 0, log
    assert rater.returncode == 0, rater_log
    return json.loads((out / "summary.json").read_text()), rater_log


@pytest.mark.slow
def test_a_scripted_rater_in_the_app_teaches_a_real_trainer(tmp_path):
    """CartPole from 100 labels given through the app's key events: every label comes through
    the app and reaches the trainer while it trains, and the policy learns from them (at least
    5x a random policy's return). How close that comes to true-reward PPO is a benchmark
    question, not a test's: the rater's pace is real time, so runs differ, and preference
    learning on CartPole misses 90% of PPO on some seeds (BENCHMARKS.md: the cart drifts off
    the track; with the learned absorbing state used here 2 of 8 seeds), which made a test
    asking for 90% fail on three seeds in a row once in CI."""
    from pbrl import rl

    out = tmp_path / "seed0"
    summary, rater_log = _rate_while_training(out, 0, extra=("--learn-absorbing", "--pace", "free"))
    store = PreferenceStore(out / "labels.sqlite")
    records = store.label_records()
    # a rater at ~4 labels/s spends most of the budget within the run (a label given after
    # the trainer's last look at the store is kept, not trained on)
    assert {r["rater"] for r in records} == {"bot"} and 60 <= summary["labels"] <= store.count_labels() <= 100
    assert records[-1]["model_version"] > 1 and records[-1]["policy_step"] > 0  # asked during training
    assert rater_log.count("saved q") == len(records)  # every label came through the app
    store.close()
    random_returns, _ = rl.evaluate(None, "pbrl/CartPole-v1", 10, 0)
    assert summary["true_return_mean"] >= 5 * np.mean(random_returns), (summary, np.mean(random_returns))


@pytest.mark.slow
def test_at_a_persons_pace_every_label_is_used_and_the_run_waits_for_the_last(tmp_path):
    """A rater answering 3 s after each query appears (a careful person's pace) on a trainer
    far faster than that: RL pauses while the labels are behind the schedule, so every label
    given is asked for, answered and trained on, none late, and the run ends after the last."""
    # the README's example (--teacher human --labels 200 --steps 1e5 on Pendulum) at a third of its
    # budget and steps: 200 labels at 3 s took 10.5 of CI's minutes
    out = tmp_path / "paced"
    summary, rater_log = _rate_while_training(out, 0, "pbrl/Pendulum-v1", labels=66, steps=33_000, delay=3.0)
    store = PreferenceStore(out / "labels.sqlite")
    records = store.label_records()
    assert summary["labels"] == summary["labels_answered"] == store.count_labels(include_skipped=True) == 66
    assert summary["labels_late"] == 0 and summary["queries_withdrawn"] == summary["queries_asked"] - 66
    assert rater_log.count("saved q") == 66
    last_label = max(r["answered_at"] for r in records)
    finished = os.path.getmtime(out / "summary.json")
    assert finished > last_label  # the run ended after the last label
    refits = [float(line.split(",")[1]) for line in (out / "refits.csv").read_text().splitlines()[1:]]
    assert max(refits) == 66  # and fitted on it
    store.close()


def _killed_mid_session(run: str, rng: random.Random) -> set[str]:
    """The scripted rater on ``run`` (a run directory or a store's URL), SIGKILLed 0.2-1 s after
    its first label; the queries whose label it acknowledged ("saved ...")."""
    app = subprocess.Popen([*SCRIPTED, run, "--rater", "ann", "--delay", "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=DUMMY)
    acknowledged, deadline = set(), time.time() + rng.uniform(0.2, 1.0)
    line = app.stdout.readline()  # the first label: the app is up and rating
    while True:
        if line.startswith("saved "):
            acknowledged.add(line.split()[1])
        if time.time() > deadline:
            break
        line = app.stdout.readline()
    app.send_signal(signal.SIGKILL)
    rest, _ = app.communicate()
    return acknowledged | {line.split()[1] for line in rest.splitlines() if line.startswith("saved ")}


@pytest.mark.slow
def test_sigkill_mid_session_never_loses_an_acknowledged_label(tmp_path):
    run = make_demo_run(tmp_path / "run", queries=400)
    rng = random.Random(0)
    acknowledged = set()
    for _ in range(20):
        acknowledged |= _killed_mid_session(str(run), rng)
        db = sqlite3.connect(run / "labels.sqlite")
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {r[0] for r in db.execute("SELECT query_id FROM labels")}
        db.close()
        assert acknowledged <= stored, acknowledged - stored
    assert len(acknowledged) >= 20
    labels = PreferenceStore(run / "labels.sqlite").labels()
    assert len(labels) == len({lab.query_id for lab in labels})  # each query answered once


@pytest.mark.slow
def test_two_apps_rating_one_run_never_answer_the_same_query(tmp_path):
    run = make_demo_run(tmp_path / "run", queries=60)
    apps = [subprocess.Popen([*SCRIPTED, str(run), "--rater", name, "--delay", "0.01", "--seconds", "30"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=DUMMY)
            for name in ("ann", "bob")]
    logs = [app.communicate(timeout=120)[0] for app in apps]
    saved = [{line.split()[1] for line in log.splitlines() if line.startswith("saved ")} for log in logs]
    assert saved[0] and saved[1], logs  # both rated
    assert not saved[0] & saved[1]
    labels = PreferenceStore(run / "labels.sqlite").labels()
    assert len(labels) == 60 == len({lab.query_id for lab in labels})
    assert {lab.query_id for lab in labels if lab.rater == "ann"} == saved[0]


@pytest.mark.slow
def test_raters_elsewhere_need_only_the_url_and_never_answer_one_query_twice(tmp_path, postgres_run):
    """Two raters in working directories of their own, sharing nothing but the PostgreSQL URL
    (the run's config and clip videos come from the database), answer 60 queries once each."""
    server, name = postgres_run
    run = make_demo_run(tmp_path / "trainer" / name, queries=60, store=server)
    url = f"{server}/{name}"
    homes = [tmp_path / "elsewhere" / rater for rater in ("ann", "bob")]
    for home in homes:
        home.mkdir(parents=True)
    apps = [subprocess.Popen([*SCRIPTED, url, "--rater", home.name, "--delay", "0.01", "--seconds", "30"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=DUMMY, cwd=home)
            for home in homes]
    logs = [app.communicate(timeout=120)[0] for app in apps]
    saved = [{line.split()[1] for line in log.splitlines() if line.startswith("saved ")} for log in logs]
    assert saved[0] and saved[1] and not saved[0] & saved[1], logs
    store = open_store(url, create=False)
    labels = store.labels()
    assert len(labels) == 60 == len({lab.query_id for lab in labels})
    assert {lab.query_id for lab in labels if lab.rater == "ann"} == saved[0]
    assert store.unanswered() == 0 and not (run / "labels.sqlite").exists()  # every video played: none broken
    store.close()


@pytest.mark.slow
def test_sigkill_of_a_rater_on_postgresql_never_loses_an_acknowledged_label(tmp_path, postgres_run):
    server, name = postgres_run
    make_demo_run(tmp_path / name, queries=200, store=server)
    url, acknowledged = f"{server}/{name}", set()
    rng = random.Random(0)
    for _ in range(8):
        acknowledged |= _killed_mid_session(url, rng)
        store = open_store(url, create=False)
        labels = store.labels()
        store.close()
        assert acknowledged <= {lab.query_id for lab in labels}, acknowledged - {lab.query_id for lab in labels}
    assert len(acknowledged) >= 8 and len(labels) == len({lab.query_id for lab in labels})  # each answered once


@pytest.mark.slow
def test_a_trainer_learns_from_labels_given_through_postgresql(tmp_path, postgres_run):
    server, name = postgres_run
    out, elsewhere = tmp_path / name, tmp_path / "elsewhere"
    elsewhere.mkdir()
    summary, rater_log = _rate_while_training(out, 0, labels=30, steps=6000, rate=f"{server}/{name}", cwd=elsewhere,
                                              extra=("--store", server, "--pace", "free"))
    store = open_store(f"{server}/{name}", create=False)
    records = store.label_records()
    assert {r["rater"] for r in records} == {"bot"} and 0 < summary["labels"] <= len(records) <= 30
    assert rater_log.count("saved q") == len(records) and not (out / "labels.sqlite").exists()
    assert json.loads((out / "config.json").read_text())["store"] == server.replace(":pbrl@", "@")  # no password
    store.close()


def _xvfb() -> str:
    path = shutil.which("Xvfb")
    if path is None:
        if os.environ.get("PBRL_REQUIRE_ALL") == "1":
            pytest.fail("PBRL_REQUIRE_ALL=1 but Xvfb is not installed (apt-get install xvfb; scripts/setup.sh does it)")
        pytest.skip("Xvfb is not installed (apt-get install xvfb)")
    return path


@pytest.mark.slow
def test_a_real_window_on_xvfb_shows_both_clips_and_the_status_bar(tmp_path):
    from PIL import ImageGrab

    from pbrl.clip_ui.app import PANEL, layout

    run = make_demo_run(tmp_path / "run", queries=5)
    display = f":{90 + os.getpid() % 9}"
    xvfb = subprocess.Popen([_xvfb(), display, "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {k: v for k, v in os.environ.items() if k != "SDL_VIDEODRIVER"}
    env.update(DISPLAY=display, SDL_AUDIODRIVER="dummy", SDL_VIDEO_WINDOW_POS="0,0")
    try:
        time.sleep(1.0)
        app = subprocess.Popen([PBRL, "rate", str(run), "--rater", "ann", "--size", "900x500"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        shot = None
        for _ in range(40):  # until the window is up and drawn
            time.sleep(0.5)
            assert app.poll() is None, app.stdout.read()
            image = np.asarray(ImageGrab.grab(xdisplay=display).convert("RGB"))
            if (image[:500, :900].mean(axis=2) > 240).mean() > 0.2:
                shot = image
                break
        app.terminate()
        app.communicate(timeout=30)
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=30)
    assert shot is not None, "the app's window never appeared on the X server"
    from PIL import Image

    Image.fromarray(shot).save(tmp_path / "screenshot.png")
    lay = layout((900, 500), 2, False)
    window = shot[:500, :900]
    for rect in lay.clips:
        region = window[rect.y:rect.bottom, rect.x:rect.right].mean(axis=2)
        assert (region > 240).mean() > 0.3 and (region < 30).any(), "a clip is not drawn"
    bar = window[lay.status.y + 2:lay.status.bottom - 2]
    assert (np.abs(bar.astype(int) - PANEL).sum(axis=2) < 8).mean() > 0.5, "no status bar"
    assert (bar.mean(axis=2) > 180).any(), "the status bar has no text"
