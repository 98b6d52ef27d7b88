"""The text policy: a causal LM as an SB3 policy, SFT, and PPO with a KL penalty."""

import json

import numpy as np
import pytest
import torch

from pbrl.text.model import LMConfig, TinyCausalLM, response_mask
from pbrl.text.rl import KLController, TextRLConfig, kl_estimate, train_text
from pbrl.text.sft import corpus
from pbrl.text.tokenizer import EOS, PAD, CharTokenizer

TOK = CharTokenizer()



def prompts(texts, length=8):
    return torch.as_tensor(np.stack([TOK.encode_prompt(t, length)[0] for t in texts]))


def test_generation_pads_after_eos_and_logprobs_match_token_by_token():
    torch.manual_seed(0)
    lm = TinyCausalLM(LMConfig(max_len=16, d_model=32, n_heads=2, d_ff=64))
    p = prompts(["1+2=", "30+4="])
    responses = lm.generate(p, 6, generator=torch.Generator().manual_seed(0))
    assert (responses != PAD).any()
    for row in responses.tolist():  # nothing but PAD after the first EOS, and PAD never before it
        if EOS in row:
            assert all(t == PAD for t in row[row.index(EOS) + 1:])
        assert PAD not in row[: row.index(EOS) if EOS in row else len(row)]
    logp, mask, entropy = lm.response_logprobs(p, responses)
    assert torch.equal(mask, response_mask(responses)) and (entropy >= 0).all()
    # the same log-probabilities, one token at a time
    for b in range(2):
        ids, total = p[b:b + 1], 0.0
        for t in range(int(mask[b].sum())):
            logits, _ = lm(ids)
            step = logits[0, -1].clone()
            step[PAD] = -torch.inf
            total += torch.log_softmax(step, -1)[responses[b, t]].item()
            ids = torch.cat([ids, responses[b:b + 1, t:t + 1]], 1)
        assert logp[b].sum().item() == pytest.approx(total, abs=1e-4)


def test_cached_generation_samples_what_full_passes_would():
    torch.manual_seed(1)
    lm = TinyCausalLM(LMConfig(max_len=24, d_model=32, n_heads=2, d_ff=64))
    p = prompts(["1+2=", "30+40=", "7="])  # left-padded to different lengths
    for greedy in (True, False):
        cached = lm.generate(p, 8, generator=torch.Generator().manual_seed(3), greedy=greedy)
        # the reference: a full forward pass of the whole sequence for every token
        generator, ids = torch.Generator().manual_seed(3), p.clone()
        done = torch.zeros(3, dtype=torch.bool)
        expected = torch.full((3, 8), PAD)
        for i in range(8):
            step = lm(ids)[0][:, -1].clone()
            step[:, PAD] = -torch.inf
            token = step.argmax(-1) if greedy else torch.multinomial(torch.softmax(step, -1), 1, generator=generator)[:,
                                                                                                                      0]
            token = torch.where(done, torch.full_like(token, PAD), token)
            expected[:, i], done = token, done | (token == EOS)
            ids = torch.cat([ids, token[:, None]], 1)
            if bool(done.all()):
                break
        assert torch.equal(cached, expected)


def test_left_padding_does_not_change_what_the_model_says():
    torch.manual_seed(0)
    lm = TinyCausalLM(LMConfig(max_len=24, d_model=32, n_heads=2, d_ff=64))
    short, long = prompts(["7+8="], 8), prompts(["7+8="], 14)
    response = torch.as_tensor(TOK.encode_response("15", 6))[None]
    a, _, _ = lm.response_logprobs(short, response)
    b, _, _ = lm.response_logprobs(long, response)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_sft_learns_and_its_checkpoint_round_trips(sft_dir):
    meta = json.loads((sft_dir / "lm.json").read_text())
    assert meta["task"] == "arithmetic" and (meta["prompt_tokens"], meta["response_tokens"]) == (8, 6)
    lm = TinyCausalLM.load(sft_dir)
    assert lm.config.max_len == 14
    (sft_dir / "bad").mkdir(exist_ok=True)
    (sft_dir / "bad" / "lm.json").write_text(json.dumps({**meta, "tokenizer": "bytes-v9"}))
    with pytest.raises(ValueError, match="the model and the tokenizer do not match"):
        TinyCausalLM.load(sft_dir / "bad")
    with pytest.raises(FileNotFoundError, match="pbrl text sft"):
        TinyCausalLM.load(sft_dir / "nothing")
    assert corpus("arithmetic", 3, seed=1) == corpus("arithmetic", 3, seed=1)
    assert all(r == str(eval(p[:-1])) for p, r in corpus("arithmetic", 50))


