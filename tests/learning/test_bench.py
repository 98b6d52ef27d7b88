"""``pbrl bench``: a suite is cells with one result file each; a re-run skips finished cells."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import torch

from pbrl.bench import SUITES, Cell, cells, run_cell
from pbrl.imitation_pc import available as imitation_available

PBRL = os.path.join(os.path.dirname(sys.executable), "pbrl")


def test_suites_have_the_issue_tasks_and_grids():
    assert [t.split("/")[-1] for t in SUITES["classic"].tasks] == ["CartPole-v1", "Acrobot-v1",
                                                                   "MountainCarContinuous-v0", "Pendulum-v1"]
    assert len(SUITES["mujoco"].tasks) == 8 and len(SUITES["atari"].tasks) == 3
    grid = cells(SUITES["classic"], (0, 1), (350, 700), tasks=("CartPole-v1",))
    assert [(c.method, c.labels, c.seed) for c in grid] == [
        ("random", 0, 0), ("ppo", 0, 0), ("pbrl", 350, 0), ("pbrl", 700, 0),
        ("random", 0, 1), ("ppo", 0, 1), ("pbrl", 350, 1), ("pbrl", 700, 1)]
    teachers = cells(SUITES["teachers"], (0,))
    assert {c.method for c in teachers} == {"random", "ppo"} | {f"pbrl:teacher={t}" for t in
                                                      ("perfect", "boltzmann", "myopic", "mistake", "skip", "equal")}
    with pytest.raises(ValueError, match="no task of suite classic"):
        cells(SUITES["classic"], (0,), tasks=("Pong-v5",))
    # the ablation suites run on any pbrl id
    other = cells(SUITES["teachers"], (0,), (700,), 200_000, tasks=("HalfCheetah-v5",))
    assert {(c.task, c.labels, c.steps) for c in other} == {("pbrl/HalfCheetah-v5", 0, 200_000),
                                                            ("pbrl/HalfCheetah-v5", 700, 200_000)}
    with pytest.raises(KeyError, match="unknown pbrl environment id"):
        cells(SUITES["queries"], (0,), tasks=("NoSuchEnv-v0",))


@pytest.mark.slow
def test_cells_write_results_and_a_rerun_skips_them(tmp_path):
    args = [PBRL, "bench", "queries", "--seeds", "0", "--steps", "1500", "--labels", "8", "--out", str(tmp_path)]
    first = subprocess.run(args + ["--workers", "2"], capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    files = sorted(p.name for p in (tmp_path / "cells").iterdir())
    assert files == ["Pendulum-v1__pbrl-query-disagreement__8__s0.json", "Pendulum-v1__pbrl-query-entropy__8__s0.json",
                     "Pendulum-v1__pbrl-query-uniform__8__s0.json", "Pendulum-v1__ppo__0__s0.json",
                     "Pendulum-v1__random__0__s0.json"]
    row = json.loads((tmp_path / "cells" / files[0]).read_text())
    assert 1 <= row["labels"] <= 8 and row["curve"] and row["true_return_mean"] < 0
    rows = {f[:-5]: json.loads((tmp_path / "cells" / f).read_text()) for f in files}
    ppo = rows[files[3][:-5]]  # started with the first preference cell of its seed, and shared the machine after
    assert ppo["ran_beside"][0].startswith("Pendulum-v1__pbrl-query-")
    assert rows[files[4][:-5]]["ran_beside"] == []  # the light random cell ran before the timed ones
    overlaps = {(name, other) for name, row in rows.items() for other in row["ran_beside"]}
    assert overlaps and overlaps == {(b, a) for a, b in overlaps}  # each overlap named by both cells
    (tmp_path / "cells" / files[1]).unlink()  # as if that cell had been interrupted
    again = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "4 already done, 1 to run" in again.stdout
    assert (tmp_path / "Pendulum-v1.png").stat().st_size > 0 and (tmp_path / "curves.csv").exists()
    summary = (tmp_path / "summary.md").read_text()
    assert "true-reward PPO" in summary and "pbrl:query=entropy 8 labels" in summary
    report = subprocess.run(args + ["--report"], capture_output=True, text=True, timeout=120)
    assert report.returncode == 0 and "5 of 5 cells" in report.stdout
    other = subprocess.run([a if a != "1500" else "3000" for a in args], capture_output=True, text=True, timeout=120)
    assert other.returncode != 0 and "ran 1500 env steps, this grid asks 3000" in other.stderr  # no silent mixing


def test_a_cell_that_cannot_work_is_recorded_and_the_report_says_so():
    from pbrl.bench_report import summary_table

    ppo = {"task": "pbrl/Pendulum-v1", "method": "ppo", "labels": 0, "seed": 0, "true_return_mean": -150.0,
           "train_seconds": 10.0, "labels_used": 0}
    bad = {"task": "pbrl/Pendulum-v1", "method": "pbrl:teacher=skip", "labels": 200, "seed": 0, "labels_used": 0,
           "true_return_mean": float("nan"), "train_seconds": 5.0, "error": "the warm-up produced no usable label"}
    table = summary_table([ppo, bad])
    assert "failed on 1 of 1 seeds: the warm-up produced no usable label" in table


def test_label_budgets_parse_and_bad_ones_name_the_fix():
    from pbrl.cli import _budgets

    assert _budgets("350,700,1400") == (350, 700, 1400) and _budgets("350, 700") == (350, 700)
    for bad in ("350;700", "0", "abc"):
        with pytest.raises(ValueError, match="--labels"):
            _budgets(bad)


def test_imitation_cells_join_the_grid_only_when_asked_and_only_where_the_suite_has_them():
    grid = cells(SUITES["classic"], (0,), (100,), tasks=("CartPole-v1",), imitation=True)
    assert [(c.method, c.labels) for c in grid] == [("random", 0), ("ppo", 0), ("pbrl", 100), ("imitation", 100)]
    assert "imitation" not in {c.method for c in cells(SUITES["queries"], (0,), imitation=True)}


def test_optional_methods_run_only_when_named_and_method_picks_cells():
    text = SUITES["text"]
    grid = cells(text, (0,), tasks=("sentiment",))
    assert [c.method for c in grid] == ["sft", "ppo", "rloo", "grpo", "pbrl", "dpo"]  # no judge cell by default
    judged = cells(text, (0, 1), tasks=("sentiment",), methods=("pbrl:teacher=judge-lm",))
    assert [(c.method, c.labels, c.seed) for c in judged] == [("pbrl:teacher=judge-lm", 1000, 0),
                                                              ("pbrl:teacher=judge-lm", 1000, 1)]
    assert judged[0].name == "sentiment__pbrl-teacher-judge-lm__1000__s0"
    assert [c.method for c in cells(SUITES["classic"], (0,), tasks=("CartPole-v1",), methods=("ppo",))] == ["ppo"]
    with pytest.raises(ValueError, match="no method 'rlhf'.*its methods: sft, ppo, rloo, grpo, pbrl, dpo"):
        cells(text, (0,), methods=("rlhf",))


def _row(task, method, labels, seed, ret, seconds, **extra):
    return {"task": task, "method": method, "labels": labels, "seed": seed, "true_return_mean": ret,
            "train_seconds": seconds, "wall_seconds": seconds, "labels_used": labels, "steps": 1000,
            "curve": [{"steps": 0, "true_return": 0.0}, {"steps": 1000, "true_return": ret}], "finished_at": 1.8e9,
            "machine": "2 cores, x86_64", "versions": {"gymnasium": "1.4.0"}, **extra}


def test_report_rewrites_only_the_generated_part_of_benchmarks_md(tmp_path):
    from pbrl.bench_report import BEGIN, END, write_benchmarks

    cells_dir = tmp_path / "benchmarks" / "mujoco" / "cells"
    cells_dir.mkdir(parents=True)
    rows = [_row("pbrl/Hopper-v5", "ppo", 0, s, 1000.0 + s, 100.0) for s in (0, 1)]
    rows += [_row("pbrl/Hopper-v5", "random", 0, s, -100.0, 1.0, curve=[]) for s in (0, 1)]
    rows += [_row("pbrl/Hopper-v5", "pbrl", 700, s, 950.0, 110.0) for s in (0, 1)]
    rows += [_row("pbrl/Hopper-v5", "imitation", 700, 0, 500.0, 300.0),
             _row("pbrl/Hopper-v5", "imitation", 700, 1, float("nan"), 5.0, error="imitation: no trajectory")]
    for r in rows:
        (cells_dir / f"{r['method']}-{r['seed']}.json").write_text(json.dumps(r))
    (cells_dir.parent / "commands.txt").write_text("pbrl bench mujoco --seeds 0 1\n")
    (cells_dir.parent / "NOTES.md").write_text("Hand-written analysis.")
    md = tmp_path / "BENCHMARKS.md"
    md.write_text(f"# Benchmarks\n\nkept above\n\n{BEGIN}\nold table\n{END}\n\nkept below\n")
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- bench-summary: generated by `pbrl bench --report` -->\nold\n<!-- end of bench-summary "
                      "-->\nrest\n")
    assert write_benchmarks(tmp_path / "benchmarks", md, readme) == ["mujoco"]
    assert "| mujoco | Hopper-v5 | 700 | 2 | 950.0 | 1000.5 | 0.95 (0.95) | 0.55 | 1.10 |" in readme.read_text()
    assert "old" not in readme.read_text() and "rest" in readme.read_text()
    text = md.read_text()
    assert "kept above" in text and "kept below" in text and "old table" not in text
    assert "pbrl bench mujoco --seeds 0 1" in text and "Hand-written analysis." in text
    # normalised per seed: (950 + 100) / (1000 + 100) = 0.955 and (950 + 100) / (1001 + 100) = 0.954
    assert "| Hopper-v5 | pbrl 700 labels | 2 | 950.0 +- 0.0 | 0.95 (0.95) | 700 | 110 s | 1.10 | met |" in text
    assert "| Hopper-v5 | random policy | 2 | -100.0 +- 0.0 | 0.00 (0.00) | - | - | - |" in text
    assert "failed on 1 of 2 seeds: imitation: no trajectory" in text  # the imitation seed that failed
    assert "| Hopper-v5 | 700 | 2 | 950.0, 0.95 | 500.0, 0.55 (failed on 1 of 2 seeds" in text
    assert "| 0.37 | yes |" in text  # 110 s against imitation's 300 s on the seed both finished
    assert (cells_dir.parent / "Hopper-v5.png").stat().st_size > 0 and (cells_dir.parent / "curves.csv").exists()
    if importlib.util.find_spec("rliable"):  # the suite-level statistics (pbrl[bench])
        assert "| pbrl 700 labels | Hopper | 2 | 0.95 [0.95, 0.95] |" in text
        assert "| imitation 700 labels | Hopper | 2 | 0.27 [0.00, 0.55] |" in text  # its failed seed counts as 0
        assert "- P(pbrl 700 labels > imitation 700 labels) = 1.00 [1.00, 1.00] over 1 task x 2 seeds" in text
        assert (cells_dir.parent / "profile.png").stat().st_size > 0 and "mujoco/profile.png)" in text
    write_benchmarks(tmp_path / "benchmarks", md)
    assert md.read_text() == text  # regenerating from the same files changes nothing
    # a suite measured before any of its cells finished: its speed table and notes, said so
    (tmp_path / "benchmarks" / "atari").mkdir()
    (tmp_path / "benchmarks" / "atari" / "speed.md").write_text("### Where an Atari run's time goes\n\n| part |")
    assert write_benchmarks(tmp_path / "benchmarks", md) == ["mujoco"]
    assert "### atari: no finished cell yet\n\n### Where an Atari run's time goes" in md.read_text()


@pytest.mark.skipif(not imitation_available(), reason="imitation not installed (bash scripts/setup-imitation.sh)")
def test_an_imitation_cell_trains_on_the_hidden_reward_env_and_writes_its_result(tmp_path):
    row = run_cell(Cell("pbrl/Pendulum-v1", "imitation", 10, 0, 3000), str(tmp_path))
    assert not row.get("error"), row.get("error")
    assert row["labels_used"] == 10 and row["fragment_length"] == 25 and row["curve"]
    assert row["steps"] <= 4096 + 1  # one PPO rollout (4 envs x 1024): no more env steps than asked, rounded up
    assert row["versions"]["imitation"] == "1.0.1" and -2000 < row["true_return_mean"] < 0
    assert json.loads((tmp_path / "cells" / "Pendulum-v1__imitation__10__s0.json").read_text())["method"] == "imitation"


def _children(pid: int) -> set[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    found = set()
    for stat in os.listdir("/proc"):
        if stat.isdigit():
            try:
                fields = open(f"/proc/{stat}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.add(int(stat))
    return found


def _running() -> set[int]:
    """Process ids that are not zombies."""
    alive = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
                    alive.add(int(pid))
            except OSError:
                continue
    return alive


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_a_suite_stopped_with_sigterm_takes_its_running_cells_with_it(tmp_path):
    import signal
    import time

    args = [PBRL, "bench", "queries", "--seeds", "0", "--steps", "200000", "--labels", "8", "--workers", "2",
            "--out", str(tmp_path)]
    suite = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while len(list((tmp_path / "runs").glob("*"))) < 2 and time.time() < deadline:  # two cells under way
        time.sleep(0.5)
    workers = _children(suite.pid)
    assert len(workers) >= 2, suite.stdout.read() if suite.poll() is not None else workers
    suite.send_signal(signal.SIGTERM)
    assert suite.wait(timeout=60) != 0
    written = set((tmp_path / "cells").glob("*.json"))
    time.sleep(3)
    assert not workers & _children(1) and not any(os.path.exists(f"/proc/{p}") and p in _running() for p in workers), \
        "workers left running"
    assert set((tmp_path / "cells").glob("*.json")) == written and len(written) < 5  # nothing finishes after the stop


def test_the_runner_and_its_report_import_no_suite_code_and_no_matplotlib():
    """bench -> bench_report -> a suite's module (pbrl.text.bench), never back: the text
    suite is named by strings on its Suite, and figures are drawn by pbrl.plots on demand."""
    code = ("import sys, pbrl.bench, pbrl.bench_report; "
            "print(sorted(m for m in sys.modules if m.startswith('pbrl.text') or m.startswith('matplotlib')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_only_the_plots_module_imports_matplotlib():
    from pathlib import Path

    import pbrl

    root = Path(pbrl.__file__).parent
    users = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                   if "import matplotlib" in p.read_text() or "from matplotlib" in p.read_text())
    assert users == ["plots.py"]


def test_the_text_suite_plugs_in_by_name_and_draws_its_bars(tmp_path):
    import pbrl.text.bench as text_bench
    from pbrl.bench import runner_of
    from pbrl.bench_report import report_of, section, write_report
    from pbrl.family import load_attr

    assert runner_of("text/arithmetic") == "pbrl.text.bench:run_text_cell" and runner_of("pbrl/CartPole-v1") is None
    assert load_attr(runner_of("text/arithmetic")) is text_bench.run_text_cell
    assert report_of("text") is text_bench.REPORT and report_of(None).plot_task is None
    rows = [_row("text/arithmetic", m, labels, s, ret, 10.0, curve=[], kl=kl)
            for m, labels, ret, kl in (("sft", 0, 0.2, 0.0), ("ppo", 0, 0.8, 1.5), ("pbrl", 100, 0.5, 2.5))
            for s in (0, 1)]
    write_report(rows, tmp_path, "text", "text")
    assert (tmp_path / "arithmetic.png").read_bytes()[:4] == b"\x89PNG"  # the bars, through pbrl.plots
    # no temporaries
    drawn = ["profile.png"] if importlib.util.find_spec("rliable") else []  # performance profiles (pbrl[bench])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["arithmetic.png", "curves.csv", "summary.md", *drawn])
    text = section(rows, tmp_path, "text", "text")
    assert "| arithmetic | pbrl 100 labels | 2 | 0.500 +- 0.000 | 0.50 (0.50) |" in text  # its digits, its seed table
    assert "| arithmetic | pbrl 100 labels | 0 | 0.500 |" in text and "(R - R_SFT)" in text
    # its README table, between its own markers (the headline table has none for it)
    from pbrl.bench_report import README_SUITE, write_benchmarks

    (tmp_path / "benchmarks" / "text" / "cells").mkdir(parents=True)
    for row in rows:
        name = Cell(row["task"], row["method"], row["labels"], row["seed"], row["steps"]).name
        (tmp_path / "benchmarks" / "text" / "cells" / f"{name}.json").write_text(json.dumps(row))
    begin, end = (marker.format("text") for marker in README_SUITE)
    (tmp_path / "README.md").write_text(f"before\n{begin}\nold\n{end}\nafter\n")
    write_benchmarks(tmp_path / "benchmarks", tmp_path / "BENCHMARKS.md", readme=tmp_path / "README.md")
    readme = (tmp_path / "README.md").read_text()
    assert readme.startswith(f"before\n{begin}\n| method |") and readme.endswith(f"{end}\nafter\n")
    assert "| PPO on a reward learned from 100 comparisons + KL | 0.500 +- 0.000 (0.500), 2.50 |" in readme


def test_a_run_writes_its_curves_png_atomically(tmp_path):
    from pbrl.run_dir import RunDir

    rows = [{"steps": s, "true_return": float(s), "learned_return": 0.0, "labels": s // 10, "val_accuracy": 0.9}
            for s in (100, 200, 300)]
    RunDir(tmp_path).write_curves(rows,
                                  baseline=[{"steps": 100, "true_return": 1.0}, {"steps": 300, "true_return": 2.0}])
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.csv", "curves.png"]


def test_true_reward_ppo_runs_beside_the_preference_cell_of_its_seed():
    """The wall-time ratio compares runs that shared the machine alike: with two workers each
    seed's PPO and pbrl cells form a round; the rest run beside each other; light cells first."""
    from pbrl.bench import rounds

    grid = [Cell("pbrl/Hopper-v5", m, labels, seed, 1000) for seed in (0, 1)
            for m, labels in (("random", 0), ("ppo", 0), ("pbrl", 700), ("imitation", 700))]
    named = [[f"{c.method}{c.seed}" for c in r] for r in rounds(grid, 2)]
    assert named == [["random0", "random1"], ["ppo0", "pbrl0"], ["ppo1", "pbrl1"], ["imitation0", "imitation1"]]
    assert [[f"{c.method}{c.seed}" for c in r] for r in rounds(grid[2:4], 1)] == [["pbrl0"], ["imitation0"]]
    text = [Cell("text/sentiment", m, 100, 0, 10) for m in ("dpo", "ppo", "pbrl")]  # dpo reads pbrl's labels
    assert [[c.method for c in r] for r in rounds(text, 3)] == [["ppo", "pbrl"], ["dpo"]]
    assert [[c.method for c in r] for r in rounds(text[::2], 2)] == [["pbrl"], ["dpo"]]  # never beside what it reads
    resumed = [Cell("pbrl/Hopper-v5", m, 700, 0, 1000) for m in ("imitation", "pbrl")] + [grid[1]]
    assert [[c.method for c in r] for r in rounds(resumed, 2)] == [["ppo", "pbrl"], ["imitation"]]
    assert [len(r) for r in rounds([grid[0], grid[4], grid[0]], 2)] == [2, 1]  # light cells: rounds of `workers`


