"""Every id passes gymnasium's checker, is reproducible and renders frames of the documented shape."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.utils.passive_env_checker import env_render_passive_checker

from pbrl.envs import entry_for

# Documented rgb_array frame shapes (README, "Environment suite").
FRAME_SHAPES = {
    "pbrl/CartPole-v1": (400, 600, 3),
    "pbrl/Acrobot-v1": (500, 500, 3),
    "pbrl/MountainCar-v0": (400, 600, 3),
    "pbrl/MountainCarContinuous-v0": (400, 600, 3),
    "pbrl/Pendulum-v1": (500, 500, 3),
    "mujoco": (480, 480, 3),
    "atari": (210, 160, 3),
    "text": (160, 480, 3),  # the prompt and response drawn as text
}


def frame_shape(env_id):
    return FRAME_SHAPES.get(env_id) or FRAME_SHAPES[entry_for(env_id).family]


# check_env is run on what gym.make returns (pbrl's wrappers included), not on env.unwrapped
# (the base env); gymnasium warns about that choice, which is deliberate here.
@pytest.mark.filterwarnings("ignore:.*is different from the unwrapped version")
def test_check_env(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    # check_env's render check also opens every other render mode; MuJoCo's "human" mode needs a
    # display (GLFW), so MuJoCo ids get the rgb_array render check alone.
    mujoco = entry_for(env_id).family == "mujoco"
    check_env(env, skip_render_check=mujoco)
    if mujoco:
        env.reset(seed=0)
        env_render_passive_checker(env)
    env.close()


def rollout(env_id, seed, steps=60, **kwargs):
    env = gym.make(env_id, **kwargs)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    observations, true_rewards = [obs], []
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert reward == 0.0
        observations.append(obs)
        true_rewards.append(info["true_reward"])
        if terminated or truncated:
            obs, _ = env.reset()
            observations.append(obs)
    env.close()
    return np.array(observations), np.array(true_rewards)


def test_same_seed_same_rollout_and_other_seed_differs(env_id):
    obs_a, rew_a = rollout(env_id, seed=3)
    obs_b, rew_b = rollout(env_id, seed=3)
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(rew_a, rew_b)
    obs_c, _ = rollout(env_id, seed=4)
    assert obs_c.shape != obs_a.shape or not np.array_equal(obs_a, obs_c)


def test_render_rgb_array_has_documented_shape_and_content(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(3):
        env.step(env.action_space.sample())
    frame = env.render()
    env.close()
    assert frame.shape == frame_shape(env_id)
    assert frame.dtype == np.uint8
    assert frame.std() > 5, "the frame is blank: rendering failed"


def test_observations_stay_in_their_space(env_id):
    env = gym.make(env_id)
    env.action_space.seed(0)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    for _ in range(50):
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated:  # a terminal observation may lie past the bounds (CartPole's angle)
            obs, _ = env.reset()
        assert env.observation_space.contains(obs)
    env.close()
