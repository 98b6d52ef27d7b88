"""How an Atari run's learned reward treats the steps where the hidden score changes.

    python scripts/atari_reward_probe.py RUN_DIR [--queries 1200]

Reads the run's labelled clips (labels.sqlite) and its reward model, and prints: the per-step
correlation of the learned reward with the true one, the learned reward's mean on steps that
lose a point, win one or neither, its mean at each step around a lost point, and the learned
return of clips by their true return. A model that has learned the game puts its penalty on
the step the point is lost; one that has learned "a point is lost somewhere near here" spreads
it. Read-only: copy a running run's directory first (its store is being written).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from pbrl.reward_model import RewardEnsemble
from pbrl.store import PreferenceStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--queries", type=int, default=1200, help="the first N queries' clips")
    args = parser.parse_args()
    torch.set_num_threads(1)
    store = PreferenceStore(f"{args.run_dir}/labels.sqlite")
    model = RewardEnsemble.load(f"{args.run_dir}/reward_model")
    clips = {}
    for query in store.queries()[: args.queries]:
        for clip_id in query.clip_ids:
            clips.setdefault(clip_id, store.clip(clip_id))
    pred = [np.asarray(model.predict_reward(model.clip_obs(c), c.actions)).reshape(-1) for c in clips.values()]
    true = [np.asarray(c.true_rewards).reshape(-1) for c in clips.values()]
    p, t = np.concatenate(pred), np.concatenate(true)
    print(f"{len(clips)} clips, {len(p)} steps: {(t < 0).sum()} lose a point, {(t > 0).sum()} win one")
    print(f"per-step correlation with the true reward: {np.corrcoef(p, t)[0, 1]:.3f}")
    for value, name in ((-1, "lose a point"), (0, "neither"), (1, "win a point")):
        if (t == value).any():
            print(f"  steps that {name}: learned reward {p[t == value].mean():+.3f} +- {p[t == value].std():.3f}")
    around: dict[int, list[float]] = {}
    for pr, tr in zip(pred, true, strict=True):
        for i in np.flatnonzero(tr < 0):
            for offset in range(-6, 4):
                if 0 <= i + offset < len(pr):
                    around.setdefault(offset, []).append(float(pr[i + offset]))
    print("  around a lost point (steps from it: mean):",
          ", ".join(f"{o}: {np.mean(v):+.2f}" for o, v in sorted(around.items())))
    learned, hidden = np.array([x.sum() for x in pred]), np.array([x.sum() for x in true])
    print(f"clip returns: correlation {np.corrcoef(learned, hidden)[0, 1]:.3f}")
    for value in sorted(set(hidden)):
        m = hidden == value
        spread = f"{learned[m].mean():+.2f} +- {learned[m].std():.2f}"
        print(f"  true return {value:+g}: {m.sum()} clips, learned return {spread}")


if __name__ == "__main__":
    main()