def test_kl_estimators_and_the_adaptive_controller():
    torch.manual_seed(0)
    lm = TinyCausalLM(LMConfig(max_len=16, d_model=32, n_heads=2, d_ff=64))
    other = TinyCausalLM(LMConfig(max_len=16, d_model=32, n_heads=2, d_ff=64))
    p = prompts(["1+1=", "2+2=", "3+3="])
    r = lm.generate(p, 6)
    same, _ = kl_estimate(lm, lm, p, r)
    assert torch.allclose(same, torch.zeros(3))
    k3, _ = kl_estimate(lm, other, p, r, "k3")
    assert (k3 >= 0).all() and k3.sum() > 0
    controller = KLController(0.1, target=1.0, horizon=100)
    controller.update(kl=5.0, n=10)  # far above the target: beta grows by 1 + 0.2 * 10 / 100
    assert controller.beta == pytest.approx(0.1 * 1.02)
    controller.update(kl=0.0, n=10)
    assert controller.beta == pytest.approx(0.1 * 1.02 * 0.98)


def test_ppo_from_the_sft_policy_runs_logs_kl_and_writes_its_outputs(sft_dir, tmp_path):
    config = TextRLConfig(task="arithmetic", sft=str(sft_dir), responses=128, n_envs=8, n_steps=4, batch_size=16,
                          n_epochs=2, eval_prompts=16, kl_target=1.0, ptx_coef=0.1)
    summary = train_text(config, tmp_path)
    assert set(summary["final"]) >= {"score_sampled", "score_greedy", "kl_sampled"}
    assert 0.0 <= summary["final"]["score_sampled"] <= 1.0 and np.isfinite(summary["final"]["kl_sampled"])
    assert (tmp_path / "policy" / "lm.pt").exists() and (tmp_path / "curves.csv").read_text().startswith("responses,")
    logged = (tmp_path / "logs" / "progress.csv").read_text().splitlines()[0].split(",")
    assert {"text/score", "text/kl", "text/entropy", "text/beta", "train/approx_kl"} <= set(logged)
    assert json.loads((tmp_path / "summary.json").read_text())["config"]["sft"] == str(sft_dir)
    with pytest.raises(ValueError, match="needs --sft"):
        TextRLConfig(task="arithmetic")


def test_a_policy_whose_model_does_not_fit_the_env_is_refused(sft_dir):
    import gymnasium as gym
    from stable_baselines3 import PPO

    import pbrl  # noqa: F401 (registers the pbrl/... ids)
    from pbrl.text.policy import TextPolicy

    env = gym.make("pbrl/ResponseGame-v0", task="sentiment")  # 48 + 24 tokens, the SFT model has 14
    with pytest.raises(ValueError, match="more than the model's max_len 14"):
        PPO(TextPolicy, env, policy_kwargs={"lm_path": str(sft_dir)}, device="cpu")


def test_the_text_commands_run_sft_then_ppo(tmp_path, capsys):
    from pbrl.cli import main

    assert main(["text", "sft", "--task", "arithmetic", "--steps", "5", "--batch-size", "8", "--out",
                 str(tmp_path / "sft")]) == 0
    assert main(["text", "ppo", "--task", "arithmetic", "--sft", str(tmp_path / "sft"), "--responses", "64", "--n-envs",
                 "8",
                 "--n-steps", "2", "--batch-size", "16", "--epochs", "1", "--out", str(tmp_path / "ppo")]) == 0
    assert "score" in capsys.readouterr().out and (tmp_path / "ppo" / "summary.json").exists()
    assert main(["text", "ppo", "--task", "arithmetic", "--sft", str(tmp_path / "missing")]) == 2  # a clear error


