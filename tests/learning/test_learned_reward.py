"""The learned-reward wrapper: the agent's reward is the model's, and the learned returns it
logs are each rated by one model from start to end."""

import numpy as np
from stable_baselines3.common.env_util import make_vec_env

from pbrl.learned_reward import LearnedReward


class Constant:
    """A reward model of the wrapper's interface that rates every step ``value``."""

    def __init__(self, value: float) -> None:
        self.value = value

    def predict_reward(self, obs, actions):
        return np.full(len(obs), self.value, dtype=np.float32)


def run(wrapper: LearnedReward, steps: int) -> list[float]:
    rewards = []
    for _ in range(steps):
        _, r, _, _ = wrapper.step(np.zeros((wrapper.num_envs, 1), dtype=np.float32))
        rewards.append(float(r[0]))
    return rewards


def test_the_agent_gets_the_models_reward_and_episodes_spanning_a_new_model_are_not_logged():
    # pbrl/Pendulum-v1 episodes last exactly 200 steps
    wrapper = LearnedReward(make_vec_env("pbrl/Pendulum-v1", n_envs=2, seed=0), Constant(1.0))
    wrapper.reset()
    assert run(wrapper, 250) == [1.0] * 250
    assert wrapper.episode_returns == [200.0, 200.0]
    wrapper.model = Constant(2.0)  # a background fit swapped in
    assert wrapper.episode_returns == []  # another model's returns are on another scale
    assert run(wrapper, 150) == [2.0] * 150
    assert wrapper.episode_returns == []  # the episodes that ended at step 400 began under the old model
    run(wrapper, 200)
    assert wrapper.episode_returns == [400.0, 400.0]  # rated by the new model from start to end
    run(wrapper, 50)
    wrapper.model.value = 3.0  # a fit in place
    wrapper.reward_changed()
    run(wrapper, 150)
    assert wrapper.episode_returns == []
    run(wrapper, 200)
    assert wrapper.episode_returns == [600.0, 600.0]


def test_an_episode_that_has_not_stepped_when_the_reward_changes_is_the_new_rewards_alone():
    wrapper = LearnedReward(make_vec_env("pbrl/Pendulum-v1", n_envs=2, seed=0), Constant(1.0))
    wrapper.reset()
    run(wrapper, 200)  # both episodes end on this step; the next ones have not stepped yet
    assert wrapper.episode_returns == [200.0, 200.0]
    wrapper.model = Constant(2.0)  # a fit on the very step the episodes began
    run(wrapper, 200)
    assert wrapper.episode_returns == [400.0, 400.0]
