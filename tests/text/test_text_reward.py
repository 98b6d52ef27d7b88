"""The reward ensemble on text: (prompt, response) ids in, a reward per response out."""

import json

import gymnasium as gym
import numpy as np

import pbrl  # noqa: F401 (registers the pbrl/... ids)
from pbrl.dataset import PreferenceDataset
from pbrl.reward_model import RewardEnsemble, RewardModelConfig, load_reward_model
from pbrl.text.reward import TEXT_REWARD_DEFAULTS
from pbrl.text.tokenizer import CharTokenizer
from pbrl.types import Clip, Label, Outcome, Query

TOK = CharTokenizer()
GOOD = [" great.", " wonderful!", " a joy.", " beautiful."]
BAD = [" awful.", " boring.", " a mess.", " bad."]


def clip(i, prompt, response, score):
    obs, _ = TOK.encode_prompt(prompt, 48)
    return Clip(f"c{i}", "pbrl/ResponseGame-v0", obs[None], TOK.encode_response(response, 24)[None],
                np.array([score], np.float32), 1, text=f"{prompt}|{response}")


def test_a_text_ensemble_learns_which_responses_are_preferred_and_round_trips(tmp_path):
    env = gym.make("pbrl/ResponseGame-v0", task="sentiment")
    rng = np.random.default_rng(0)
    dataset, clips = PreferenceDataset(seed=0, validation_fraction=0.0), []
    for q in range(60):
        good = clip(2 * q, "The movie was", GOOD[q % 4], 1.0)
        bad = clip(2 * q + 1, "The movie was", BAD[q % 4], -1.0)
        left, right = (good, bad) if rng.random() < 0.5 else (bad, good)
        outcome = Outcome.LEFT if left is good else Outcome.RIGHT
        dataset.add(Query(f"q{q}", (left.clip_id, right.clip_id)), Label(f"q{q}", outcome),
                    {c.clip_id: c for c in (left, right)})
        clips += [good, bad]
    config = RewardModelConfig(n_members=2, min_steps=60, epochs=2).resolved(TEXT_REWARD_DEFAULTS)
    model = RewardEnsemble(env.observation_space, env.action_space, config, env_id="pbrl/ResponseGame-v0", kind="text")
    assert model.kind == "text" and model.config.l2 == 1e-6
    model.fit(dataset, clips)
    obs = np.concatenate([c.obs for c in clips[:8]])
    actions = np.concatenate([c.actions for c in clips[:8]])
    rewards = model.predict_reward(obs, actions)
    assert (rewards[0::2] > rewards[1::2]).all()  # every good response above its bad partner
    model.save(tmp_path / "rm")
    assert json.loads((tmp_path / "rm" / "reward_model.json").read_text())["kind"] == "text"
    again = load_reward_model(tmp_path / "rm")
    assert again.kind == "text"
    np.testing.assert_allclose(again.predict_reward(obs, actions), rewards, rtol=1e-5, atol=1e-5)
    # the env takes it as its learned reward
    learned = gym.make("pbrl/ResponseGame-v0", task="sentiment", reward_model=str(tmp_path / "rm"))
    learned.reset(seed=0)
    _, reward, *_ = learned.step(TOK.encode_response(" wonderful!", 24))
    assert np.isfinite(reward)


def test_the_text_familys_reward_settings_sit_under_the_users():
    config = RewardModelConfig(n_members=5).resolved(TEXT_REWARD_DEFAULTS)
    assert config.n_members == 5 and config.l2 == 1e-6 and config.lr == 1e-3 and config.min_steps == 300
    assert config.use_actions is False  # not a text setting: pbrl's
    assert RewardModelConfig(l2=1e-4).resolved(TEXT_REWARD_DEFAULTS).l2 == 1e-4  # the user's value wins
