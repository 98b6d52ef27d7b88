import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_text_example_runs_sft_ppo_on_learned_reward_and_dpo(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "text_ppo_and_dpo.py"), "--small", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads((tmp_path / "results.json").read_text())
    assert set(rows) == {"SFT", "DPO", "PPO, learned reward"}
    assert all(-1.0 <= r["score_sampled"] <= 1.0 for r in rows.values())  # VADER's compound score
    # the SFT policy against itself: exactly 0; DPO moved the policy (a k1 estimate on few
    # samples may come out either side of 0, but not at it)
    assert rows["SFT"]["kl_sampled"] == pytest.approx(0.0, abs=1e-6) and abs(rows["DPO"]["kl_sampled"]) > 1e-4
    assert "hidden score" in done.stdout
