"""A run releases what it holds on every path, and VecNormalize's whole state survives a checkpoint."""

import fcntl
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from pbrl import rl
from pbrl.hyperparams import defaults
from pbrl.trainer import TrainConfig, train


def _open_files_under(folder: Path) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            found.append(target)
    return found


def _assert_released(run: Path) -> None:
    assert _open_files_under(run) == []  # labels.sqlite, trainer.lock, the logs: all closed
    with open(run / "trainer.lock", "w") as handle:  # the lock is free for the next trainer
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert not [t for t in threading.enumerate() if t.name.startswith("pbrl-reward-fit")]


def test_a_run_that_raises_after_it_is_built_leaves_nothing_open(tmp_path):
    def fail(path):
        raise RuntimeError("the caller's own error")

    config = TrainConfig(env_id="pbrl/CartPole-v1", labels=8, steps=2000, video=False, fit_lag=64)
    with pytest.raises(RuntimeError, match="the caller's own error"):
        train(config, tmp_path / "run", on_ready=fail)
    _assert_released(tmp_path / "run")


def test_a_run_whose_teacher_skips_everything_fails_clearly_and_leaves_nothing_open(tmp_path):
    # B-Pref's skip teacher on Pendulum's negative returns skips every query
    config = TrainConfig(env_id="pbrl/Pendulum-v1", labels=8, steps=2000, video=False, teacher="skip",
                         teacher_params={"eps_skip": 0.01})
    with pytest.raises(RuntimeError, match="produced no usable label"):
        train(config, tmp_path / "run")
    _assert_released(tmp_path / "run")
    assert (tmp_path / "run" / "labels.sqlite").exists()  # the queries asked are kept


def test_vecnormalize_state_survives_a_checkpoint_whole(tmp_path, require):
    env_id = "pbrl/HalfCheetah-v5"  # the Zoo normalises MuJoCo's observations and rewards
    require(env_id)
    _, kwargs = defaults("ppo", env_id)

    def stepped(seed):
        venv = rl.wrap_normalize(rl.make_env(env_id, seed, 2), env_id, kwargs)
        venv.reset()
        for _ in range(50):
            venv.step(np.stack([venv.action_space.sample() for _ in range(2)]))
        return venv

    venv = stepped(0)
    agent = rl.make_algo("ppo", venv, env_id, 0)
    rl.save_policy(agent, venv, tmp_path, "ppo", env_id)
    fresh = rl.wrap_normalize(rl.make_env(env_id, 1, 2), env_id, kwargs)
    rl.restore_policy(rl.make_algo("ppo", fresh, env_id, 0), fresh, tmp_path)
    assert fresh.ret_rms.count == venv.ret_rms.count > 1  # return statistics too: reward scaling goes on
    np.testing.assert_allclose(fresh.ret_rms.var, venv.ret_rms.var)
    np.testing.assert_allclose(fresh.obs_rms.mean, venv.obs_rms.mean)
    with np.load(tmp_path / rl.NORM_FILE) as stats:
        assert not any(stats[k].dtype == object for k in stats.files)  # numbers only, read without pickle


def test_mountain_car_continuous_explores_with_the_zoos_gsde_and_small_initial_std():
    """With SB3's defaults PPO never reaches the flag (it learns to stand still); the Zoo's
    settings carry policy settings of their own, merged under the family's."""
    env_id = "pbrl/MountainCarContinuous-v0"
    n_envs, kwargs = defaults("ppo", env_id)
    venv = rl.make_env(env_id, 0, n_envs)
    agent = rl.make_algo("ppo", venv, env_id, 0)
    assert n_envs == 1 and agent.use_sde and agent.gamma == 0.9999
    assert agent.policy.log_std.detach().numpy() == pytest.approx(-3.29)
    assert "policy_kwargs" in defaults("ppo", env_id)[1]  # make_algo took a copy, the table is untouched
    venv.close()


def test_atari_agents_take_the_zoos_atari_settings_and_the_cnn_family_runs_on_cuda_when_present(require):
    from pbrl.family import family_for

    env_id = "pbrl/Pong-v5"
    require(env_id)
    family = family_for(env_id)
    n_envs, _ = family.hyperparameters("ppo", env_id)
    venv = rl.make_env(env_id, 0, n_envs)
    agent = rl.make_algo("ppo", venv, env_id, 0)
    assert (n_envs, agent.n_steps, agent.batch_size, agent.n_epochs, agent.ent_coef) == (8, 128, 256, 4, 0.01)
    assert agent.learning_rate(1.0) == pytest.approx(2.5e-4) and agent.clip_range(0.5) == pytest.approx(0.05)
    assert family.hyperparameters("a2c", env_id)[0] == 16
    assert family.device == "auto" and family_for("pbrl/CartPole-v1").device == "cpu"
    assert agent.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    venv.close()


def test_a_resumed_off_policy_agent_takes_no_update_until_its_replay_buffer_refills(tmp_path):
    venv = rl.make_env("pbrl/Pendulum-v1", 0, 1)
    agent = rl.make_algo("sac", venv, "pbrl/Pendulum-v1", 0)
    agent.learn(150)  # past learning_starts (100): updates, a learned entropy weight, Adam's moments
    rl.save_optimizers(agent, tmp_path)
    again = rl.make_algo("sac", venv, "pbrl/Pendulum-v1", 0)
    assert rl.restore_optimizers(again, tmp_path)
    assert float(again.log_ent_coef) == pytest.approx(float(agent.log_ent_coef))
    again.num_timesteps = 150  # its count goes on; its replay buffer (not kept) starts empty
    rl.hold_updates_until_refilled(again)
    again.learn(60, reset_num_timesteps=False)
    assert again._n_updates == 0  # without the hold: ~60 updates on a handful of transitions
    again.learn(60, reset_num_timesteps=False)
    assert again._n_updates > 0
    venv.close()


def test_a_resumed_agent_goes_on_from_its_last_episodes(tmp_path):
    """The mean of the last 100 episodes (curves, status lines) does not start again from a few."""
    env_id = "pbrl/CartPole-v1"
    venv = rl.make_env(env_id, 0, 2)
    agent = rl.make_algo("ppo", venv, env_id, 0)
    agent.learn(600)
    rl.checkpoint_agent(agent, venv, tmp_path, "ppo", env_id)
    saved = [ep["r"] for ep in agent.ep_info_buffer]
    again = rl.make_algo("ppo", venv, env_id, 0)
    rl.resume_agent(again, venv, tmp_path)
    again.num_timesteps = agent.num_timesteps
    again.learn(200, reset_num_timesteps=False)  # SB3 keeps them and adds the new ones
    returns = [ep["r"] for ep in again.ep_info_buffer]
    assert 0 < len(saved) < len(returns) <= 100 and returns[: len(saved)] == saved
    (tmp_path / rl.EPISODES_FILE).write_text('{"episodes": [{"r": "many"}]}')
    with pytest.raises(ValueError, match="episodes.json is corrupt"):
        rl.resume_agent(rl.make_algo("ppo", venv, env_id, 0), venv, tmp_path)
    venv.close()
