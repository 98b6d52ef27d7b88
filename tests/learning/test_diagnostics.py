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


def test_the_landscape_of_an_r_s_prime_model_rates_the_states_reached():
    import gymnasium as gym

    from pbrl.diagnostics import reward_landscape
    from pbrl.reward_model import RewardEnsemble, RewardModelConfig

    env = gym.make("pbrl/CartPole-v1")
    model = RewardEnsemble(env.observation_space, env.action_space, RewardModelConfig(use_next_obs=True))
    clips = [Clip(f"c{i}", "pbrl/CartPole-v1", np.random.default_rng(i).normal(size=(5, 4)).astype(np.float32),
                  np.zeros(5, np.int64), np.zeros(5, np.float32), 5, 0, next_obs=np.zeros((5, 4), np.float32))
             for i in range(4)]
    land = reward_landscape(model, clips, grid=5)
    assert land is not None and land.reward.shape == (5, 5) and np.isfinite(land.reward).all()


def test_label_agreement_counts_every_judged_pair_against_the_hidden_returns(tmp_path):
    from pbrl.diagnostics import label_agreement
    from pbrl.store import PreferenceStore
    from pbrl.types import Label, Outcome, Query

    def clip(cid, total):  # a clip whose hidden return is ``total``
        return Clip(cid, "pbrl/CartPole-v1", np.zeros((3, 4), np.float32), np.zeros(3, np.int64),
                    np.array([total, 0.0, 99.0]), 2, 0)  # the padding after its length is not counted

    store = PreferenceStore(tmp_path / "labels.sqlite")
    store.add_clips([clip("lo", 1.0), clip("mid", 2.0), clip("hi", 3.0), clip("hi2", 3.0)])
    assert label_agreement(store) is None  # no label yet
    answers = {("lo", "hi"): Outcome.RIGHT, ("mid", "lo"): Outcome.RIGHT, ("hi", "mid"): Outcome.EQUAL,
               ("hi", "hi2"): Outcome.LEFT, ("lo", "mid2"): Outcome.SKIP}
    store.add_clips([clip("mid2", 2.0)])
    for n, (pair, outcome) in enumerate(answers.items()):
        store.add_query(Query(f"q{n}", pair, 0), created_at=1.0)
        store.add_label(Label(f"q{n}", outcome, rater="ann", shown_at=1.0, answered_at=2.0))
    store.add_query(Query("k", ("lo", "mid", "hi"), 0), created_at=1.0)  # ranked mid > hi > lo: 2 of 3 pairs right
    store.add_label(Label("k", None, rater="ann", shown_at=1.0, answered_at=2.0, ranking=(1, 2, 0)))
    # (lo, hi) RIGHT: agrees; (mid, lo) RIGHT prefers lo: no; (hi, mid) EQUAL: no; (hi, hi2): a hidden tie;
    # the skip is no label; the ranking mid > hi > lo: (mid, hi) no, (mid, lo) yes, (hi, lo) yes
    assert label_agreement(store) == {"agreement": 3 / 6, "pairs": 6, "hidden_ties": 1}
