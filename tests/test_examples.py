"""The examples run as written (docs/ARCHITECTURE.md shows the custom family's)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_family_of_another_packages_env_plugs_in_and_learns(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "custom_family.py"), "--small", "--out",
                           str(tmp_path / "run")], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    learned, labels, random = re.search(r"true return (\S+) with (\d+) labels \(a random policy: (\S+)\)",
                                        done.stdout).groups()
    assert int(labels) == 30
    meta = (tmp_path / "run" / "reward_model" / "reward_model.json").read_text()
    assert '"epochs": 8.0' in meta  # the family's default reached the reward model
    assert (tmp_path / "run" / "config.json").exists() and float(learned) > float(random)


def test_the_architecture_page_shows_the_example_as_it_is():
    page = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    example = (ROOT / "examples" / "custom_family.py").read_text()
    for line in ("class LineFamily(ClassicFamily):",
                 'register_family("line", f"{__name__}:LINE", env_ids=("demo/LineWalk-v0",))',
                 '    reward_defaults = {"use_actions": False, "epochs": 8.0}'):
        assert line in page and line in example
