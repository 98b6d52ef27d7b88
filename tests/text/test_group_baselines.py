"""RLOO and GRPO: group advantages against hand-computed values, and both trainers running on
the response game from an SFT model, each rollout holding whole groups of one prompt."""

import numpy as np
import pytest

from pbrl.errors import InputError
from pbrl.group_ppo import group_advantages


def test_rloo_and_grpo_advantages_by_hand():
    # two envs, a rollout of 4 steps, groups of 2: env 0 answers prompt A twice then B twice
    rewards = np.array([[1.0, 0.0], [3.0, 0.0], [2.0, 5.0], [2.0, 1.0]])
    rloo = group_advantages(rewards, 2, "rloo")
    # r_i minus the other response's reward: 1-3, 3-1; 2-2, 2-2 | 0-0, 0-0; 5-1, 1-5
    assert np.allclose(rloo, [[-2, 0], [2, 0], [0, 4], [0, -4]])
    grpo = group_advantages(rewards, 2, "grpo")
    # (r - mean) / (std + 1e-4): group (1, 3): mean 2, std 1 -> -1, 1; (5, 1): mean 3, std 2 -> 1, -1
    assert np.allclose(grpo, [[-1 / 1.0001, 0], [1 / 1.0001, 0], [0, 2 / 2.0001], [0, -2 / 2.0001]])
    four = np.array([[1.0], [2.0], [3.0], [6.0]])
    # RLOO with K=4: r_i - mean of the other three
    assert np.allclose(group_advantages(four, 4, "rloo")[:, 0], [1 - 11 / 3, 2 - 10 / 3, 3 - 3, 6 - 2])
    with pytest.raises(InputError, match="not a multiple of group_size 3"):
        group_advantages(four, 3, "rloo")


@pytest.mark.parametrize("algo", ["rloo", "grpo"])
def test_group_baselines_train_the_text_policy(sft_dir, tmp_path, algo):
    from pbrl.text.rl import TextRLConfig, train_text

    config = TextRLConfig(task="arithmetic", sft=str(sft_dir), algo=algo, responses=256, n_envs=8, n_steps=4,
                          batch_size=32, n_epochs=1, eval_prompts=16, kl_coef=0.05)
    summary = train_text(config, tmp_path / algo)
    assert summary["config"]["algo"] == algo and 0 <= summary["final"]["score_sampled"] <= 1
    with pytest.raises(InputError, match="needs --group-size >= 2 dividing --n-steps 4"):
        TextRLConfig(sft="x", algo=algo, group_size=3)


def test_group_baselines_need_a_group_game():
    from pbrl.trainer import TrainConfig

    with pytest.raises(InputError, match="needs several responses to one prompt"):
        TrainConfig(env_id="pbrl/CartPole-v1", algo="grpo")


def test_rloo_trains_on_the_learned_reward_in_pbrl_train(sft_dir, tmp_path):
    from pbrl.reward_model import RewardModelConfig
    from pbrl.trainer import TrainConfig, train

    config = TrainConfig(env_id="pbrl/ResponseGame-v0", env_kwargs={"task": "arithmetic"}, sft=str(sft_dir),
                         labels=8, steps=512, algo="rloo", video=False, eval_episodes=8,
                         reward=RewardModelConfig(n_members=2, min_steps=5, epochs=1.0))
    summary = train(config, tmp_path / "run")
    assert summary["labels"] == 8 and 0.0 <= summary["true_return_mean"] <= 1.0