def test_preference_learning_runs_on_the_response_game_with_the_text_policy(sft_dir, tmp_path):
    import sqlite3

    from pbrl.reward_model import RewardEnsemble, RewardModelConfig
    from pbrl.store import PreferenceStore
    from pbrl.trainer import TrainConfig, train

    config = TrainConfig(env_id="pbrl/ResponseGame-v0", env_kwargs={"task": "arithmetic"}, sft=str(sft_dir), labels=12,
                         steps=600, reward=RewardModelConfig(n_members=2, min_steps=10, epochs=1.0, lr=1e-3, l2=1e-6),
                         video=False, eval_episodes=20, kl_target=2.0)
    summary = train(config, tmp_path / "run")
    assert summary["labels"] == 12 and 0.0 <= summary["true_return_mean"] <= 1.0
    header = (tmp_path / "run" / "curves.csv").read_text().splitlines()[0].split(",")
    assert {"learned_return", "score", "kl", "entropy", "beta"} <= set(header)  # learned reward and KL, logged
    assert RewardEnsemble.load(tmp_path / "run" / "reward_model").kind == "text"  # a text reward model was learned
    texts = [t for (t,) in sqlite3.connect(tmp_path / "run" / "labels.sqlite").execute("select text from clips")]
    assert texts and all("=\n" in t for t in texts)  # queried clips carry prompt and response for people
    store = PreferenceStore(tmp_path / "run" / "labels.sqlite")
    for query in store.queries():  # every query compares responses to one prompt
        clips = [store.clip(cid) for cid in query.clip_ids]
        assert len({c.obs[0].tobytes() for c in clips}) == 1 and len({c.text for c in clips}) >= 1
    assert json.loads((tmp_path / "run" / "config.json").read_text())["env_kwargs"]["group_size"] == 4
    # the reward's zero: the mean over the SFT policy's responses, recorded before the first fit and kept
    store = PreferenceStore(tmp_path / "run" / "labels.sqlite")
    reference = [store.clip(cid) for cid in store.status()["reference_clips"]]
    assert len(reference) >= 20
    model = RewardEnsemble.load(tmp_path / "run" / "reward_model")
    z = model.normalised_member_rewards(np.stack([c.obs[0] for c in reference]),
                                        np.stack([c.actions[0] for c in reference]))
    assert np.abs(z.mean(1)).max() < 1e-4 and z.std() > 0.1
    with pytest.raises(ValueError, match="give --sft DIR"):
        TrainConfig(env_id="pbrl/ResponseGame-v0")
    # pbrl evaluate rebuilds the text policy (a language model, not an MlpPolicy) with the run's task
    from pbrl import rl
    from pbrl.cli import main

    saved = rl.load_policy(tmp_path / "run")
    assert saved.env_kwargs["task"] == "arithmetic" and type(saved.model.policy).__name__ == "TextPolicy"
    returns, _ = rl.evaluate(saved.model, saved.env_id, 20, config.seed, env_kwargs=saved.env_kwargs)
    assert np.mean(returns) == pytest.approx(summary["true_return_mean"])  # the same greedy responses
    assert main(["evaluate", str(tmp_path / "run"), "--episodes", "3"]) == 0
    # the policy's LM is written once, at the end (not at every refit's checkpoint)
    lm_files = list((tmp_path / "run" / "text_policy").iterdir())
    assert lm_files and max(f.stat().st_mtime for f in lm_files) >= (tmp_path / "run" / "progress.json").stat().st_mtime
    # the adaptive KL beta is kept with the checkpoint: a resumed run goes on from it, not from kl_coef
    from pbrl.run import Run

    beta = json.loads((tmp_path / "run" / "progress.json").read_text())["family_state"]["kl_beta"]
    assert beta != config.kl_coef
    with Run(config, tmp_path / "run", resume=True) as run:
        run.build()
        assert run.venv.controller.beta == beta


def test_reward_options_given_for_text_keep_the_family_defaults(sft_dir, tmp_path):
    from pbrl.reward_model import RewardModelConfig
    from pbrl.run import Run
    from pbrl.trainer import TrainConfig

    config = TrainConfig(env_id="pbrl/ResponseGame-v0", env_kwargs={"task": "arithmetic"}, sft=str(sft_dir), labels=12,
                         steps=600, reward=RewardModelConfig(n_members=5), video=False)
    with Run(config, tmp_path / "run") as run:
        run.build()
        reward = run.model.config
    assert reward.n_members == 5  # the user's value
    assert reward.l2 == 1e-6 and reward.lr == 1e-3 and reward.min_steps == 300  # the text family's, not the MLP's
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["reward"]  # what was used, recorded
    assert (saved["n_members"], saved["l2"], saved["lr"], saved["min_steps"], saved["epochs"]) == (5, 1e-6, 1e-3, 300,
                                                                                                  reward.epochs)
    config = TrainConfig(env_id="pbrl/ResponseGame-v0", sft=str(sft_dir), reward=RewardModelConfig(l2=1e-4))
    with Run(config, tmp_path / "run2") as run:
        run.build()
        assert run.model.config.l2 == 1e-4 and run.model.config.lr == 1e-3  # a user's value wins over the family's


