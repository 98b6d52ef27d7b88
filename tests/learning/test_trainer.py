"""Preference learning end to end on CartPole-sized problems."""

import csv
import itertools
import json
import math
import os
import sqlite3
import subprocess
import sys

import gymnasium as gym
import pytest

from pbrl.learned_reward import LearnedReward
from pbrl.run_dir import CURVE_GAP
from pbrl.store import PreferenceStore
from pbrl.trainer import TrainConfig, train

PBRL = os.path.join(os.path.dirname(sys.executable), "pbrl")
SMALL = dict(env_id="pbrl/CartPole-v1", labels=16, steps=3000, seed=3)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "cartpole"
    summary = train(TrainConfig(**SMALL), out)
    return out, summary


def test_run_directory_holds_everything(run_dir):
    out, summary = run_dir
    for name in ("config.json", "labels.sqlite", "reward_model/reward_model.pt", "reward_model/reward_model.json",
                 "policy.pt", "policy.json", "curves.csv", "curves.png", "final.mp4", "summary.json", "refits.csv",
                 "reward_landscape.png"):
        assert (out / name).exists(), name
    assert any(p.name.startswith("events.out.tfevents") for p in (out / "logs").iterdir())
    assert (out / "logs" / "progress.csv").exists()
    config = json.loads((out / "config.json").read_text())
    assert config["env_id"] == "pbrl/CartPole-v1" and config["labels"] == 16
    meta = json.loads((out / "reward_model" / "reward_model.json").read_text())
    assert meta["format_version"] == 1 and meta["env_id"] == "pbrl/CartPole-v1"
    assert summary["labels"] == 16 == PreferenceStore(out / "labels.sqlite").count_labels()
    refits = list(csv.DictReader(open(out / "refits.csv")))  # every fit, measured on unqueried clips
    assert len(refits) == json.loads((out / "progress.json").read_text())["model_version"] >= 2
    assert all(0 <= float(r["fresh_accuracy"]) <= 1 for r in refits if r["fresh_accuracy"] != "nan")
    assert summary["fresh_accuracy"] == float(refits[-1]["fresh_accuracy"]) or math.isnan(summary["fresh_accuracy"])
    rows = list(csv.DictReader(open(out / "curves.csv")))
    assert rows and {"true_return", "learned_return", "labels", "val_accuracy", "reward_corr",
                     "disagreement"} <= set(rows[0])
    assert float(rows[-1]["true_return"]) > 0
    steps = [float(r["steps"]) for r in rows]  # a row per rollout, at most one per CURVE_GAP env steps
    assert len(steps) > 2 and all(b - a >= CURVE_GAP for a, b in itertools.pairwise(steps))


def test_the_learned_reward_is_reusable_through_gym_make(run_dir):
    out, _ = run_dir
    env = gym.make("pbrl/CartPole-v1", reward_model=out)
    env.reset(seed=0)
    _, reward, *_ , info = env.step(0)
    assert reward != 0.0 and info["true_reward"] == 1.0


