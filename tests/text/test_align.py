"""DPO / IPO / KTO on comparisons from a run's store or a TRL-style JSONL file."""

import json

import numpy as np
import pytest
import torch

from pbrl.store import PreferenceStore
from pbrl.text.align import AlignConfig, align, alignment_loss, export_jsonl, import_jsonl, pairs_from_store
from pbrl.text.tokenizer import CharTokenizer
from pbrl.types import Clip, Label, Outcome, Query

TOK = CharTokenizer()



def test_losses_match_hand_computed_values():
    c, r = (torch.tensor([1.0]), torch.tensor([0.5])), (torch.tensor([0.0]), torch.tensor([0.0]))
    assert alignment_loss("dpo", 0.1, c, r).item() == pytest.approx(-np.log(1 / (1 + np.exp(-0.1))), abs=1e-6)
    assert alignment_loss("ipo", 0.1, c, r).item() == pytest.approx((0.5 - 5.0) ** 2, abs=1e-5)
    z = torch.tensor([0.4, -2.0])  # mismatched log-ratios: z = max(0, mean) = 0
    expected = (1 - 1 / (1 + np.exp(-0.1))) + (1 - 0.5)
    assert alignment_loss("kto", 0.1, c, r, z).item() == pytest.approx(expected, abs=1e-6)


def test_store_comparisons_export_and_import_as_trl_jsonl(tmp_path):
    store = PreferenceStore(tmp_path / "labels.sqlite")
    clips = []
    for i, (prompt, response) in enumerate([("2+2=", "4"), ("2+2=", "5"), ("1+1=", "2"), ("1+1=", "3")]):
        obs, _ = TOK.encode_prompt(prompt, 8)
        clips.append(Clip(f"c{i}", "pbrl/ResponseGame-v0", obs[None], TOK.encode_response(response, 6)[None],
                          np.zeros(1), 1, text=f"{prompt}\n{response}"))
    queries = [Query("q0", ("c0", "c1")), Query("q1", ("c3", "c2")), Query("q2", ("c0", "c2"))]
    store.add_queries(queries, 0.0, clips)
    store.add_label(Label("q0", Outcome.LEFT))
    store.add_label(Label("q1", Outcome.RIGHT))
    store.add_label(Label("q2", Outcome.EQUAL))  # no direction: left out
    store.close()
    pairs = pairs_from_store(tmp_path)
    assert pairs == [("2+2=", "4", "5"), ("1+1=", "2", "3")]
    export_jsonl(pairs, tmp_path / "prefs.jsonl")
    assert json.loads((tmp_path / "prefs.jsonl").read_text().splitlines()[0]) == {"prompt": "2+2=", "chosen": "4",
                                                                                  "rejected": "5"}
    assert import_jsonl(tmp_path / "prefs.jsonl") == pairs
    (tmp_path / "bad.jsonl").write_text('{"prompt": "x", "chosen": "y"}\n')
    with pytest.raises(ValueError, match="bad.jsonl:1: not a"):
        import_jsonl(tmp_path / "bad.jsonl")


@pytest.mark.parametrize("method", ["dpo", "ipo", "kto"])
def test_each_method_moves_the_policy_towards_the_chosen_responses(method, sft_dir, tmp_path):
    pairs = [(f"{a}+{b}=", str(a + b), str(a + b + 7)) for a in range(8) for b in range(4)]
    summary = align(AlignConfig(method=method, sft=str(sft_dir), task="arithmetic", epochs=4, batch_size=16,
                                learning_rate=5e-4, eval_prompts=16), pairs, tmp_path)
    assert summary["comparisons"] == 32 and np.isfinite(summary["final_loss"])
    assert (tmp_path / "policy" / "lm.pt").exists() and np.isfinite(summary["final"]["kl_sampled"])
    from pbrl.text.align import _logratios
    from pbrl.text.model import TinyCausalLM

    policy, ref = TinyCausalLM.load(tmp_path / "policy"), TinyCausalLM.load(sft_dir)
    p = torch.as_tensor(np.stack([TOK.encode_prompt(x, 8)[0] for x, _, _ in pairs]))
    chosen = torch.as_tensor(np.stack([TOK.encode_response(c, 6) for _, c, _ in pairs]))
    rejected = torch.as_tensor(np.stack([TOK.encode_response(r, 6) for _, _, r in pairs]))
    with torch.no_grad():
        margin = (_logratios(policy, ref.response_logprobs(p, chosen)[0], p, chosen)[0]
                  - _logratios(policy, ref.response_logprobs(p, rejected)[0], p, rejected)[0])
    assert margin.mean() > 0  # chosen responses gained on rejected ones against the reference


def test_align_refuses_bad_configs():
    with pytest.raises(ValueError, match="unknown alignment method 'ppo'"):
        AlignConfig(method="ppo", sft="x")
    with pytest.raises(ValueError, match="needs --sft"):
        AlignConfig(method="dpo")