def test_every_seed_line_carries_scores_wall_time_ratios_and_the_last_refits_diagnostics():
    from pbrl.bench_report import per_seed

    rows = [_row("pbrl/Walker2d-v5", "pbrl", 700, 0, 2669.7, 150.0, fresh_accuracy=0.956, fresh_corr=0.82),
            _row("pbrl/Walker2d-v5", "pbrl", 700, 1, 37.8, 120.0, fresh_accuracy=float("nan"), fresh_corr=0.91),
            _row("pbrl/Walker2d-v5", "ppo", 0, 0, 455.4, 100.0), _row("pbrl/Walker2d-v5", "random", 0, 0, 5.4, 1.0)]
    line = per_seed(rows)
    # seed 1 has no true-reward PPO to measure it by
    assert "pbrl 700 labels (0/1): 2669.7, 37.8 (normalised: 5.92, -; wall time over PPO's: 1.50x, -) " \
           "(last refit on the final policy's unqueried clips, accuracy/correlation: 0.96/0.82, -/0.91)" in line
    assert "true-reward PPO (0): 455.4;" in line  # the yardsticks are not measured by themselves
    assert "random policy (0): 5.4;" in line


def test_targets_are_checked_against_the_cells_and_say_by_how_much_they_are_missed():
    from pbrl.bench_report import targets_table

    rows = [_row("pbrl/Hopper-v5", "ppo", 0, s, 1000.0, 100.0) for s in (0, 1)]
    rows += [_row("pbrl/Hopper-v5", "random", 0, s, 0.0, 1.0) for s in (0, 1)]
    rows += [_row("pbrl/Hopper-v5", "pbrl", 700, 0, 950.0, 120.0), _row("pbrl/Hopper-v5", "pbrl", 700, 1, 600.0, 110.0)]
    rows += [_row("pbrl/Hopper-v5", "pbrl", 700, 1, 990.0, 110.0, options=[["reward.crop", 0.1]])]  # not the defaults
    rows += [_row("pbrl/Hopper-v5", "imitation", 700, s, 800.0, 300.0) for s in (0, 1)]
    targets = [
        {"name": "score", "folder": "mujoco", "kind": "score", "labels": 700, "seeds": [0, 1], "mean": 0.9,
         "worst": 0.7, "tasks": ["Hopper-v5", "Ant-v5"]},
        {"name": "more seeds", "folder": "mujoco", "kind": "score", "labels": 700, "seeds": [0, 1, 2], "mean": 0.5,
         "tasks": ["Hopper-v5"]},
        {"name": "vs imitation", "folder": "mujoco", "kind": "imitation", "labels": 700, "tasks": ["Hopper-v5"]},
        {"name": "overhead", "folder": "mujoco", "kind": "overhead", "labels": 700, "ratio": 1.15,
         "tasks": ["Hopper-v5"]},
    ]
    table = targets_table(targets, {"mujoco": rows})
    assert "| score | Hopper-v5 | **missed** (mean 0.77 < 0.9; worst seed 0.60 < 0.7) |" in table
    assert "| score | Ant-v5 | not measured: seeds 0, 1 missing |" in table
    assert "| more seeds | Hopper-v5 | not measured: seed 2 missing |" in table
    assert "| vs imitation | Hopper-v5 | **missed** (pbrl 775.0 vs imitation 800.0 on seeds 0, 1) |" in table
    assert "| overhead | Hopper-v5 | met (median 1.15 over 2 seeds) |" in table
    # a failed seed is a miss, never a missing measurement; imitation's failures are named
    rows[4] = _row("pbrl/Hopper-v5", "pbrl", 700, 0, float("nan"), 1.0, error="boom")
    rows[-1] = _row("pbrl/Hopper-v5", "imitation", 700, 1, float("nan"), 1.0, error="imitation: no trajectory")
    table = targets_table(targets, {"mujoco": rows})
    assert "| score | Hopper-v5 | **missed** (pbrl failed on seed 0) |" in table
    flat = [r for r in rows if not (r["method"] == "ppo" and r["seed"] == 1)] + [
        _row("pbrl/Hopper-v5", "ppo", 0, 1, -5.0, 100.0)]  # seed 1's PPO did worse than random: no scale
    assert "**missed** (pbrl failed on seed 0)" in targets_table(targets[:1], {"mujoco": flat})
    assert "| vs imitation | Hopper-v5 | **missed** (pbrl failed on seed 0) |" in table
    rows[4] = _row("pbrl/Hopper-v5", "pbrl", 700, 0, 950.0, 120.0)
    table = targets_table(targets[:1] + targets[2:3], {"mujoco": rows})
    assert "| vs imitation | Hopper-v5 | met (pbrl 950.0 vs imitation 800.0 on seed 0; imitation failed on seed 1) |" \
        in table
    for bad, message in [({"name": "x", "kind": "Score"}, "'kind' must be one of score, imitation, overhead"),
                         ({**targets[0], "mean": None, "worst": None} | {"kind": "overhead"}, "missing ratio"),
                         ({k: v for k, v in targets[0].items() if k not in ("mean", "worst")}, "'mean' and/or 'worst'"),
                         ({**targets[0], "folder": "mujocco"}, "no folder 'mujocco'")]:
        with pytest.raises(ValueError, match=message):
            targets_table([bad], {"mujoco": rows})


