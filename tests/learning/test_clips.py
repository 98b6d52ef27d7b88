"""ClipRecorder cuts rollouts of any pbrl VecEnv into clips."""

import numpy as np
import pytest
from stable_baselines3.common.env_util import make_vec_env

from pbrl.clips import ClipRecorder, default_clip_length


def run(recorder, steps, seed=0):
    recorder.seed(seed)
    recorder.action_space.seed(seed)
    obs = recorder.reset()
    trace = []
    for _ in range(steps):
        actions = np.array([recorder.action_space.sample() for _ in range(recorder.num_envs)])
        new_obs, _, dones, infos = recorder.step(actions)
        trace.append((obs, actions, infos, dones))
        obs = new_obs
    return trace


def test_clips_hold_the_observations_actions_and_true_rewards_of_the_rollout():
    venv = make_vec_env("pbrl/Pendulum-v1", n_envs=2, seed=0)
    rec = ClipRecorder(venv, "pbrl/Pendulum-v1", clip_length=30)
    trace = run(rec, 200)
    # Pendulum episodes have 200 steps: 6 full clips per env; the last 20 steps are cut by truncation
    assert rec.clips_made == 12
    clips = [c for c in rec.pool if c.clip_id in {"0", "1"}]
    first = clips[0]
    env = int(np.argmax([np.allclose(trace[0][0][i], first.obs[0]) for i in range(2)]))
    np.testing.assert_allclose(first.obs, np.stack([t[0][env] for t in trace[:30]]))
    np.testing.assert_allclose(first.actions, np.stack([t[1][env] for t in trace[:30]]))
    np.testing.assert_allclose(first.true_rewards, [t[2][env]["true_reward"] for t in trace[:30]])
    assert all(c.length == 30 for c in rec.pool)


def test_a_clip_cut_by_termination_is_padded_and_one_cut_by_truncation_is_dropped():
    venv = make_vec_env("pbrl/CartPole-v1", n_envs=1, seed=0)
    rec = ClipRecorder(venv, "pbrl/CartPole-v1", clip_length=400)
    run(rec, 300)
    assert rec.clips_made > 0
    for clip in rec.pool:  # random CartPole episodes end by termination long before 400 steps
        assert clip.length < 400
        assert clip.true_rewards[: clip.length].tolist() == [1.0] * clip.length
        assert not clip.true_rewards[clip.length :].any() and not clip.obs[clip.length :].any()


def test_pool_is_bounded():
    venv = make_vec_env("pbrl/Pendulum-v1", n_envs=1, seed=0)
    rec = ClipRecorder(venv, "pbrl/Pendulum-v1", clip_length=10, pool_size=5)
    run(rec, 200)
    assert len(rec.pool) == 5 and rec.clips_made == 20
    assert [c.clip_id for c in rec.pool] == ["15", "16", "17", "18", "19"]


def test_default_clip_lengths():
    assert default_clip_length("pbrl/HalfCheetah-v5", dt=0.05) == 30  # 1.5 s
    assert default_clip_length("pbrl/Hopper-v5", dt=0.008) == 188
    assert default_clip_length("pbrl/Pong-v5") == 25
    assert default_clip_length("pbrl/CartPole-v1") == 25


def test_a_non_pbrl_env_is_refused():
    venv = make_vec_env("CartPole-v1", n_envs=1, seed=0)
    rec = ClipRecorder(venv, "pbrl/CartPole-v1", clip_length=5)
    rec.reset()
    with pytest.raises(KeyError, match="true_reward"):
        rec.step(np.array([0]))


def test_next_obs_is_the_observation_each_action_led_to():
    venv = make_vec_env("pbrl/CartPole-v1", n_envs=1, seed=0)
    rec = ClipRecorder(venv, "pbrl/CartPole-v1", clip_length=5)
    trace = run(rec, 200)
    for clip in rec.pool:
        real = clip.length
        np.testing.assert_array_equal(clip.next_obs[: real - 1], clip.obs[1:real])
    # a clip ended by termination keeps the terminal observation, not the next episode's first
    ended = next(c for c in rec.pool if c.length < 5)
    step = next(i for i, t in enumerate(trace) if t[3][0] and np.array_equal(t[0][0], ended.obs[ended.length - 1]))
    np.testing.assert_array_equal(ended.next_obs[ended.length - 1], trace[step][2][0]["terminal_observation"])
