"""``pbrl bench``: a suite is cells with one result file each; a re-run skips finished cells."""

import json
import os
import subprocess
import sys

import pytest

from pbrl.bench import SUITES, cells

PBRL = os.path.join(os.path.dirname(sys.executable), "pbrl")


def test_suites_have_the_issue_tasks_and_grids():
    assert [t.split("/")[-1] for t in SUITES["classic"].tasks] == ["CartPole-v1", "Acrobot-v1", "MountainCarContinuous-v0", "Pendulum-v1"]
    assert len(SUITES["mujoco"].tasks) == 8 and len(SUITES["atari"].tasks) == 3
    grid = cells(SUITES["classic"], (0, 1), (350, 700), tasks=("CartPole-v1",))
    assert [(c.method, c.labels, c.seed) for c in grid] == [
        ("ppo", 0, 0), ("pbrl", 350, 0), ("pbrl", 700, 0), ("ppo", 0, 1), ("pbrl", 350, 1), ("pbrl", 700, 1)]
    teachers = cells(SUITES["teachers"], (0,))
    assert {c.method for c in teachers} == {"ppo"} | {f"pbrl:teacher={t}" for t in
                                                      ("perfect", "boltzmann", "myopic", "mistake", "skip", "equal")}
    with pytest.raises(ValueError, match="no task of suite classic"):
        cells(SUITES["classic"], (0,), tasks=("Pong-v5",))


@pytest.mark.slow
def test_cells_write_results_and_a_rerun_skips_them(tmp_path):
    args = [PBRL, "bench", "queries", "--seeds", "0", "--steps", "1500", "--labels", "8", "--out", str(tmp_path)]
    first = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    files = sorted(p.name for p in (tmp_path / "cells").iterdir())
    assert files == ["Pendulum-v1__pbrl-query-disagreement__8__s0.json", "Pendulum-v1__pbrl-query-entropy__8__s0.json",
                     "Pendulum-v1__pbrl-query-uniform__8__s0.json", "Pendulum-v1__ppo__0__s0.json"]
    row = json.loads((tmp_path / "cells" / files[0]).read_text())
    assert 1 <= row["labels"] <= 8 and row["curve"] and row["true_return_mean"] < 0
    (tmp_path / "cells" / files[1]).unlink()  # as if that cell had been interrupted
    again = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "3 already done, 1 to run" in again.stdout
    assert (tmp_path / "Pendulum-v1.png").stat().st_size > 0 and (tmp_path / "curves.csv").exists()
    summary = (tmp_path / "summary.md").read_text()
    assert "true-reward PPO" in summary and "pbrl:query=entropy 8 labels" in summary
    report = subprocess.run(args + ["--report"], capture_output=True, text=True, timeout=120)
    assert report.returncode == 0 and "4 of 4 cells" in report.stdout


def test_a_cell_that_cannot_work_is_recorded_and_the_report_says_so():
    from pbrl.bench import summary_table

    ppo = {"task": "pbrl/Pendulum-v1", "method": "ppo", "labels": 0, "seed": 0, "true_return_mean": -150.0,
           "train_seconds": 10.0, "labels_used": 0}
    bad = {"task": "pbrl/Pendulum-v1", "method": "pbrl:teacher=skip", "labels": 200, "seed": 0, "labels_used": 0,
           "true_return_mean": float("nan"), "train_seconds": 5.0, "error": "the warm-up produced no usable label"}
    table = summary_table([ppo, bad])
    assert "failed on 1 of 1 seeds: the warm-up produced no usable label" in table
