"""The language-model paths end to end, on the sentiment task (minutes on 2 CPU cores):

1. SFT: the built-in LM learns to continue review openings (the reference policy);
2. preference learning: 1000 comparisons of its responses by the synthetic teacher (which
   reads the hidden VADER score), a reward ensemble of small transformers, and PPO on the
   learned reward minus a KL penalty to the SFT policy;
3. DPO on the same comparisons, no reward model;

then prints the mean hidden score of the SFT, PPO and DPO policies (sampled responses to 256
fixed prompts) and their KL to the SFT policy. ``--small`` runs a tiny version (seconds).

    python examples/text_ppo_and_dpo.py --out runs/example-text
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pbrl.reward_model import RewardModelConfig
from pbrl.text.align import AlignConfig, align, pairs_from_store
from pbrl.text.rl import evaluate_text
from pbrl.text.sft import SFTConfig, train_sft
from pbrl.trainer import TrainConfig, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/example-text")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--small", action="store_true", help="a tiny run: checks the wiring, learns little")
    args = parser.parse_args()
    out, small = Path(args.out), args.small
    sft_steps, labels, responses = (300, 60, 768) if small else (2000, 1000, 8000)  # as `pbrl bench text`

    sft = out / "sft"
    train_sft(SFTConfig(task="sentiment", steps=sft_steps, seed=args.seed, corpus_size=5000 if small else 20_000), sft)

    reward = (RewardModelConfig(n_members=1, min_steps=10, epochs=1.0, lr=1e-3, l2=1e-6) if small
              else RewardModelConfig())
    config = TrainConfig(env_id="pbrl/ResponseGame-v0", env_kwargs={"task": "sentiment"}, sft=str(sft), labels=labels,
                         steps=responses, seed=args.seed, kl_coef=0.2, kl_target=2.0, kl_horizon=500, video=False,
                         eval_episodes=32, reward=reward)
    ppo_run = out / "ppo"
    train(config, ppo_run)

    dpo = align(AlignConfig(method="dpo", sft=str(sft), task="sentiment", epochs=1 if small else 3, seed=args.seed,
                            eval_prompts=32 if small else 256), pairs_from_store(ppo_run), out / "dpo")

    from pbrl.text.load import load_lm

    ref = load_lm(sft)
    n = 32 if small else 256
    ppo_policy = load_lm(ppo_run / "text_policy") if (ppo_run / "text_policy").exists() else None
    rows = {"SFT": evaluate_text(ref, "sentiment", n, args.seed, ref), "DPO": dpo["final"]}
    if ppo_policy is not None:
        rows["PPO, learned reward"] = evaluate_text(ppo_policy, "sentiment", n, args.seed, ref)
    for name, r in rows.items():
        print(f"{name:>20}: hidden score {r['score_sampled']:+.3f} sampled, {r['score_greedy']:+.3f} greedy; "
              f"KL to SFT {r.get('kl_sampled', 0.0):.2f}")
    (out / "results.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
