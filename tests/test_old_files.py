"""Files written by pbrl 0.1 before the family redesign (tests/fixtures/v0_1, made with commit
9c18b56) still load: run directories, label stores, reward models and policies, with the same
predictions and evaluation returns as the code that wrote them (tests/fixtures/v0_1/expected.json)."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pbrl import rl
from pbrl.reward_model import RewardEnsemble
from pbrl.run_dir import RunDir
from pbrl.store import PreferenceStore
from pbrl.trainer import TrainConfig, train

FIXTURES = Path(__file__).parent / "fixtures" / "v0_1"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())
RUNS = {"cartpole": "pbrl/CartPole-v1", "halfcheetah": "pbrl/HalfCheetah-v5"}


@pytest.mark.parametrize("name", ["cartpole", "halfcheetah", "text_reward_model"])
def test_an_old_reward_model_predicts_what_it_did(name, require):
    if name == "halfcheetah":
        require("pbrl/HalfCheetah-v5")
    expected = EXPECTED[name]
    model = RewardEnsemble.load(FIXTURES / name)
    obs, actions = np.array(expected["obs"]), np.array(expected["actions"])
    np.testing.assert_allclose(model.predict_reward(obs, actions), expected["reward"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", list(RUNS))
def test_an_old_run_directory_opens_and_its_policy_returns_what_it_did(name, require):
    require(RUNS[name])
    run = RunDir.open(FIXTURES / name)
    config = TrainConfig.from_json(run.config)
    assert config.env_id == RUNS[name]
    store = PreferenceStore(FIXTURES / name / "labels.sqlite")
    try:
        assert store.count_labels() == EXPECTED[name]["labels"]
        assert store.count_queries() == EXPECTED[name]["queries"]
    finally:
        store.close()
    model, norm, env_id, _ = rl.load_policy(FIXTURES / name)
    returns, _ = rl.evaluate(model, env_id, 3, 0, rl.obs_normaliser(norm))
    np.testing.assert_allclose(returns, EXPECTED[name]["eval_returns"], rtol=1e-6)


def test_an_old_run_resumes(tmp_path):
    run = tmp_path / "cartpole"
    shutil.copytree(FIXTURES / "cartpole", run)
    config = TrainConfig.from_json(json.loads((run / "config.json").read_text()))
    summary = train(config, run, resume=True)
    assert summary["labels"] == EXPECTED["cartpole"]["labels"]
    assert (run / "summary.json").exists()


def test_an_old_config_with_the_reward_defaults_written_out_takes_the_family_defaults():
    # pbrl 0.1 wrote the MLP's defaults into every config.json (a text run's too) and treated
    # them as unset; a text run resumed before its first fit must get the transformer's
    from pbrl.reward_model import BASE_REWARD_DEFAULTS
    from pbrl.text.reward import TEXT_REWARD_DEFAULTS

    old = json.loads((FIXTURES / "cartpole" / "config.json").read_text())
    assert old["reward"]["l2"] == 1e-3 and old["reward"]["lr"] == 3e-4  # as 0.1 wrote it
    config = TrainConfig.from_json(old)
    assert config.reward.resolved(TEXT_REWARD_DEFAULTS).l2 == TEXT_REWARD_DEFAULTS["l2"]
    assert config.reward.resolved().l2 == BASE_REWARD_DEFAULTS["l2"]  # the MLP families: as before
    given = TrainConfig.from_json({**old, "reward": {**old["reward"], "l2": 1e-4}})
    assert given.reward.resolved(TEXT_REWARD_DEFAULTS).l2 == 1e-4  # a value someone chose stays