def test_a_seed_whose_ppo_lost_to_the_random_policy_has_no_score_and_the_others_still_count():
    from pbrl.bench_report import targets_table

    rows = [_row("pbrl/IP-v5", "random", 0, s, -990.0, 1.0) for s in (0, 1)]
    rows += [_row("pbrl/IP-v5", "ppo", 0, 0, 1000.0, 100.0), _row("pbrl/IP-v5", "ppo", 0, 1, -996.0, 100.0)]
    target = {"name": "t", "folder": "m", "kind": "score", "labels": 700, "seeds": [0, 1], "mean": 0.9,
              "tasks": ["IP-v5"]}
    low = rows + [_row("pbrl/IP-v5", "pbrl", 700, s, -996.0, 100.0) for s in (0, 1)]
    assert ("| t | IP-v5 | **missed** (mean -0.00 < 0.9; on seed 0; true-reward PPO did not beat the random policy "
            "on seed 1) |") in targets_table([target], {"m": low})
    high = rows + [_row("pbrl/IP-v5", "pbrl", 700, s, 1000.0, 100.0) for s in (0, 1)]
    assert ("| t | IP-v5 | not measured: true-reward PPO did not beat the random policy on seed 1 (met on seed 0) |"
            in targets_table([target], {"m": high}))


