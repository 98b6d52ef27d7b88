"""`pbrl compare`: a one-task bench; its cells are bench cells, resumable, and every option
of `pbrl train` is part of a cell's identity."""

import json
from pathlib import Path

import pytest

from pbrl.bench import (
    SUITES,
    Cell,
    cells,
    compare_cells,
    options_digest,
    train_overrides,
    with_overrides,
)
from pbrl.bench_report import normalised_score
from pbrl.cli import main
from pbrl.reward_model import RewardModelConfig
from pbrl.trainer import TrainConfig

ROOT = Path(__file__).resolve().parents[2]


def test_normalised_score():
    assert normalised_score(-200.0, zero=-1200.0, ceiling=-150.0) == pytest.approx(1000 / 1050)
    assert normalised_score(50.0, zero=20.0, ceiling=500.0) == pytest.approx(30 / 480)


def test_options_are_the_cells_identity_and_reach_the_config():
    base = TrainConfig(env_id="pbrl/Pendulum-v1", labels=200, steps=10_000)
    other = TrainConfig(env_id="pbrl/Pendulum-v1", labels=200, steps=10_000, teacher="boltzmann",
                        teacher_params={"beta": 0.5}, algo="a2c", reward=RewardModelConfig(n_members=2))
    assert train_overrides(base) == () and train_overrides(TrainConfig(env_id="pbrl/Pendulum-v1", video=False)) == ()
    options = train_overrides(other)
    assert options == (("algo", "a2c"), ("reward.n_members", 2), ("teacher", "boltzmann"),
                       ("teacher_params", (("beta", 0.5),)))
    assert with_overrides(base, options) == other  # every option reaches the pbrl cell's TrainConfig
    plain, changed = compare_cells(base, (0,)), compare_cells(other, (0,))
    assert [c.name for c in plain] == ["Pendulum-v1__random__0__s0", "Pendulum-v1__ppo__0__s0",
                                       "Pendulum-v1__pbrl__200__s0"]
    assert changed[0] == plain[0]  # the random policy is the same with any of these options
    assert changed[1].options == (("algo", "a2c"),) and changed[1].name != plain[1].name  # the ceiling is A2C's
    assert changed[2].name == f"Pendulum-v1__pbrl__200__s0__o{options_digest(options)}"
    # the digest of options read back from a cell file (JSON lists) is the same
    assert options_digest(tuple(tuple(o) for o in json.loads(json.dumps(options)))) == options_digest(options)


def test_committed_cell_names_are_unchanged():
    for suite in ("classic", "mujoco", "teachers", "queries", "text"):
        files = {p.stem for p in (ROOT / "benchmarks" / suite / "cells").glob("*.json")}
        budgets = tuple(sorted({int(name.split("__")[2]) for name in files} - {0} | set(SUITES[suite].labels)))
        grid = cells(SUITES[suite], tuple(range(10)), labels=budgets, imitation=True, methods=SUITES[suite].methods())
        assert files and files <= {c.name for c in grid}, suite
    assert Cell("pbrl/CartPole-v1", "pbrl", 100, 0, 50_000).name == "CartPole-v1__pbrl__100__s0"


def _compare(out: Path, *extra: str) -> None:
    args = ["compare", "pbrl/CartPole-v1", "--labels", "6", "--steps", "5000", "--seeds", "0", "--no-video",
            "--out", str(out), *extra]
    assert main(args) == 0


def test_compare_writes_bench_cells_and_report_resumes_and_never_reuses_other_options(tmp_path, capsys):
    _compare(tmp_path)
    files = sorted(p.name for p in (tmp_path / "cells").glob("*.json"))
    assert files == ["CartPole-v1__pbrl__6__s0.json", "CartPole-v1__ppo__0__s0.json", "CartPole-v1__random__0__s0.json"]
    rows = {f: json.loads((tmp_path / "cells" / f).read_text()) for f in files}
    assert rows["CartPole-v1__pbrl__6__s0.json"]["curve"] and rows["CartPole-v1__ppo__0__s0.json"]["curve"]
    summary = (tmp_path / "summary.md").read_text()
    pbrl, ppo, zero = (rows[f"CartPole-v1__{m}.json"]["true_return_mean"]
                       for m in ("pbrl__6__s0", "ppo__0__s0", "random__0__s0"))
    assert ppo > zero  # 5000 steps: PPO beats the random policy, so the score is defined
    score = f"{normalised_score(pbrl, zero, ppo):.2f}"
    assert f"| CartPole-v1 | pbrl 6 labels | 1 | {pbrl:.1f} +- 0.0 | {score} ({score}) |" in summary
    assert (tmp_path / "CartPole-v1.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "curves.csv").exists()
    stamps = {f: (tmp_path / "cells" / f).stat().st_mtime_ns for f in files}
    capsys.readouterr()

    _compare(tmp_path)  # a rerun skips every finished cell
    assert "3 cells, 3 already done, 0 to run" in capsys.readouterr().out
    assert {f: (tmp_path / "cells" / f).stat().st_mtime_ns for f in files} == stamps

    _compare(tmp_path, "--members", "2")  # another option: its own pbrl cell; the yardsticks are shared
    assert "3 cells, 2 already done, 1 to run" in capsys.readouterr().out
    (new,) = {p.name for p in (tmp_path / "cells").glob("*.json")} - set(files)
    assert new.startswith("CartPole-v1__pbrl__6__s0__o")
    row = json.loads((tmp_path / "cells" / new).read_text())
    assert [list(o) for o in row["options"]] == [["reward.n_members", 2]]
    config = json.loads((tmp_path / "runs" / new.removesuffix(".json") / "config.json").read_text())
    assert config["reward"]["n_members"] == 2  # the option reached the trainer
    assert "reward.n_members=2" in (tmp_path / "summary.md").read_text()  # the report of this grid says which
    # two option sets in one directory: an ablation table of both, generated from the cells
    ablation = (tmp_path / "ablation.md").read_text()
    second = json.loads((tmp_path / "cells" / new).read_text())["true_return_mean"]
    assert f"| CartPole-v1 | 6 | defaults | 1 | {pbrl:.1f} |" in ablation
    assert f"| CartPole-v1 | 6 | reward.n_members=2 | 1 | {second:.1f} |" in ablation
    assert ablation.count(" | no |") == 1 and ablation.count(" | - |") == 1  # 2 members is no default; 3 are