def test_an_ai_judge_teaches_the_response_game(sft_dir, tmp_path):
    from pbrl.reward_model import RewardModelConfig
    from pbrl.store import PreferenceStore
    from pbrl.trainer import TrainConfig, train

    config = TrainConfig(env_id="pbrl/ResponseGame-v0", env_kwargs={"task": "arithmetic"}, sft=str(sft_dir), labels=6,
                         steps=420, teacher="judge:pbrl.text.judge:lexicon_judge", video=False, eval_episodes=4,
                         reward=RewardModelConfig(n_members=1, min_steps=5, epochs=1.0))
    assert train(config, tmp_path / "run")["labels"] == 6
    store = PreferenceStore(tmp_path / "run" / "labels.sqlite", create=False)
    assert {r["rater"] for r in store.label_records()} == {"judge:pbrl.text.judge:lexicon_judge"}


@pytest.mark.slow
def test_the_text_suite_runs_sft_ppo_rloo_grpo_pbrl_and_dpo_cells(tmp_path, monkeypatch):
    import pbrl.text.bench as text_bench
    from pbrl.bench import SUITES, cells, run_suite
    from pbrl.bench_report import summary_table

    monkeypatch.setattr(text_bench, "SFT_STEPS", {"arithmetic": 30})
    monkeypatch.setattr(text_bench, "EVAL_PROMPTS", 8)
    grid = cells(SUITES["text"], (0,), (6,), 256, ("text/arithmetic",))
    assert [c.method for c in grid] == ["sft", "ppo", "rloo", "grpo", "pbrl", "dpo"]
    rows = {r["method"]: r for r in run_suite(grid, str(tmp_path))}
    trained = ("sft", "ppo", "rloo", "grpo", "pbrl")
    assert len(rows) == 6 and not any(rows[m].get("error") for m in trained)
    assert all(0.0 <= rows[m]["true_return_mean"] <= 1.0 for m in trained)  # arithmetic accuracy
    assert all(rows[m]["responses_per_second"] > 0 for m in ("ppo", "rloo", "grpo"))
    # a 30-step SFT model gets every sum wrong, so every comparison is "equal" and DPO has nothing
    # to learn from: the cell says so (DPO itself: test_align.py)
    assert not rows["dpo"].get("error") or "no comparisons" in rows["dpo"]["error"]
    table = summary_table(list(rows.values()))
    assert "| arithmetic | SFT policy | 1 |" in table and "| arithmetic | pbrl 6 labels | 1 |" in table
    assert table.index("true-reward PPO") < table.index("true-reward RLOO") < table.index("pbrl 6 labels")


def test_the_speed_measurement_writes_a_table_the_report_shows(sft_dir, tmp_path):
    from pbrl.bench_report import section
    from pbrl.cli import main
    from pbrl.text.bench import measure_speed, write_speed

    rows = measure_speed(sft_dir, "arithmetic", batches=(4, 8), repeats=1)
    assert [r["batch"] for r in rows] == [4, 8]
    assert all(r["rollout_per_second"] > 0 and r["update_per_second"] > 0 for r in rows)
    write_speed(tmp_path, rows, "this machine")
    report = section([], tmp_path, "suite text", "text")
    assert "Speed of the text policy (this machine)" in report and "| arithmetic | cpu |" in report
    assert main(["bench", "classic", "--speed"]) == 2  # the text policy's measurement only


def test_import_hf_without_the_extra_says_how_to_install_it(tmp_path, capsys):
    from pbrl.cli import main
    from pbrl.text import hf

    if hf.available():
        pytest.skip("the hf extra is installed here (tests/text/test_hf.py covers it)")
    assert main(["text", "import-hf", "smollm2", "--out", str(tmp_path / "m")]) == 2
    assert "setup-hf.sh" in capsys.readouterr().err and not (tmp_path / "m").exists()
