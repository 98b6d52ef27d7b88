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


def test_the_scaling_out_commands_parse_and_name_one_run():
    """The README's "Scaling out" commands are pbrl's own: each parses with the CLI as written,
    the trainer's --store is a database the run's schema goes in, and the rater's URL names
    that run (the tests of tests/clip_ui/test_people_in_the_loop.py and
    tests/learning/test_bench_ray.py run the same set-ups against real servers)."""
    import shlex

    from pbrl.cli import build_parser
    from pbrl.store import store_location
    from pbrl.store_pg import check_server, split_url

    section = README.split("## Scaling out", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```\n(.*?)```", section, flags=re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.replace("\\\n", " ").splitlines()]
    commands = [shlex.split(line) for line in lines if line.startswith("pbrl ")]
    assert [c[1] for c in commands] == ["train", "rate", "bench"]
    parsed = {c[1]: build_parser().parse_args(c[1:]) for c in commands}
    train, rate = parsed["train"], parsed["rate"]
    check_server(train.store)
    assert split_url(rate.run_dir) == (train.store, Path(train.out).name)
    assert store_location(Path(train.out), train.store) == rate.run_dir
    assert parsed["bench"].ray == "HEAD_IP:6379"
    assert any(line.startswith("ray start --head") for line in lines)
    assert any(line.startswith("ray start --address") for line in lines)
