"""The refit diagnostics measure the learned reward on the current policy's clips."""

import numpy as np

from pbrl.diagnostics import fresh_accuracy, reward_correlation
from pbrl.types import Clip


class _Model:
    """Predicts ``sign`` times the true reward of each step."""

    def __init__(self, sign: float) -> None:
        self.sign = sign

    def clip_returns(self, clips):
        return self.sign * np.array([[c.true_rewards[: c.length].sum() for c in clips]])

    def predict_reward(self, obs, actions, next_obs=None):
        return self.sign * obs[:, 0]


def _clips(n: int = 20) -> list[Clip]:
    rng = np.random.default_rng(0)
    clips = []
    for i in range(n):
        rewards = rng.normal(size=5).astype(np.float32)
        obs = np.stack([rewards, np.zeros(5, np.float32)], 1)  # the reward is the first observation
        clips.append(Clip(f"c{i}", "pbrl/CartPole-v1", obs, np.zeros(5, np.int64), rewards, 5, 0))
    return clips


def test_a_reward_that_orders_clips_as_the_truth_scores_one_and_its_negation_zero():
    clips = _clips()
    assert fresh_accuracy(_Model(1.0), clips, np.random.default_rng(0)) == 1.0
    assert fresh_accuracy(_Model(-1.0), clips, np.random.default_rng(0)) == 0.0
    assert fresh_accuracy(_Model(1.0), clips[:1], np.random.default_rng(0)) is None  # no pair
    assert abs(reward_correlation(_Model(1.0), clips) - 1) < 1e-6
    assert abs(reward_correlation(_Model(-1.0), clips) + 1) < 1e-6
