"""The README stays true: its Python examples run, and CI runs its test command."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_python_examples_run(run_python):
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert len(blocks) >= 3
    for block in blocks:
        result = run_python(block)
        assert result.returncode == 0, f"README example failed:\n{block}\n{result.stderr}"


def test_readme_has_two_setup_commands_and_ci_runs_the_test_one():
    commands = re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)
    assert len(commands) == 2
    main_job, tests = commands
    assert main_job.startswith("bash scripts/setup.sh && ") and "pbrl train" in main_job
    assert tests.startswith("bash scripts/setup.sh && ")
    assert tests in (ROOT / ".ci" / "run").read_text()
