"""The ``pbrl`` console command."""

import argparse
import dataclasses
import os
import re
import shlex
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from pbrl.baseline import BaselineConfig, run_baseline
from pbrl.cli import _train_config, _train_parser, build_parser, main
from pbrl.envs import ENV_IDS
from pbrl.options import Alias, add_config_arguments, config_from_args, field_docs
from pbrl.run_dir import CURVE_GAP

PBRL = os.path.join(os.path.dirname(sys.executable), "pbrl")
README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def run_cli(*args, timeout=300):
    return subprocess.run([PBRL, *args], capture_output=True, text=True, timeout=timeout)


def test_help_lists_the_subcommands():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("envs", "baseline"):
        assert command in result.stdout


def test_envs_lists_every_id_with_family_and_spaces(require):
    for env_id in ENV_IDS:
        require(env_id)
    result = run_cli("envs")
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("pbrl/")]
    assert [row.split()[0] for row in rows] == list(ENV_IDS)
    by_id = {row.split()[0]: row for row in rows}
    assert by_id["pbrl/CartPole-v1"].split()[1:3] == ["classic", "yes"]
    assert "Discrete(2)" in by_id["pbrl/CartPole-v1"]
    assert "Box(-1, 1, (6,), float32)" in by_id["pbrl/HalfCheetah-v5"]
    assert "Box(0, 255, (4, 84, 84), uint8)" in by_id["pbrl/Pong-v5"]
    assert by_id["pbrl/ResponseGame-v0"].split()[1:3] == ["text", "yes"]
    game = by_id["pbrl/ResponseGame-v0"]
    assert "Box(0, 99, (48,), int64)" in game and "MultiDiscrete(24 x 100)" in game


