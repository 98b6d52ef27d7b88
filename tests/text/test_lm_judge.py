"""The LM judge: its question, both orders averaged, its answers as labels, its wiring as a
teacher. A real (untrained, wide-context) built-in model stands in for SmolLM2, which needs
the hf extra that CI does not install; the agreement with the hidden score is measured by
``python -m pbrl.text.lm_judge`` (BENCHMARKS.md)."""

import numpy as np
import pytest
import torch

from pbrl.errors import InputError, MissingDependencyError
from pbrl.text.lm_judge import LMJudge, agreement
from pbrl.text.model import LMConfig, TinyCausalLM


@pytest.fixture(scope="module")
def judge_dir(tmp_path_factory):
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("judge")
    TinyCausalLM(LMConfig(d_model=32, n_layers=1, n_heads=2, d_ff=64, max_len=400)).save(out)
    return out


def test_the_question_and_both_orders(judge_dir):
    judge = LMJudge(judge_dir, "more positive?")
    assert judge.question("The film was", ["great", "dull"]) == (
        "Which response is more positive?\nPrompt: The film was\nResponse A: great\nResponse B: dull\n"
        "Answer: Response")
    scores = judge.scores("The film was", ["great", "dull"])
    swapped = judge.scores("The film was", ["dull", "great"])
    assert np.allclose(scores, swapped[::-1])  # the position cancels: each response's score is its own
    assert judge("The film was", ["same", "same"]) == "equal"
    verdict = judge("The film was", ["great", "dull"])
    assert sorted(verdict) == [0, 1] and verdict[0] == int(np.argmax(scores))
    three = judge("The film was", ["great", "dull", "fine"])
    assert sorted(three) == [0, 1, 2]


def test_the_judge_refuses_what_its_model_cannot_read(judge_dir, sft_dir):
    with pytest.raises(InputError, match="needs a principle"):
        LMJudge(judge_dir, "  ")
    with pytest.raises(InputError, match="its model reads at most"):
        LMJudge(sft_dir, "correct")("12+34=", ["46", "47"])
    with pytest.raises(InputError, match="compares 2 to 9 responses"):
        LMJudge(judge_dir, "correct")("1+1=", ["2"])


def test_agreement_counts_pairs_with_a_hidden_difference(judge_dir):
    result = agreement(LMJudge(judge_dir, "the correct answer to the sum"), "arithmetic", 20)
    assert 0 < result["pairs"] <= 20 and 0 <= result["agreement"] + result["equal"] <= 1


def test_an_lm_judge_teaches_the_response_game(judge_dir, sft_dir, tmp_path):
    from pbrl.reward_model import RewardModelConfig
    from pbrl.store import PreferenceStore
    from pbrl.trainer import TrainConfig, train

    config = TrainConfig(env_id="pbrl/ResponseGame-v0", env_kwargs={"task": "arithmetic"}, sft=str(sft_dir), labels=6,
                         steps=420, teacher=f"judge-lm:{judge_dir}", principle="the correct answer", video=False,
                         eval_episodes=4, reward=RewardModelConfig(n_members=1, min_steps=5, epochs=1.0))
    assert train(config, tmp_path / "run")["labels"] == 6
    raters = {r["rater"] for r in PreferenceStore(tmp_path / "run" / "labels.sqlite").label_records()}
    assert raters == {f"judge:lm:{judge_dir}"}
    with pytest.raises(FileNotFoundError, match="no lm.json"):
        TrainConfig(env_id="pbrl/ResponseGame-v0", sft=str(sft_dir), teacher=f"judge-lm:{tmp_path / 'none'}")


@pytest.mark.slow
def test_the_text_suites_judge_cell_learns_from_the_lm_judge(judge_dir, sft_dir, tmp_path, monkeypatch):
    import shutil

    import pbrl.text.bench as text_bench
    from pbrl.bench import SUITES, cells, run_suite
    from pbrl.store import PreferenceStore
    from pbrl.text.hf_tokenizer import available

    monkeypatch.setattr(text_bench, "EVAL_PROMPTS", 8)
    shutil.copytree(sft_dir, tmp_path / "runs" / "sft-arithmetic")  # the suite's SFT model, as a grid leaves it
    grid = cells(SUITES["text"], (0,), (6,), 420, ("text/arithmetic",), methods=("pbrl:teacher=judge-lm",))
    if not available():  # CI: SmolLM2 cannot be imported; the grid stops, saying what to install, and records nothing
        with pytest.raises(MissingDependencyError, match="hf extra: bash scripts/setup-hf.sh"):
            run_suite(grid, str(tmp_path))
        assert not list(tmp_path.glob("cells/*.json"))
    shutil.copytree(judge_dir, tmp_path / "runs" / "judge-smollm2")  # a stand-in judge where SmolLM2 would be
    (row,) = run_suite(grid, str(tmp_path))
    assert not row.get("error") and row["labels_used"] == 6 and 0.0 <= row["true_return_mean"] <= 1.0
    store = PreferenceStore(tmp_path / "runs" / "pbrl-arithmetic-6-s0-judge-lm" / "labels.sqlite", create=False)
    assert {r["rater"] for r in store.label_records()} == {f"judge:lm:{tmp_path / 'runs' / 'judge-smollm2'}"}