def test_a_stopped_true_reward_cell_goes_on_from_its_checkpoint(tmp_path, monkeypatch, capsys):
    from pbrl import baseline
    from pbrl.baseline import BaselineConfig, run_baseline

    config = BaselineConfig("pbrl/CartPole-v1", "ppo", 1024, 0, 2)  # 8 envs x 32 steps: 4 rollouts
    saves = []
    original = baseline._Checkpoints.save

    def save_then_stop(self):
        original(self)
        saves.append(self.model.num_timesteps)
        if len(saves) == 2:
            raise KeyboardInterrupt  # as the end of a session stops a cell

    monkeypatch.setattr(baseline._Checkpoints, "save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        run_baseline(config, directory=tmp_path, checkpoint_seconds=0)
    capsys.readouterr()  # the first part's status lines
    state = json.loads((tmp_path / "baseline.json").read_text())
    assert saves == [256, 512] and state["steps"] == 512 and state["seconds"] > 0
    monkeypatch.setattr(baseline._Checkpoints, "save", original)
    saved = torch.load(tmp_path / "optimizer.pt", weights_only=True)
    assert list(saved["optimizers"]) == ["policy.optimizer"] and saved["optimizers"]["policy.optimizer"]["state"]
    torch.save(saved["optimizers"]["policy.optimizer"], tmp_path / "optimizer.pt")  # as the first baselines kept it
    result = run_baseline(config, directory=tmp_path, checkpoint_seconds=0)
    out = capsys.readouterr().out
    assert "resuming at step 512 of 1,024" in out
    # its status lines go on at the next tenth (not one per step up to where it stopped)
    printed = [int(line.split()[1].split("/")[0].replace(",", "")) for line in out.splitlines() if "steps/s" in line]
    assert printed and printed[0] > 512 and len(printed) == len(set(printed)) <= 5
    assert result["resumes"] == 1 and result["steps"] == 1024 and result["train_seconds"] > state["seconds"]
    assert result["seconds_before"] == state["seconds"]  # what a bench cell adds to its wall time
    assert json.loads((tmp_path / "baseline.json").read_text())["steps"] == 1024
    with pytest.raises(ValueError, match="holds a baseline of other settings"):
        run_baseline(BaselineConfig("pbrl/CartPole-v1", "ppo", 2048, 0, 2), directory=tmp_path)


def test_a_preference_cell_resumes_its_run_and_a_finished_one_is_not_run_again(tmp_path):
    from dataclasses import replace

    from pbrl.bench import _resumable
    from pbrl.trainer import TrainConfig

    cell = Cell("pbrl/CartPole-v1", "pbrl", 10, 0, 2000)
    row = run_cell(cell, str(tmp_path))
    run_path = tmp_path / "runs" / cell.name
    config = TrainConfig(env_id=cell.task, labels=10, steps=2000, seed=0, video=False)
    assert _resumable(run_path, config) == "finished"
    again = run_cell(cell, str(tmp_path))  # the run's summary is its result: nothing trains again
    assert again["true_return_mean"] == row["true_return_mean"] and again["train_seconds"] == row["train_seconds"]
    # its wall time is the run's, not the moment it took to read its summary
    assert again["wall_seconds"] >= row["train_seconds"] and row["resumes"] == 0 and row["seconds_before"] == 0
    assert again["seconds_before"] == 0 and not any(k.startswith("_") for k in again)  # the summary's own fields
    assert _resumable(run_path, replace(config, labels=12)) is None  # another grid's run is set aside, not resumed
    (run_path / "summary.json").unlink()
    assert _resumable(run_path, config) == "resume"
    assert json.loads((run_path / "progress.json").read_text())["seconds"] > 0