def test_envs_speed_measures_each_id(capsys):
    assert main(["envs", "--speed", "--family", "classic", "--seconds", "0.05"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| pbrl/")]
    assert len(rows) == 5
    assert all(float(row.split("|")[3].replace(",", "")) > 0 for row in rows)


def test_baseline_prints_the_true_return(capsys):
    assert main(["baseline", "pbrl/CartPole-v1", "--steps", "2e3", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "true return of the final policy:" in out
    assert "2,000/2,000 steps" in out


def test_seeded_baseline_is_reproducible():
    config = BaselineConfig(env_id="pbrl/Pendulum-v1", steps=1024, seed=7, eval_episodes=2)
    first, second = run_baseline(config), run_baseline(config)
    assert first["true_return_mean"] == second["true_return_mean"]


def test_the_baselines_curve_keeps_a_point_per_thousand_steps_at_most():
    """CartPole's rollouts are 256 steps (8 envs x 32): a point every fourth rollout."""
    result = run_baseline(BaselineConfig(env_id="pbrl/CartPole-v1", steps=6000, seed=0, eval_episodes=1))
    steps = [p["steps"] for p in result["curve"]]
    assert len(steps) >= 4 and all(b - a >= CURVE_GAP for a, b in zip(steps, steps[1:], strict=False))


def test_bad_arguments_exit_with_a_clear_message():
    result = run_cli("baseline", "pbrl/Nope-v0", "--steps", "10")
    assert result.returncode == 2
    assert "unknown pbrl environment id 'pbrl/Nope-v0'" in result.stderr
    with pytest.raises(ValueError, match="steps must be >= 1"):
        BaselineConfig(steps=0)


def test_python_dash_m_works():
    result = subprocess.run([sys.executable, "-m", "pbrl", "envs", "--family", "classic"], capture_output=True,
                            text=True)
    assert result.returncode == 0 and "pbrl/Pendulum-v1" in result.stdout


# --- the options generated from the config dataclasses (pbrl/options.py) ---


def _train_args(*argv):
    return build_parser().parse_args(["train", "pbrl/CartPole-v1", *argv])


def _leaves(cls, prefix=""):
    """(dotted path, field, type) of every field of a config, nested configs' fields included."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            yield from _leaves(hint, prefix + f.name + ".")
        else:
            yield prefix + f.name, f, hint


def _other_value(path, f, hint, choices):
    """A valid value of the field that is not its default, and its command-line words."""
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    base = [a for a in typing.get_args(hint) if a is not type(None)][0] if typing.get_args(hint) and \
        typing.get_origin(hint) is not tuple and typing.get_origin(hint) is not dict else hint
    if choices:
        value = next(c for c in choices if c != default)
        return value, [value]
    if base is bool:
        return (not default) if default is not None else True, None  # a switch
    if typing.get_origin(base) is tuple:
        return (32, 16, 8), ["32", "16", "8"]
    if base is int:
        value = 3 if default is None else default + 1
        return value, [str(value)]
    if base is float:
        value = 0.25 if default is None or default == 0 else default / 2 if default < 1 else default * 2
        value = {"reward.pseudo_threshold": 0.9}.get(path, value)  # a confidence: in [0.5, 1)
        return value, [repr(value)]
    if base is str:
        value = {"env_id": "pbrl/Pendulum-v1", "teacher": "boltzmann", "store": "postgresql://u@h/db"}.get(path,
                                                                                                        "some-text")
        return value, [value]
    raise AssertionError(f"no test value for {path}: {hint}")


def test_every_field_of_train_config_and_its_reward_model_is_a_flag_of_pbrl_train():
    from pbrl.oracle import TeacherConfig
    from pbrl.trainer import TrainConfig

    parser = _train_parser()
    actions = {}
    for action in parser._actions:
        if not isinstance(action, argparse._StoreConstAction):
            actions.setdefault(action.dest, action)
    argv, expected = ["pbrl/Pendulum-v1"], {}
    for path, f, hint in _leaves(TrainConfig):
        if path == "env_id":
            expected[path] = "pbrl/Pendulum-v1"
            continue
        assert path in actions, f"TrainConfig.{path} has no flag in pbrl train"
        action = actions[path]
        if path == "teacher_params":  # one flag per teacher parameter
            expected[path] = {}
            for g in dataclasses.fields(TeacherConfig):
                value = {"beta": 0.5, "gamma": 0.9}.get(g.name, 0.05)
                argv += [f"--{g.name.replace('_', '-')}", str(value)]
                expected[path][g.name] = value
            continue
        if path == "env_kwargs":
            argv += [action.option_strings[0], "fixed_length=true", action.option_strings[0], "width=64"]
            expected[path] = {"fixed_length": True, "width": 64}
            continue
        value, words = _other_value(path, f, hint, action.choices)
        if words is None:  # a bool: --x or --no-x
            flag = action.option_strings[0] if value else next(s for s in action.option_strings
                                                               if s.startswith("--no-"))
            argv.append(flag)
        else:
            argv += [action.option_strings[0], *words]
        expected[path] = value
    config = _train_config(build_parser().parse_args(["train", *argv]))
    got = dataclasses.asdict(config)
    for path, value in expected.items():
        node = got
        for part in path.split("."):
            node = node[part]
        assert node == value, f"{path}: {node!r} != {value!r} from {shlex.join(argv)}"
    assert isinstance(config.reward.hidden, tuple)


def test_every_generated_flag_shows_its_field_docstring_in_the_help(monkeypatch):
    from pbrl.reward_model import RewardModelConfig
    from pbrl.trainer import TrainConfig

    monkeypatch.setenv("COLUMNS", "10000")  # one line per option: the docstrings unwrapped
    text = _train_parser().format_help().replace("%%", "%")
    for cls in (TrainConfig, RewardModelConfig):
        docs = field_docs(cls)
        for f in dataclasses.fields(cls):
            if f.name == "reward":
                continue
            assert docs.get(f.name), f"{cls.__name__}.{f.name} has no docstring (its --help text)"
            assert docs[f.name] in text, f"{cls.__name__}.{f.name}'s docstring is not in pbrl train --help"
    result = run_cli("train", "--help")
    assert result.returncode == 0 and "--initial-fraction" in result.stdout
    assert "share of the labels asked from the first" in " ".join(result.stdout.split())
    assert "(default: 0.1)" in " ".join(result.stdout.split())


def test_the_configs_of_every_generated_command_document_each_field():
    from pbrl.baseline import BaselineConfig
    from pbrl.oracle import TeacherConfig
    from pbrl.text.align import AlignConfig
    from pbrl.text.rl import TextRLConfig
    from pbrl.text.sft import SFTConfig

    for cls in (BaselineConfig, SFTConfig, TextRLConfig, AlignConfig, TeacherConfig):
        docs = field_docs(cls)
        missing = [f.name for f in dataclasses.fields(cls) if not docs.get(f.name)]
        assert not missing, f"{cls.__name__}: no docstring for {missing}"


README_FLAGS = [
    (["--members", "5"], "reward.n_members", 5),
    (["--std-k", "2"], "reward.k", 2.0),
    (["--fixed-l2"], "reward.adapt_l2", False),
    (["--reward-actions"], "reward.use_actions", True),
    (["--reward-state-only"], "reward.use_actions", False),
    (["--reward-next-obs"], "reward.use_next_obs", True),
    (["--learn-absorbing"], "reward.learn_absorbing", True),
    (["--combine", "pessimistic"], "reward.combine", "pessimistic"),
    (["--no-video"], "video", False),
    (["--beta", "0.5"], "teacher_params", {"beta": 0.5}),
    (["--gamma", "0.9"], "teacher_params", {"gamma": 0.9}),
    (["--eps-mistake", "0.1"], "teacher_params", {"eps_mistake": 0.1}),
    (["--eps-skip", "0.1"], "teacher_params", {"eps_skip": 0.1}),
    (["--eps-equal", "0.1"], "teacher_params", {"eps_equal": 0.1}),
    (["--task", "sentiment"], "env_kwargs", {"task": "sentiment"}),
    (["--env-kwarg", "fixed_length=true", "--env-kwarg", "mode=fast"], "env_kwargs",
     {"fixed_length": True, "mode": "fast"}),
    (["--kl-coef", "0.2"], "kl_coef", 0.2),
    (["--kl-target", "2"], "kl_target", 2.0),
    (["--kl-horizon", "500"], "kl_horizon", 500),
    (["--sft", "runs/sft-sentiment"], "sft", "runs/sft-sentiment"),
    (["--queue", "3"], "queue", 3),
    (["--fit-lag", "2048"], "fit_lag", 2048),
    (["--clip-length", "30"], "clip_length", 30),
    (["--k", "3"], "k", 3),
    (["--query", "entropy"], "query", "entropy"),
    (["--algo", "a2c"], "algo", "a2c"),
    (["--seed", "4"], "seed", 4),
    (["--labels", "700"], "labels", 700),
    (["--steps", "5e5"], "steps", 500_000),
    (["--steps", "1e6"], "steps", 1_000_000),
    (["--teacher", "mistake"], "teacher", "mistake"),
]


@pytest.mark.parametrize(("argv", "path", "value"), README_FLAGS, ids=[" ".join(a) for a, _, _ in README_FLAGS])
def test_the_readme_flags_set_their_fields(argv, path, value):
    node = _train_config(_train_args(*argv))
    for part in path.split("."):
        node = getattr(node, part)
    assert node == value


def test_k_is_clips_per_query_and_std_k_the_reward_models_k():
    config = _train_config(_train_args("--k", "3", "--std-k", "2.5"))
    assert (config.k, config.reward.k) == (3, 2.5)
    config = _train_config(_train_args("--reward-k", "0.5"))
    assert (config.k, config.reward.k) == (2, 0.5)


def test_out_and_the_train_only_flags_stay():
    args = _train_args("--out", "runs/x", "--baseline", "--open-ui")
    assert (args.out, args.baseline, args.open_ui, args.resume) == ("runs/x", True, True, None)
    assert build_parser().parse_args(["train", "--resume", "runs/mine"]).resume == "runs/mine"


def test_the_readme_commands_parse():
    """Every `pbrl train / compare / baseline / text sft / text ppo / align` line of the README."""
    lines = re.sub(r"\\\n\s*", " ", README).splitlines()
    commands = [line.split("#")[0].strip() for line in lines if line.startswith("pbrl ")]
    parsed = 0
    for command in commands:
        words = shlex.split(command)[1:]
        if words[0] not in ("train", "compare", "baseline", "align", "text") or "SUITE" in words:
            continue
        args = build_parser().parse_args(words)  # SystemExit (argparse's error) fails the test
        assert args.command == words[0]
        parsed += 1
    assert parsed >= 12


def test_bad_values_get_argparse_errors(capsys):
    for argv, message in [
        (["--labels", "many"], "argument --labels: invalid int value: 'many'"),
        (["--steps", "2.5"], "argument --steps: invalid int value: '2.5'"),
        (["--combine", "worst"], "argument --combine: invalid choice: 'worst'"),
        (["--env-kwarg", "nokey"], "argument --env-kwargs/--env-kwarg: takes KEY=VALUE, got 'nokey'"),
        (["--beta", "high"], "argument --beta: invalid float value: 'high'"),
    ]:
        with pytest.raises(SystemExit) as info:
            _train_args(*argv)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert "usage: pbrl train" in err and message in err, err
    result = run_cli("train", "pbrl/CartPole-v1", "--hidden", "64", "wide")
    assert result.returncode == 2 and "argument --hidden: invalid int value: 'wide'" in result.stderr


def test_resume_refuses_changed_flags_by_their_given_names(capsys):
    for argv, named in [(["--labels", "5"], "--labels"), (["--fixed-l2"], "--fixed-l2"), (["--no-video"], "--no-video"),
                        (["--beta", "0.5"], "--beta"), (["--task", "sentiment"], "--task"),
                        (["--hidden", "8"], "--hidden"), (["--std-k", "2"], "--reward-k")]:
        assert main(["train", "--resume", "runs/none", *argv]) == 2
        err = capsys.readouterr().err
        assert f"--resume goes on with the run's own config.json; drop {named}" in err, err
    assert main(["train", "--resume", "runs/none", "--labels", "100"]) == 2  # the default: on to the run
    assert "drop" not in capsys.readouterr().err


def test_text_ppo_builds_a_text_rl_config_and_text_sft_an_sft_config(monkeypatch, tmp_path):
    import pbrl.text.rl
    import pbrl.text.sft
    from pbrl.text.rl import TextRLConfig
    from pbrl.text.sft import SFTConfig

    got = {}
    monkeypatch.setattr(pbrl.text.rl, "train_text", lambda config, out: got.update(ppo=(config, out)))
    monkeypatch.setattr(pbrl.text.sft, "train_sft", lambda config, out: got.update(sft=(config, out)))
    assert main(["text", "ppo", "--sft", "runs/sft", "--responses", "2e4", "--epochs", "2", "--lr", "3e-5",
                 "--kl-estimator", "k3", "--ptx-coef", "0.1", "--ent-coef", "0.01", "--eval-prompts", "16"]) == 0
    config, out = got["ppo"]
    assert type(config) is TextRLConfig and out == "runs/text-ppo-arithmetic-seed0"
    assert (config.sft, config.responses, config.n_epochs, config.learning_rate, config.kl_estimator, config.ptx_coef,
            config.ent_coef, config.eval_prompts) == ("runs/sft", 20_000, 2, 3e-5, "k3", 0.1, 0.01, 16)
    assert main(["text", "sft", "--task", "arithmetic", "--steps", "1e3", "--corpus-size", "500",
                 "--prompt-tokens", "8", "--out", str(tmp_path)]) == 0
    config, out = got["sft"]
    assert type(config) is SFTConfig and out == str(tmp_path)
    assert (config.task, config.steps, config.corpus_size, config.prompt_tokens, config.response_tokens) == \
        ("arithmetic", 1000, 500, 8, None)
    assert main(["text", "ppo"]) == 2  # no --sft: the config's own error


def test_align_and_baseline_build_their_configs(monkeypatch, tmp_path, capsys):
    import pbrl.baseline
    import pbrl.text.align
    from pbrl.baseline import BaselineConfig
    from pbrl.text.align import AlignConfig

    got = {}
    monkeypatch.setattr(pbrl.text.align, "import_jsonl", lambda path: [])
    monkeypatch.setattr(pbrl.text.align, "align", lambda config, pairs, out: got.update(align=(config, out)))
    assert main(["align", str(tmp_path / "p.jsonl"), "--method", "kto", "--sft", "runs/sft", "--beta", "0.2",
                 "--lr", "1e-5", "--eval-prompts", "8"]) == 0
    config, out = got["align"]
    assert type(config) is AlignConfig and out == "runs/align-kto-sentiment-seed0"
    assert (config.method, config.beta, config.learning_rate, config.eval_prompts) == ("kto", 0.2, 1e-5, 8)
    result = {"true_return_mean": 1.0, "true_return_std": 0.0, "train_seconds": 0.0}
    monkeypatch.setattr(pbrl.baseline, "run_baseline", lambda config: got.update(baseline=config) or result)
    assert main(["baseline", "--steps", "1e4", "--eval-episodes", "3"]) == 0
    assert got["baseline"] == BaselineConfig(steps=10_000, eval_episodes=3)


def test_light_commands_do_not_import_the_trainer():
    code = ("import sys\nfrom pbrl.cli import build_parser\nparser = build_parser()\nparser.format_help()\n"
            "parser.parse_args(['rate', '--demo', '3'])\nprint('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "False", result.stderr


@dataclasses.dataclass(frozen=True)
class _Inner:
    size: int = 2
    """inner size"""
    flag: bool | None = None
    """inner flag"""


@dataclasses.dataclass(frozen=True)
class _Outer:
    size: int = 1
    """outer size, 100% sure"""
    widths: tuple[int, ...] = (4,)
    extra: dict[str, float] = dataclasses.field(default_factory=dict)
    inner: _Inner = dataclasses.field(default_factory=_Inner)


def test_options_from_any_dataclass(capsys):
    parser = argparse.ArgumentParser(prog="t")
    add_config_arguments(parser, _Outer, aliases=[Alias("--on", "inner.flag", const=True)],
                         none_help={_Inner: "the inner default"})
    assert config_from_args(_Outer, parser.parse_args([])) == _Outer()
    args = parser.parse_args(["--size", "1e1", "--inner-size", "5", "--widths", "1", "2", "--extra", "a=0.5", "--on"])
    assert config_from_args(_Outer, args) == _Outer(10, (1, 2), {"a": 0.5}, _Inner(5, True))
    assert config_from_args(_Outer, parser.parse_args(["--no-flag"])).inner.flag is False
    text = parser.format_help()
    assert "--inner-size" in text and "(default: the inner default)" in text and "default: 4" in text
    assert "outer size, 100% sure (default: 1)" in text and "same as --flag" in text
    with pytest.raises(ValueError, match="no field of _Outer is called nope"):
        add_config_arguments(argparse.ArgumentParser(), _Outer, aliases=[Alias("--x", "nope")])


def test_rate_started_before_the_trainer_waits_for_its_run_directory(tmp_path):
    import threading
    import time

    from pbrl.cli import _wait_for_run

    run = tmp_path / "run"

    def trainer():
        time.sleep(1.0)
        run.mkdir()
        (run / "config.json").write_text("{}")

    threading.Thread(target=trainer).start()
    started = time.time()
    _wait_for_run(run, seconds=30)
    assert (run / "config.json").exists() and time.time() - started < 10