def test_evaluate_reports_the_true_return(run_dir):
    out, summary = run_dir
    result = subprocess.run([PBRL, "evaluate", str(out), "--episodes", "10"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"true return {summary['true_return_mean']:.1f}" in result.stdout


def curves_without_time(path):
    with open(path) as f:
        return [{k: v for k, v in r.items() if k != "time"} for r in csv.DictReader(f)]


def test_seeded_runs_reproduce_labels_and_curves(run_dir, tmp_path):
    out, summary = run_dir
    again = train(TrainConfig(**SMALL), tmp_path / "again")
    first = [(lab.query_id, lab.outcome) for lab in PreferenceStore(out / "labels.sqlite").labels()]
    second = [(lab.query_id, lab.outcome) for lab in PreferenceStore(tmp_path / "again" / "labels.sqlite").labels()]
    assert first == second
    assert curves_without_time(out / "curves.csv") == curves_without_time(tmp_path / "again" / "curves.csv")
    assert again["true_return_mean"] == summary["true_return_mean"]


def test_background_fits_are_reproducible(tmp_path):
    config = TrainConfig(env_id="pbrl/CartPole-v1", labels=20, steps=4000, seed=1, fit_lag=512, video=False)
    first = train(config, tmp_path / "a")
    train(config, tmp_path / "b")
    assert first["labels"] == 20
    assert curves_without_time(tmp_path / "a" / "curves.csv") == curves_without_time(tmp_path / "b" / "curves.csv")


@pytest.mark.parametrize("fit_lag", [0, 512])
def test_the_agents_reward_changes_with_every_fit_in_place_or_in_the_background(tmp_path, monkeypatch, fit_lag):
    changes = []
    changed = LearnedReward.reward_changed

    def counted(wrapper):
        changes.append(wrapper.model)
        changed(wrapper)

    monkeypatch.setattr(LearnedReward, "reward_changed", counted)
    out = tmp_path / "run"
    train(TrainConfig(env_id="pbrl/CartPole-v1", labels=20, steps=4000, seed=1, fit_lag=fit_lag, video=False), out)
    fits = json.loads((out / "progress.json").read_text())["model_version"]
    assert fits >= 3  # the first fit and refits
    assert len(changes) == fits  # the wrapper heard of each one (in place: the learner tells it)


def test_k_wise_queries_and_a2c(tmp_path):
    summary = train(TrainConfig(env_id="pbrl/CartPole-v1", labels=8, steps=2000, k=3, algo="a2c", video=False,
                                query="entropy"), tmp_path / "k3")
    assert summary["labels"] == 8
    labels = PreferenceStore(tmp_path / "k3" / "labels.sqlite").labels()
    assert all(lab.ranking is not None or lab.outcome is not None for lab in labels)


def test_skipped_queries_do_not_count_against_the_budget(tmp_path):
    # skip when both clips' returns are below the average clip return: pairs of short CartPole clips
    summary = train(TrainConfig(env_id="pbrl/CartPole-v1", labels=12, steps=4000, teacher="skip",
                                teacher_params={"eps_skip": 1.0}, video=False), tmp_path / "skip")
    store = PreferenceStore(tmp_path / "skip" / "labels.sqlite")
    skipped = store.count_labels(include_skipped=True) - store.count_labels()
    assert skipped > 0, "with eps_skip = 1 the skip teacher should skip some queries"
    assert summary["labels"] == store.count_labels() == 12
    assert summary["queries_asked"] == 12 + skipped


def test_an_off_policy_algorithm_trains_on_the_learned_reward(tmp_path):
    summary = train(TrainConfig(env_id="pbrl/CartPole-v1", labels=6, steps=1500, algo="dqn", video=False),
                    tmp_path / "dqn")
    assert summary["labels"] == 6 and summary["steps"] >= 1500


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(teacher="oracle"), "unknown teacher"),
        (dict(labels=0), "label budget must be >= 1"),
        (dict(query="best"), "unknown query strategy"),
        (dict(algo="ddpg"), "unknown algorithm"),
        (dict(env_id="pbrl/Nope-v0"), "unknown pbrl environment id"),
    ],
)
def test_bad_configuration_is_refused(kwargs, message):
    with pytest.raises((ValueError, KeyError), match=message):
        TrainConfig(**{**SMALL, **kwargs})


def test_clip_longer_than_the_episode_is_refused(tmp_path):
    with pytest.raises(ValueError, match="longer than an episode"):
        train(TrainConfig(env_id="pbrl/Reacher-v5", labels=5, steps=1000, clip_length=60), tmp_path / "r")
    assert not (tmp_path / "r").exists(), "a refused run must not leave a run directory that blocks the retry"


def test_an_existing_run_is_never_overwritten(run_dir):
    out, _ = run_dir
    before = (out / "labels.sqlite").read_bytes()
    with pytest.raises(FileExistsError, match="already holds a run"):
        train(TrainConfig(**SMALL), out)
    assert (out / "labels.sqlite").read_bytes() == before


