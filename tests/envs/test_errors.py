"""Bad input gets a clear error that names the cause and the fix."""

import gymnasium as gym
import numpy as np
import pytest

from pbrl.envs import MissingDependencyError, entry_for, valid_keywords


@pytest.mark.parametrize(
    ("module", "env_id", "extra"),
    [("mujoco", "pbrl/HalfCheetah-v5", "mujoco"), ("ale_py", "pbrl/Pong-v5", "atari")],
)
def test_missing_optional_dependency_names_the_extra(module, env_id, extra, run_python):
    code = f"""
import sys
sys.modules[{module!r}] = None  # as if the package were not installed
import gymnasium as gym, pbrl
from pbrl.envs import MissingDependencyError
try:
    gym.make({env_id!r})
except MissingDependencyError as exc:
    print("MESSAGE", exc)
from pbrl.cli import main
main(["envs"])
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert f'pip install "pbrl[{extra}]"' in result.stdout.split("MESSAGE", 1)[1].splitlines()[0]
    listing = [line for line in result.stdout.splitlines() if line.startswith(env_id + " ")]
    assert listing and "no (" in listing[0] and f'pbrl[{extra}]' in listing[0]
    assert isinstance(MissingDependencyError("x"), ImportError)


def test_unknown_keyword_names_the_valid_ones():
    with pytest.raises(TypeError) as info:
        gym.make("pbrl/CartPole-v1", reward_modle="x")
    message = str(info.value)
    assert "'reward_modle'" in message
    assert "reward_model" in message and "reveal_true_reward" in message
    assert "sutton_barto_reward" in message  # the base env's own keyword


def test_valid_keywords_per_family(require):
    require("pbrl/HalfCheetah-v5")
    ours, base = valid_keywords("pbrl/HalfCheetah-v5")
    assert {"remove_ctrl_cost", "fixed_length", "termination_penalty", "fast_render"} <= set(ours)
    assert {"forward_reward_weight", "ctrl_cost_weight", "width", "height"} <= set(base)
    env = gym.make("pbrl/HalfCheetah-v5", forward_reward_weight=2.0, render_mode="rgb_array", width=64, height=48)
    env.reset(seed=0)
    assert env.render().shape == (48, 64, 3)


def test_atari_frameskip_conflicts_with_preprocessing(require):
    require("pbrl/Pong-v5")
    with pytest.raises(ValueError, match="frame_skip"):
        gym.make("pbrl/Pong-v5", frameskip=4)
    with pytest.raises(ValueError, match="frame_stack must be a positive integer"):
        gym.make("pbrl/Pong-v5", frame_stack=0)


def test_negative_termination_penalty(require):
    require("pbrl/Hopper-v5")
    with pytest.raises(ValueError, match="termination_penalty"):
        gym.make("pbrl/Hopper-v5", termination_penalty=-1)


def test_unknown_id_lists_the_registered_ones():
    with pytest.raises(KeyError, match="pbrl/CartPole-v1"):
        entry_for("pbrl/CartPole-v9")


def test_nan_reward_or_observation_is_reported():
    env = gym.make("pbrl/Pendulum-v1")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="non-finite (reward|observation)"):
        env.step(np.array([np.nan], dtype=np.float32))


def test_nan_learned_reward_is_reported():
    env = gym.make("pbrl/CartPole-v1", reward_model=lambda obs, act: np.array([np.nan]))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="the reward model returned nan for a finite observation and action"):
        env.step(0)


def test_reward_model_path_that_does_not_exist(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or directory"):
        gym.make("pbrl/CartPole-v1", reward_model=tmp_path / "missing-run")


def test_reward_model_of_the_wrong_type():
    with pytest.raises(TypeError, match="predict_reward"):
        gym.make("pbrl/CartPole-v1", reward_model=3)


def test_reward_model_and_reveal_true_reward_conflict():
    with pytest.raises(ValueError, match="pass one of them"):
        gym.make("pbrl/CartPole-v1", reward_model=lambda o, a: o[:, 0], reveal_true_reward=True)
