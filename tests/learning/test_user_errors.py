"""Every error a user can fix is one line naming the file or flag, the cause and the fix (exit
status 2), and leaves what is stored as it was; anything else keeps its traceback. Real
corrupted files, real runs."""

import json
import os
import pickle
import shutil
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from pbrl.cli import main
from pbrl.errors import InputError, PbrlError
from pbrl.store import PreferenceStore
from pbrl.trainer import TrainConfig, train

PBRL = os.path.join(os.path.dirname(sys.executable), "pbrl")
TINY = dict(env_id="pbrl/CartPole-v1", labels=12, steps=2500, seed=4, video=False, eval_episodes=1)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "done"
    train(TrainConfig(**TINY), out)
    return out


@pytest.fixture
def run(finished, tmp_path):
    """A copy of a finished run to damage."""
    copy = tmp_path / "run"
    shutil.copytree(finished, copy, ignore=shutil.ignore_patterns("trainer.lock"))
    return copy


def _fails(capsys, argv, *phrases):
    """``pbrl ARGV`` exits 2 with one line on stderr holding every phrase."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"pbrl {argv[0]}: error: "), err
    for phrase in phrases:
        assert phrase in err, err
    return err


def _snapshot(path):
    return {p.relative_to(path): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file() and p.name not in ("trainer.lock", "labels.sqlite-shm", "labels.sqlite-wal")}


def test_a_bug_keeps_its_traceback(monkeypatch):
    import pbrl.cli

    def broken(args):
        raise ValueError("an internal mistake")  # not a PbrlError: a bug, not the user's input

    monkeypatch.setattr(pbrl.cli, "_envs", broken)
    with pytest.raises(ValueError, match="an internal mistake"):
        main(["envs"])


def test_pbrl_errors_are_the_builtins_they_refine():
    from pbrl import errors

    assert issubclass(errors.InputError, ValueError) and issubclass(errors.MissingFileError, FileNotFoundError)
    assert issubclass(errors.StateError, RuntimeError) and issubclass(errors.UnknownNameError, KeyError)
    assert str(errors.UnknownNameError("no such id")) == "no such id"  # not KeyError's quoted form


def test_a_damaged_page_of_labels_sqlite_is_named(run, capsys):
    db = sqlite3.connect(run / "labels.sqlite")
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.close()
    size = (run / "labels.sqlite").stat().st_size
    with open(run / "labels.sqlite", "r+b") as f:  # garble every page after the first (the schema stays)
        f.seek(size // pages)
        f.write(b"\x13" * (size - size // pages))
    _fails(capsys, ["train", "--resume", str(run)], "labels.sqlite is damaged", ".recover")


def test_a_broken_clip_blob_is_named(run, capsys):
    db = sqlite3.connect(run / "labels.sqlite")
    clip_id = db.execute("SELECT clip_id FROM clips LIMIT 1").fetchone()[0]
    db.execute("UPDATE clips SET data = ? WHERE clip_id = ?", (b"PK\x03\x04 not a zip", clip_id))
    db.commit()
    db.close()
    _fails(capsys, ["train", "--resume", str(run)], f"the arrays of clip '{clip_id}' are damaged", "labels.sqlite")


def test_a_crafted_pickle_in_policy_pt_is_refused_unread(run, capsys, tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (run / "policy.pt").write_bytes(pickle.dumps(Payload()))
    _fails(capsys, ["evaluate", str(run)], "policy.pt is not tensors pbrl can read", "refused unread")
    assert not marker.exists()


@pytest.mark.parametrize("name, garbage, phrase", [
    ("policy.pt", b"\x00" * 50, "policy.pt is not tensors pbrl can read"),
    ("policy.json", b"{not json", "policy.json is corrupt"),
    ("config.json", b"{not json", "config.json is corrupt"),
])
def test_corrupt_run_files_are_named(run, capsys, name, garbage, phrase):
    (run / name).write_bytes(garbage)
    _fails(capsys, ["evaluate", str(run)], phrase, "nothing was changed")


def test_a_reward_model_json_missing_a_key_is_named(run, capsys):
    path = run / "reward_model" / "reward_model.json"
    meta = json.loads(path.read_text())
    del meta["center"]
    path.write_text(json.dumps(meta))
    before = _snapshot(run)
    _fails(capsys, ["train", "--resume", str(run)], "reward_model.json lacks center", "restore it from a copy")
    assert _snapshot(run) == before


def test_a_damaged_optimizer_file_is_named_and_changes_nothing(run, capsys):
    (run / "optimizer.pt").write_bytes(b"\x00" * 50)
    before = _snapshot(run)
    _fails(capsys, ["train", "--resume", str(run)], "optimizer.pt is damaged", "fresh optimisers")
    assert _snapshot(run) == before


def test_config_json_edited_to_another_env_is_named(run, capsys):
    for name in ("config.json", "policy.json"):
        path = run / name
        path.write_text(path.read_text().replace("pbrl/CartPole-v1", "pbrl/Acrobot-v1"))
    before = _snapshot(run)
    _fails(capsys, ["train", "--resume", str(run)], "policy.pt does not fit", "size mismatch", "nothing was changed")
    assert _snapshot(run) == before


@pytest.mark.parametrize("out, phrase", [("/proc/pbrl-nope/run", "No such file or directory"),
                                         ("x" * 300, "(300 characters)")])
def test_an_out_that_cannot_be_made_is_named(capsys, out, phrase):
    _fails(capsys, ["train", "pbrl/CartPole-v1", "--labels", "8", "--steps", "2000", "--out", out],
           "--out", "cannot make the run directory", phrase)


@pytest.mark.parametrize("flags, phrase", [
    (["--seed", "-1"], "--seed must be a number >= 0, got -1"),
    (["--l2", "-1"], "--l2 must be a number >= 0"),
    (["--fit-lag", "-5"], "--fit-lag must be a number >= 0"),
    (["--std-k", "nan"], "--reward-k (--std-k) must be a number >= 0, got nan"),
    (["--lr", "inf"], "--lr must be a number > 0"),
    (["--eval-episodes", "0"], "--eval-episodes must be a number >= 1"),
])
def test_numeric_flags_are_checked(capsys, tmp_path, flags, phrase):
    out = tmp_path / "r"
    _fails(capsys, ["train", "pbrl/CartPole-v1", "--labels", "8", "--steps", "2000", *flags, "--out", str(out)],
           phrase)
    assert not out.exists()


@pytest.mark.parametrize("value", ["inf", "nan"])
def test_steps_must_be_a_whole_number(value):
    result = subprocess.run([PBRL, "train", "pbrl/CartPole-v1", "--steps", value], capture_output=True, text=True)
    assert result.returncode == 2 and f"invalid int value: '{value}'" in result.stderr
    assert "Traceback" not in result.stderr


def test_evaluate_and_rate_check_their_arguments(finished, capsys):
    _fails(capsys, ["evaluate", str(finished), "--episodes", "0"], "--episodes must be >= 1")
    _fails(capsys, ["rate", str(finished / "config.json")], "is a file, not a run directory")
    _fails(capsys, ["rate", str(finished)], "trained with the perfect teacher", "none waits for people")


def test_align_names_the_line_that_is_not_utf8(tmp_path, capsys):
    path = tmp_path / "pairs.jsonl"
    path.write_bytes(b'{"prompt": "a", "chosen": "b", "rejected": "c"}\n{"prompt": "\xff"}\n')
    _fails(capsys, ["align", str(path), "--export", str(tmp_path / "x.jsonl")], "pairs.jsonl:2: not UTF-8")


def test_fit_refuses_clips_holding_nan(finished):
    from pbrl.reward_model import RewardEnsemble

    store = PreferenceStore(finished / "labels.sqlite")
    clip = store.clip(store.queries()[0].clip_ids[0])
    clip.obs[3, 1] = np.nan
    model = RewardEnsemble.load(finished)
    from pbrl.dataset import PreferenceDataset

    dataset = PreferenceDataset(seed=0)
    query = store.queries()[0]
    label = next(lab for lab in store.labels() if lab.query_id == query.query_id)
    other = store.clip(query.clip_ids[1])
    dataset.add(query, label, {clip.clip_id: clip, other.clip_id: other})
    with pytest.raises(InputError, match=f"clip '{clip.clip_id}' .* non-finite value in its obs"):
        model.fit(dataset, [])


@pytest.mark.parametrize("reward_model, phrase", [
    (lambda obs, actions: np.array([np.nan]), "the reward model returned nan for a finite observation"),
    (lambda obs, actions: np.array([1.0, 2.0]), "returned shape (2,) for a batch of 1 step"),
    (lambda obs, actions: np.zeros((1, 3)), "returned shape (1, 3)"),
    (lambda obs, actions: "good", "output is not numbers"),
])
def test_a_reward_callable_that_misbehaves_is_blamed(reward_model, phrase):
    import gymnasium as gym

    env = gym.make("pbrl/CartPole-v1", reward_model=reward_model)
    env.reset(seed=0)
    with pytest.raises(PbrlError, match=phrase.replace("(", r"\(").replace(")", r"\)")):
        env.step(0)


def test_judges_must_take_prompt_and_responses(tmp_path, monkeypatch):
    from pbrl.text.judge import load_judge

    with pytest.raises(InputError, match="does not take \\(prompt, responses\\)"):
        load_judge("judge:os:system")
    (tmp_path / "my_judge.py").write_text("def pick(prompt, responses):\n    return 0\n")
    monkeypatch.chdir(tmp_path)  # a judge beside the user is found, as python -m finds it
    name, judge = load_judge("judge:my_judge:pick")
    assert name == "my_judge:pick" and judge("p", ["a", "b"]) == 0
    assert str(tmp_path) not in sys.path
    with pytest.raises(InputError, match="the module must be in the current directory"):
        load_judge("judge:no_such_judge_module:pick")


def test_resume_does_not_import_a_judge_it_was_not_told_to(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    marker = tmp_path / "imported"
    (tmp_path / "evil.py").write_text(f"open({str(marker)!r}, 'w').close()\ndef judge(prompt, responses):\n"
                                      "    return 0\n")
    config = {**TrainConfig(**TINY).to_json(), "env_id": "pbrl/ResponseGame-v0", "teacher": "judge:evil:judge"}
    (out / "config.json").write_text(json.dumps(config))
    PreferenceStore(out / "labels.sqlite").close()
    _fails(capsys, ["train", "--resume", str(out)], "names the judge judge:evil:judge",
           f"--resume {out} --teacher judge:evil:judge")
    assert not marker.exists()
