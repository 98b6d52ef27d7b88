"""Preference-learning semantics: hidden reward, true return in episode statistics, the
reward-model hook, and the paper's environment changes."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.monitor import Monitor


def run_episode(env, seed=0, policy=None, max_steps=100_000):
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    steps, rewards, true, infos = 0, [], [], []
    while steps < max_steps:
        action = policy(obs) if policy else env.action_space.sample()
        obs, reward, terminated, truncated, info = env.step(action)
        steps += 1
        rewards.append(reward)
        true.append(info["true_reward"])
        infos.append(info)
        if terminated or truncated:
            return steps, rewards, true, infos, terminated, truncated
    raise AssertionError("episode did not end")


def test_agent_sees_zero_reward_and_info_has_the_true_reward():
    env = gym.make("pbrl/Pendulum-v1")
    steps, rewards, true, *_ = run_episode(env)
    assert steps == 200
    assert set(rewards) == {0.0}
    assert all(t < 0 for t in true)  # Pendulum's true reward is a negative cost


def test_reveal_true_reward_gives_the_agent_the_true_reward():
    env = gym.make("pbrl/Pendulum-v1", reveal_true_reward=True)
    _, rewards, true, *_ = run_episode(env)
    assert rewards == true


def test_sb3_monitor_and_ep_rew_mean_report_the_true_return():
    env = Monitor(gym.make("pbrl/CartPole-v1"))
    steps, rewards, true, infos, *_ = run_episode(env)
    episode = infos[-1]["episode"]
    assert episode["r"] == sum(true) == steps  # CartPole: +1 per step
    assert episode["agent_r"] == 0.0
    assert episode["l"] == steps

    torch.set_num_threads(1)
    venv = make_vec_env("pbrl/CartPole-v1", n_envs=2, seed=0)
    model = PPO("MlpPolicy", venv, n_steps=128, seed=0, device="cpu").learn(512)
    episodes = list(model.ep_info_buffer)
    assert episodes, "no finished episode was logged"
    # CartPole's true return equals the episode length; the hidden reward would log 0.
    assert all(ep["r"] == ep["l"] > 0 and ep["agent_r"] == 0.0 for ep in episodes)


def test_gymnasium_record_episode_statistics_reports_the_true_return():
    env = gym.wrappers.RecordEpisodeStatistics(gym.make("pbrl/MountainCar-v0"))
    steps, _, true, infos, *_ = run_episode(env)
    assert infos[-1]["episode"]["r"] == pytest.approx(sum(true)) == -200.0


def test_reward_model_hook_with_a_callable_gets_batched_obs_and_actions():
    calls = []

    def reward_fn(obs, actions):
        calls.append((obs.shape, actions.shape))
        return obs[:, 0] * 10.0  # "reward" = 10 x cart position

    env = gym.make("pbrl/CartPole-v1", reward_model=reward_fn)
    obs, _ = env.reset(seed=0)
    _, reward, *_ , info = env.step(1)
    assert reward == pytest.approx(10.0 * obs[0])  # evaluated on the obs the action was taken in
    assert info["true_reward"] == 1.0
    assert calls == [((1, 4), (1,))]


def test_reward_model_hook_with_an_object_having_predict_reward():
    class Model:
        def predict_reward(self, obs, actions):
            return np.asarray(actions, dtype=np.float64).sum(axis=-1) + 0.5

    env = gym.make("pbrl/MountainCarContinuous-v0", reward_model=Model())
    env.reset(seed=0)
    _, reward, *_ = env.step(np.array([0.25], dtype=np.float32))
    assert reward == pytest.approx(0.75)


def test_hidden_reward_docstring_example():
    import doctest

    import pbrl.envs.hidden_reward as module

    result = doctest.testmod(module)
    assert result.attempted >= 1 and result.failed == 0


# --- MuJoCo: torque penalty removed, fixed-length episodes --------------------------------


def test_halfcheetah_true_reward_has_no_control_cost(require):
    require("pbrl/HalfCheetah-v5")
    env = gym.make("pbrl/HalfCheetah-v5")
    _, _, true, infos, *_ = run_episode(env, max_steps=1000)
    assert all(i["reward_ctrl"] == 0.0 for i in infos)
    np.testing.assert_allclose(true, [i["reward_forward"] for i in infos])

    env = gym.make("pbrl/HalfCheetah-v5", remove_ctrl_cost=False)
    _, _, true, infos, *_ = run_episode(env, max_steps=1000)
    assert any(i["reward_ctrl"] < 0 for i in infos)


@pytest.mark.parametrize("env_id", ["pbrl/Hopper-v5", "pbrl/InvertedPendulum-v5"])
def test_early_termination_becomes_a_penalty_and_episodes_have_fixed_length(env_id, require):
    require(env_id)
    env = gym.make(env_id)
    steps, _, true, infos, terminated, truncated = run_episode(env)
    assert (steps, terminated, truncated) == (1000, False, True)
    fallen = [i for i, info in enumerate(infos) if info["would_terminate"]]
    assert fallen, "a random policy should fall"
    for i in fallen:  # the penalty (1) replaces the healthy reward, which a fallen body loses
        base = infos[i]["reward_forward"] + infos[i]["reward_survive"] if "reward_forward" in infos[i] else 0.0
        assert true[i] == pytest.approx(base - 1.0)
        assert infos[i].get("reward_survive", 0.0) == 0.0

    env = gym.make(env_id, fixed_length=False)
    steps, _, _, _, terminated, _ = run_episode(env)
    assert terminated and steps < 1000

    env = gym.make(env_id, termination_penalty=5.0)
    _, _, true5, infos5, *_ = run_episode(env)
    i = next(i for i, info in enumerate(infos5) if info["would_terminate"])
    base = infos5[i]["reward_forward"] + infos5[i]["reward_survive"] if "reward_forward" in infos5[i] else 0.0
    assert true5[i] == pytest.approx(base - 5.0)


# --- Atari: no life loss or game-over signal, score blanked -------------------------------


def test_atari_life_loss_is_silent_and_game_over_is_a_truncation(require):
    require("pbrl/Breakout-v5")
    env = gym.make("pbrl/Breakout-v5")
    steps, _, _, infos, terminated, truncated = run_episode(env, seed=1)
    lives = [i["lives"] for i in infos]
    assert lives[0] > lives[-1] == 0, "the random policy should lose every life"
    assert not terminated and truncated and infos[-1]["game_over"]
    assert not any(i["game_over"] for i in infos[:-1])


def test_atari_observations_are_preprocessed_and_the_score_is_blanked(require):
    require("pbrl/Pong-v5")
    env = gym.make("pbrl/Pong-v5", render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    env.action_space.seed(0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    for _ in range(50):
        obs, *_ = env.step(env.action_space.sample())
    top = int(np.ceil(24 * 84 / 210))  # Pong's score area, rows 0:24 of 210, in 84 rows
    assert obs[:, :top].max() == 0
    assert obs[:, top:].std() > 0
    frame = env.render()  # people see the whole screen, score included
    assert frame.shape == (210, 160, 3) and frame[:24].std() > 0

    raw = gym.make("pbrl/Pong-v5", preprocess=False)
    obs, _ = raw.reset(seed=0)
    assert obs.shape == (210, 160, 3) and obs[:24].max() == 0 and obs[24:].std() > 0

    shown = gym.make("pbrl/Pong-v5", preprocess=False, blank_score=False)
    obs, _ = shown.reset(seed=0)
    assert obs[:24].std() > 0


def test_the_response_game_serves_each_prompt_group_size_times():
    import gymnasium as gym

    env = gym.make("pbrl/ResponseGame-v0", task="arithmetic", group_size=3)
    prompts = []
    env.reset(seed=0)
    for _ in range(9):
        _, _, _, _, info = env.step(env.action_space.sample())
        prompts.append(info["prompt"])
        env.reset()
    groups = [prompts[i:i + 3] for i in range(0, 9, 3)]
    assert all(len(set(g)) == 1 for g in groups) and len({g[0] for g in groups}) >= 2
    with pytest.raises(ValueError, match="group_size must be an integer >= 1"):
        gym.make("pbrl/ResponseGame-v0", task="arithmetic", group_size=0)
