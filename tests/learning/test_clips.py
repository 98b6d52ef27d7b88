"""ClipRecorder cuts rollouts of any pbrl VecEnv into clips."""

import io

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


def test_an_atari_clip_holds_each_frame_once_and_the_store_keeps_it_so(tmp_path, require):
    from pbrl.store import PreferenceStore
    from pbrl.store_base import _pack

    require("pbrl/Pong-v5")
    venv = make_vec_env("pbrl/Pong-v5", n_envs=2, seed=0)
    rec = ClipRecorder(venv, "pbrl/Pong-v5", clip_length=10)
    trace = run(rec, 25)
    clip = rec.pool[0]
    env = int(np.argmax([np.array_equal(trace[0][0][i], clip.obs[0]) for i in range(2)]))
    np.testing.assert_array_equal(clip.obs, np.stack([t[0][env] for t in trace[:10]]))  # the stacks are as observed
    np.testing.assert_array_equal(clip.next_obs, np.stack([t[0][env] for t in trace[1:11]]))
    assert clip.obs.shape == (10, 4, 84, 84) and np.shares_memory(clip.obs, clip.next_obs)
    low, high = np.lib.array_utils.byte_bounds(clip.obs)
    assert high - low == 13 * 84 * 84  # 10 stacks of 4 frames: 13 distinct frames, not 40
    with pytest.raises(ValueError):
        clip.obs[0, 0, 0, 0] = 1  # a view into frames other steps share is read-only

    store = PreferenceStore(tmp_path / "labels.sqlite")
    store.add_clips([clip])
    back = store.clip(clip.clip_id)
    np.testing.assert_array_equal(back.obs, clip.obs)
    np.testing.assert_array_equal(back.next_obs, clip.next_obs)
    assert np.shares_memory(back.obs, back.next_obs)
    # a clip whose stacks do not follow each other (here: vector observations) is stored whole
    vector = ClipRecorder(make_vec_env("pbrl/CartPole-v1", n_envs=1, seed=0), "pbrl/CartPole-v1", clip_length=5)
    run(vector, 10)
    assert "obs" in np.load(io.BytesIO(_pack(vector.pool[0]))).files
