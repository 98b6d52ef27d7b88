"""The ``pbrl`` console command."""

import os
import subprocess
import sys

import pytest

from pbrl.baseline import BaselineConfig, run_baseline
from pbrl.cli import main
from pbrl.envs import ENV_IDS

PBRL = os.path.join(os.path.dirname(sys.executable), "pbrl")


def run_cli(*args, timeout=300):
    return subprocess.run([PBRL, *args], capture_output=True, text=True, timeout=timeout)


def test_help_lists_the_subcommands():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("envs", "baseline"):
        assert command in result.stdout


def test_envs_lists_every_id_with_family_and_spaces(require):
    for env_id in ENV_IDS:
        require(env_id)
    result = run_cli("envs")
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("pbrl/")]
    assert [row.split()[0] for row in rows] == list(ENV_IDS)
    by_id = {row.split()[0]: row for row in rows}
    assert by_id["pbrl/CartPole-v1"].split()[1:3] == ["classic", "yes"]
    assert "Discrete(2)" in by_id["pbrl/CartPole-v1"]
    assert "Box(-1, 1, (6,), float32)" in by_id["pbrl/HalfCheetah-v5"]
    assert "Box(0, 255, (4, 84, 84), uint8)" in by_id["pbrl/Pong-v5"]
    assert by_id["pbrl/ResponseGame-v0"].split()[1:3] == ["text", "yes"]
    assert "Box(0, 99, (48,), int64)" in by_id["pbrl/ResponseGame-v0"] and "MultiDiscrete(24 x 100)" in by_id["pbrl/ResponseGame-v0"]


def test_envs_speed_measures_each_id(capsys):
    assert main(["envs", "--speed", "--family", "classic", "--seconds", "0.05"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| pbrl/")]
    assert len(rows) == 5
    assert all(float(row.split("|")[3].replace(",", "")) > 0 for row in rows)


def test_baseline_prints_the_true_return(capsys):
    assert main(["baseline", "pbrl/CartPole-v1", "--steps", "2e3", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "true return of the final policy:" in out
    assert "2,000/2,000 steps" in out


def test_seeded_baseline_is_reproducible():
    config = BaselineConfig(env_id="pbrl/Pendulum-v1", steps=1024, seed=7, eval_episodes=2)
    first, second = run_baseline(config), run_baseline(config)
    assert first["true_return_mean"] == second["true_return_mean"]


def test_bad_arguments_exit_with_a_clear_message():
    result = run_cli("baseline", "pbrl/Nope-v0", "--steps", "10")
    assert result.returncode == 2
    assert "unknown pbrl environment id 'pbrl/Nope-v0'" in result.stderr
    with pytest.raises(ValueError, match="steps must be >= 1"):
        BaselineConfig(steps=0)


def test_python_dash_m_works():
    result = subprocess.run([sys.executable, "-m", "pbrl", "envs", "--family", "classic"], capture_output=True, text=True)
    assert result.returncode == 0 and "pbrl/Pendulum-v1" in result.stdout
