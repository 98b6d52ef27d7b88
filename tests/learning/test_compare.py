"""`pbrl compare`: every cell once, resumable, scores as DESIGN.md defines them."""

import json

import pytest

from pbrl.compare import CompareConfig, compare, normalised_score, summarise
from pbrl.trainer import TrainConfig


def test_normalised_score():
    assert normalised_score(-200.0, random=-1200.0, rl=-150.0) == pytest.approx(1000 / 1050)
    assert normalised_score(50.0, random=20.0, rl=500.0) == pytest.approx(30 / 480)


def test_compare_runs_each_cell_once_and_resumes(tmp_path):
    config = CompareConfig(TrainConfig(env_id="pbrl/CartPole-v1", labels=6, steps=1500, video=False), seeds=(0,), out=str(tmp_path))
    rows = compare(config)
    assert sorted(r["method"] for r in rows) == ["preferences", "random", "rl"]
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert len(lines) == 3
    assert compare(config) == rows  # nothing is run again
    assert (tmp_path / "results.jsonl").read_text().splitlines() == lines
    summary = summarise(rows)
    (seed,) = summary["per_seed"]
    assert seed["time_ratio"] == pytest.approx(seed["pref_seconds"] / seed["rl_seconds"])
    assert all(r["curve"] for r in rows if r["method"] != "random")
    assert json.loads(lines[0])["method"] == "random"