def test_train_cli_prints_the_true_return_beside_the_baseline(tmp_path):
    result = subprocess.run(
        [PBRL, "train", "pbrl/CartPole-v1", "--labels", "8", "--steps", "2000", "--baseline", "--no-video",
         "--out", str(tmp_path / "cli")],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "preferences" in result.stdout and "true-reward PPO" in result.stdout
    assert result.stdout.count("true return of the final policy") == 2
    bad = subprocess.run([PBRL, "train", "pbrl/CartPole-v1", "--labels", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "label budget must be >= 1" in bad.stderr


@pytest.mark.slow
def test_atari_end_to_end_with_the_cnn_reward_model_and_a_cnn_policy(tmp_path, require):
    require("pbrl/Pong-v5")
    summary = train(TrainConfig(env_id="pbrl/Pong-v5", labels=6, steps=600, algo="a2c", clip_length=10,
                                eval_episodes=1, video=False), tmp_path / "pong")
    assert summary["labels"] == 6
    meta = json.loads((tmp_path / "pong" / "reward_model" / "reward_model.json").read_text())
    assert meta["kind"] == "cnn" and meta["observation_space"]["shape"] == [4, 84, 84]
    assert -21 <= summary["true_return_mean"] <= 21


@pytest.mark.slow
def test_a_killed_run_resumes_with_its_labels_queries_and_reward_model(tmp_path):
    import signal
    import time

    out = tmp_path / "run"
    proc = subprocess.Popen([PBRL, "train", "pbrl/CartPole-v1", "--labels", "40", "--steps", "30000", "--no-video",
                             "--seed", "1", "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    progress = out / "progress.json"
    while not (progress.exists() and json.loads(progress.read_text())["env_steps"] > 3000):
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = PreferenceStore(out / "labels.sqlite").labels()
    queries_before = PreferenceStore(out / "labels.sqlite").count_queries()
    assert 0 < len(before) < 40 and (out / "reward_model" / "reward_model.pt").exists()
    version_before, seconds_before, steps_before, warmup = (json.loads(progress.read_text())[k] for k in (
        "model_version", "seconds", "env_steps", "warmup_steps"))
    assert 0 < warmup < steps_before and (out / "optimizer.pt").exists()  # Adam's moments travel with the weights
    assert (out / "reward_model" / "fit_state.pt").exists()  # and the reward model's
    learned_before = json.loads(progress.read_text())["learned_returns"]
    assert learned_before and (out / "episodes.json").exists()  # the last episodes: the curves' means go on

    result = subprocess.run([PBRL, "train", "--resume", str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "resuming" in result.stdout
    store = PreferenceStore(out / "labels.sqlite")
    after = store.labels()
    assert [lab.query_id for lab in after[: len(before)]] == [lab.query_id for lab in before]  # kept, in order
    assert len({q.query_id for q in store.queries()}) == store.count_queries() > queries_before
    assert store.count_labels() == 40
    summary = json.loads((out / "summary.json").read_text())
    assert summary["labels"] == 40 and summary["steps"] >= 30000
    assert summary["train_seconds"] > seconds_before > 0  # the time of both parts
    assert summary["seconds_before"] == seconds_before and summary["resumes"] == 1
    # the agent's learning-rate schedule (the Zoo's linear 1e-3 for CartPole) goes on from where it stopped,
    # not from its start: the resumed part's first update uses what the uninterrupted run would have
    assert (out / "logs" / "progress-part1.csv").exists()  # the first part's SB3 log, kept
    updates = list(csv.DictReader(open(out / "logs" / "progress.csv")))
    first = next(float(r["train/learning_rate"]) for r in updates if r["train/learning_rate"])
    assert first == pytest.approx(1e-3 * (1 - (steps_before - warmup) / (30000 - warmup)), rel=0.05)
    assert json.loads(progress.read_text())["model_version"] > version_before
    assert json.loads(progress.read_text())["resumes"] == 1
    rows = list(csv.DictReader(open(out / "curves.csv")))
    assert float(rows[0]["steps"]) < 3000 < float(rows[-1]["steps"])  # the curve goes on from before the kill
    # the last fit's validation accuracy stands from the resume on (not a gap until the next refit)
    resumed = [r for r in rows if float(r["steps"]) > steps_before]
    assert resumed and not math.isnan(float(resumed[0]["val_accuracy"]))


def test_resume_refuses_a_directory_that_is_not_a_run(tmp_path):
    result = subprocess.run([PBRL, "train", "--resume", str(tmp_path / "nope")], capture_output=True, text=True)
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_resume_takes_no_other_flags_and_one_trainer_holds_a_run(tmp_path):
    result = subprocess.run([PBRL, "train", "--resume", str(tmp_path), "--steps", "1000"], capture_output=True,
                            text=True)
    assert result.returncode == 2 and "drop --steps" in result.stderr
    from pbrl.run import lock_run_dir

    first = lock_run_dir(tmp_path)
    with pytest.raises(RuntimeError, match="another trainer is running"):
        lock_run_dir(tmp_path)
    first.close()
    lock_run_dir(tmp_path).close()  # free again


def test_the_default_clip_is_at_most_an_episode(tmp_path):
    """MuJoCo's default clip is 1.5 s; Reacher's episodes last 1 s (50 steps): its clips are
    whole episodes, not a refusal."""
    result = train(TrainConfig(env_id="pbrl/Reacher-v5", labels=4, steps=1200, seed=0, video=False), tmp_path / "r")
    assert result["labels"] >= 1
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config.get("clip_length") in (None, 0)  # the user gave none; the run used the episode's 50 steps
    with sqlite3.connect(tmp_path / "r" / "labels.sqlite") as db:
        lengths = {row[0] for row in db.execute("SELECT length FROM clips")}
    assert lengths == {50}
