"""The reward-model ensemble: learning, normalisation, persistence, and clear errors."""

import json

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.env_util import make_vec_env

from pbrl.clips import ClipRecorder
from pbrl.dataset import PreferenceDataset
from pbrl.oracle import SyntheticTeacher, teacher_config
from pbrl.query import select_queries
from pbrl.reward_model import RewardEnsemble, RewardModelConfig
from pbrl.types import Query


@pytest.fixture(scope="module")
def pendulum_clips():
    venv = make_vec_env("pbrl/Pendulum-v1", n_envs=2, seed=0)
    rec = ClipRecorder(venv, "pbrl/Pendulum-v1", clip_length=20, pool_size=400)
    rec.seed(0)
    rec.action_space.seed(0)
    rec.reset()
    for _ in range(2000):
        rec.step(np.array([rec.action_space.sample() for _ in range(2)]))
    return list(rec.pool)


def labelled(clips, n, k=2, seed=0):
    teacher = SyntheticTeacher(teacher_config("perfect"), seed=seed)
    data = PreferenceDataset(seed=seed)
    groups, _ = select_queries(clips, n, k, "uniform", rng=np.random.default_rng(seed))
    for i, group in enumerate(groups):
        query = Query(f"q{i}", tuple(c.clip_id for c in group))
        data.add(query, teacher.answer(query, group), {c.clip_id: c for c in group})
    return data


def make_model(**kwargs):
    env = gym.make("pbrl/Pendulum-v1")
    return RewardEnsemble(env.observation_space, env.action_space, RewardModelConfig(**kwargs),
                          env_id="pbrl/Pendulum-v1", seed=0)


def test_ensemble_learns_pendulum_preferences(pendulum_clips):
    data = labelled(pendulum_clips, 300)
    model = make_model()
    report = model.fit(data, pendulum_clips)
    assert report.val_accuracy is not None and report.val_accuracy > 0.85
    fresh = labelled(pendulum_clips, 200, seed=9)
    assert model.accuracy(fresh, np.arange(len(fresh))) > 0.85
    obs = np.concatenate([c.obs for c in pendulum_clips])
    acts = np.concatenate([c.actions for c in pendulum_clips])
    true = np.concatenate([c.true_rewards for c in pendulum_clips])
    assert np.corrcoef(model.predict_reward(obs, acts), true)[0, 1] > 0.8


def test_outputs_are_normalised_per_member_then_combined(pendulum_clips):
    model = make_model(n_members=3)
    model.fit(labelled(pendulum_clips, 60), pendulum_clips)
    obs = np.concatenate([c.obs for c in pendulum_clips])
    acts = np.concatenate([c.actions for c in pendulum_clips])
    z = model.normalised_member_rewards(obs, acts)
    np.testing.assert_allclose(z.mean(1), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(1), 1, atol=1e-4)
    mean = model.predict_reward(obs, acts)
    np.testing.assert_allclose(mean, z.mean(0), atol=1e-5)
    for combine, sign in (("pessimistic", -1), ("optimistic", 1)):
        other = make_model(n_members=3, combine=combine, k=2.0)
        other.net.load_state_dict(model.net.state_dict())
        other.out_mean, other.out_std = model.out_mean, model.out_std
        other.encoder.obs_mean, other.encoder.obs_std = model.encoder.obs_mean, model.encoder.obs_std
        np.testing.assert_allclose(other.predict_reward(obs, acts), mean + sign * 2.0 * z.std(0), atol=1e-4)


@pytest.mark.parametrize("use_actions", [False, True])
def test_numpy_inference_matches_torch(pendulum_clips, use_actions):
    import torch

    model = make_model(use_actions=use_actions)
    model.fit(labelled(pendulum_clips, 30), pendulum_clips)
    obs = np.concatenate([c.obs for c in pendulum_clips[:5]])
    acts = np.concatenate([c.actions for c in pendulum_clips[:5]])
    x = model.encoder.features(obs, acts)
    with torch.no_grad():
        reference = model.net(x.unsqueeze(0).expand(3, *x.shape)).numpy()
    np.testing.assert_allclose(model.member_rewards(obs, acts), reference, rtol=1e-4, atol=1e-5)


def test_plackett_luce_rankings_train(pendulum_clips):
    data = labelled(pendulum_clips, 120, k=3)
    assert data.comparisons[0].ranking is not None
    model = make_model()
    report = model.fit(data, pendulum_clips)
    assert report.val_accuracy is not None and report.val_accuracy > 0.7


def test_l2_adapts_towards_the_papers_band(pendulum_clips):
    model = make_model(l2=1e-6)
    data = labelled(pendulum_clips, 40)
    before = list(model.l2)
    report = model.fit(data, pendulum_clips)
    ratio = report.val_loss / report.train_loss
    changed = [a != b for a, b in zip(before, model.l2, strict=True)]
    assert any(changed) or 1.1 <= ratio <= 1.5
    fixed = make_model(l2=1e-6, adapt_l2=False)
    fixed.fit(data, pendulum_clips)
    assert fixed.l2 == [1e-6] * 3


def test_save_load_round_trip_and_the_gym_make_hook(pendulum_clips, tmp_path):
    model = make_model()
    model.fit(labelled(pendulum_clips, 30), pendulum_clips)
    model.save(tmp_path / "reward_model")
    loaded = RewardEnsemble.load(tmp_path)
    obs = np.concatenate([c.obs for c in pendulum_clips[:3]])
    acts = np.concatenate([c.actions for c in pendulum_clips[:3]])
    np.testing.assert_array_equal(loaded.predict_reward(obs, acts), model.predict_reward(obs, acts))
    env = gym.make("pbrl/Pendulum-v1", reward_model=tmp_path)
    o, _ = env.reset(seed=0)
    _, reward, *_ = env.step(np.array([0.5], np.float32))
    assert reward == pytest.approx(float(model.predict_reward(o[None], np.array([[0.5]], np.float32))[0]), rel=1e-5)


def test_a_loaded_checkpoint_goes_on_fitting_as_the_saved_model_would(pendulum_clips, tmp_path):
    """A resumed run's next refit: Adam's moments and the bootstrap rng travel with the weights."""
    model = make_model()
    first, more = labelled(pendulum_clips, 30), labelled(pendulum_clips, 40, seed=1)
    model.fit(first, pendulum_clips)
    model.save(tmp_path)
    loaded = RewardEnsemble.load(tmp_path)
    model.fit(more, pendulum_clips)
    loaded.fit(more, pendulum_clips)
    obs, acts = pendulum_clips[0].obs, pendulum_clips[0].actions
    np.testing.assert_array_equal(loaded.predict_reward(obs, acts), model.predict_reward(obs, acts))
    (tmp_path / "fit_state.pt").write_bytes(b"damaged")
    with pytest.raises(ValueError, match="fit_state.pt is damaged.*delete it"):
        RewardEnsemble.load(tmp_path)
    (tmp_path / "fit_state.pt").unlink()  # a checkpoint from before: a fresh optimiser
    assert not RewardEnsemble.load(tmp_path).optimizer.state


def test_mismatched_env_and_corrupt_checkpoints_are_clear_errors(pendulum_clips, tmp_path):
    model = make_model()
    model.fit(labelled(pendulum_clips, 20), pendulum_clips)
    model.save(tmp_path)
    with pytest.raises(ValueError, match="trained on pbrl/Pendulum-v1 with observation space"):
        gym.make("pbrl/CartPole-v1", reward_model=tmp_path)
    (tmp_path / "reward_model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupt or unreadable"):
        RewardEnsemble.load(tmp_path)
    (tmp_path / "reward_model.json").write_text("{")
    with pytest.raises(ValueError, match="corrupt or unreadable"):
        RewardEnsemble.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="no reward-model checkpoint"):
        RewardEnsemble.load(tmp_path / "elsewhere")


def test_disagreement_picks_the_most_uncertain_candidates(pendulum_clips):
    model = make_model()
    model.fit(labelled(pendulum_clips, 20), pendulum_clips)
    rng = np.random.default_rng(5)
    chosen, score = select_queries(pendulum_clips, 5, 2, "disagreement", model, rng, oversample=10)
    candidates_rng = np.random.default_rng(5)
    candidates = [[pendulum_clips[i] for i in candidates_rng.choice(len(pendulum_clips), 2, replace=False)]
                  for _ in range(50)]
    variance = model.preference_probabilities(candidates).var(0)
    best = sorted(range(50), key=lambda i: -variance[i])[:5]
    assert [[c.clip_id for c in g] for g in chosen] == [[c.clip_id for c in candidates[i]] for i in best]
    assert score == pytest.approx(variance[best].mean())
    with pytest.raises(ValueError, match="unknown query strategy"):
        select_queries(pendulum_clips, 1, 2, "random")


def test_a_next_observation_model_through_the_hook_and_the_store(pendulum_clips, tmp_path):
    from pbrl.store import PreferenceStore

    model = make_model(use_next_obs=True)
    model.fit(labelled(pendulum_clips, 40), pendulum_clips)
    clip = pendulum_clips[0]
    expected = model.predict_reward(clip.obs, clip.actions, clip.next_obs)
    assert not np.allclose(expected, model.predict_reward(clip.next_obs, clip.actions, clip.obs))
    with pytest.raises(ValueError, match="pass next_obs"):
        model.predict_reward(clip.obs, clip.actions)
    model.save(tmp_path)
    env = gym.make("pbrl/Pendulum-v1", reward_model=tmp_path)
    obs, _ = env.reset(seed=0)
    action = np.array([0.3], np.float32)
    reached, reward, *_ = env.step(action)
    assert reward == pytest.approx(float(model.predict_reward(obs[None], action[None], reached[None])[0]), rel=1e-5)
    store = PreferenceStore(tmp_path / "labels.sqlite")
    store.add_clips([clip])
    np.testing.assert_array_equal(store.clip(clip.clip_id).next_obs, clip.next_obs)


def test_the_papers_cnn_for_atari_frames_trains_saves_and_loads(tmp_path, require):
    require("pbrl/Pong-v5")
    from pbrl.types import Clip, Label, Outcome

    env = gym.make("pbrl/Pong-v5")
    rng = np.random.default_rng(0)
    clips = {}
    for i in range(8):  # bright clips are "better"
        obs = rng.integers(0, 60, size=(3, 4, 84, 84), dtype=np.uint8) + (100 if i % 2 else 0)
        clips[str(i)] = Clip(str(i), "pbrl/Pong-v5", obs.astype(np.uint8), np.zeros(3, np.int64),
                             np.full(3, float(i % 2)), 3)
    data = PreferenceDataset(seed=0, validation_fraction=0.0)
    for i in range(0, 8, 2):
        query = Query(f"q{i}", (str(i), str(i + 1)))
        data.add(query, Label(query.query_id, Outcome.RIGHT), clips)
    model = RewardEnsemble(env.observation_space, env.action_space,
                           RewardModelConfig(n_members=2, min_steps=80, batch_size=4),
                           env_id="pbrl/Pong-v5", seed=0, kind="cnn")
    assert model.kind == "cnn"
    report = model.fit(data, list(clips.values()))
    assert report.train_loss < 0.6  # ln 2 = 0.69 is chance
    bright, dark = clips["1"], clips["0"]
    assert model.predict_reward(bright.obs, bright.actions).mean() > model.predict_reward(dark.obs, dark.actions).mean()
    model.save(tmp_path)
    assert json.loads((tmp_path / "reward_model.json").read_text())["kind"] == "cnn"
    loaded = RewardEnsemble.load(tmp_path)
    assert loaded.kind == "cnn"
    np.testing.assert_allclose(loaded.predict_reward(bright.obs, bright.actions),
                               model.predict_reward(bright.obs, bright.actions), rtol=1e-5)


def test_the_agent_gets_an_atari_reward_at_the_papers_scale(require):
    # the paper normalises an Atari reward predictor to a standard deviation of 0.05 (its policy and
    # value share a CNN; a dense reward of unit scale gives value targets that swamp the policy's gradient)
    require("pbrl/Pong-v5")
    from pbrl.family import family_for
    from pbrl.types import Clip, Label, Outcome

    atari = RewardModelConfig(n_members=2, min_steps=5).resolved(family_for("pbrl/Pong-v5").reward_defaults)
    classic = RewardModelConfig().resolved(family_for("pbrl/CartPole-v1").reward_defaults)
    assert atari.scale == 0.05 and classic.scale == 1
    env = gym.make("pbrl/Pong-v5")
    rng = np.random.default_rng(0)
    clips = {str(i): Clip(str(i), "pbrl/Pong-v5", rng.integers(0, 255, size=(6, 4, 84, 84), dtype=np.uint8),
                          np.zeros(6, np.int64), np.zeros(6), 6) for i in range(4)}
    data = PreferenceDataset(seed=0, validation_fraction=0.0)
    for i in (0, 2):
        query = Query(f"q{i}", (str(i), str(i + 1)))
        data.add(query, Label(query.query_id, Outcome.RIGHT), clips)
    model = RewardEnsemble(env.observation_space, env.action_space, atari, env_id="pbrl/Pong-v5", seed=0, kind="cnn")
    model.fit(data, list(clips.values()))
    frames = np.concatenate([c.obs for c in clips.values()])
    unit = model.normalised_member_rewards(frames, np.zeros(len(frames), np.int64)).mean(0)
    np.testing.assert_allclose(model.predict_reward(frames, np.zeros(len(frames), np.int64)), 0.05 * unit, rtol=1e-5)
    assert unit.std() > 0.3  # the members' normalised mean: unit scale before the 0.05


def test_terminal_states_are_rated_and_worth_zero_to_the_agent():
    """Where episodes end early, a clip cut short is padded with its terminal observation,
    the model prices it, and the agent's reward is shifted so that ending is worth 0."""
    venv = make_vec_env("pbrl/CartPole-v1", n_envs=2, seed=0)
    rec = ClipRecorder(venv, "pbrl/CartPole-v1", clip_length=25, pool_size=400)
    rec.reset()
    for _ in range(3000):
        rec.step(np.array([rec.action_space.sample() for _ in range(2)]))
    clips = list(rec.pool)
    env = gym.make("pbrl/CartPole-v1")
    model = RewardEnsemble(env.observation_space, env.action_space, RewardModelConfig(learn_absorbing=True),
                           center=False, seed=0)
    assert model.absorbing
    short = next(c for c in clips if c.length < c.horizon)
    obs, mask = model.scored_obs(short)
    assert mask.all() and (obs[short.length:] == short.next_obs[short.length - 1]).all()
    model.fit(labelled(clips, 150), clips)
    ended = [c for c in clips if c.length < c.horizon]
    terminal = np.stack([c.next_obs[c.length - 1] for c in ended])
    alive = np.concatenate([c.obs[: c.length] for c in clips])
    r_end = model.predict_reward(terminal, np.zeros(len(terminal), np.int64))
    r_alive = model.predict_reward(alive, np.zeros(len(alive), np.int64))
    assert abs(r_end.mean()) < 0.1 * r_alive.mean()  # the end is the zero
    assert r_alive.mean() > 0.5  # staying alive is rewarded
    fixed = RewardEnsemble(env.observation_space, env.action_space, RewardModelConfig(), center=False)
    assert not fixed.absorbing and fixed.scored_obs(short)[1].sum() == short.length


def test_settings_left_at_none_take_the_familys_then_pbrls_values(pendulum_clips, tmp_path):
    from pbrl.reward_model import BASE_REWARD_DEFAULTS

    base = RewardModelConfig().resolved()
    assert {name: getattr(base, name) for name in BASE_REWARD_DEFAULTS} == dict(BASE_REWARD_DEFAULTS)
    family = RewardModelConfig(lr=1e-2).resolved({"use_actions": True, "lr": 5e-4, "min_steps": None})
    assert family.use_actions is True and family.lr == 1e-2 and family.min_steps == 50  # user, family, pbrl
    with pytest.raises(ValueError, match="not hidden"):
        RewardModelConfig().resolved({"hidden": (8,)})
    model = make_model()  # built from RewardModelConfig(): saved with the values it used
    assert model.config == base
    model.fit(labelled(pendulum_clips, 20), pendulum_clips)
    model.save(tmp_path)
    saved = json.loads((tmp_path / "reward_model.json").read_text())["config"]
    assert all(saved[name] is not None for name in BASE_REWARD_DEFAULTS) and saved["l2"] == 1e-3


PLUGIN = '''
from torch import nn

from pbrl.reward_encoders import VectorEncoder
from pbrl.reward_nets import Members, MemberStack


class LinearStack(MemberStack):
    def __init__(self, n_members, width):
        super().__init__()
        self.members = nn.ModuleList(nn.Sequential(nn.Linear(width, 1), nn.Flatten(0)) for _ in range(n_members))


def linear_members(observation_space, action_space, config):
    encoder = VectorEncoder(observation_space, action_space, config)
    return Members(LinearStack(config.n_members, encoder.width), encoder)
'''


def test_a_member_kind_of_another_package_is_built_saved_and_loaded(pendulum_clips, tmp_path, monkeypatch):
    from pbrl import reward_nets

    (tmp_path / "pbrl_test_linear_members.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(reward_nets, "MEMBERS", dict(reward_nets.MEMBERS))
    monkeypatch.delitem(__import__("sys").modules, "pbrl_test_linear_members", raising=False)
    reward_nets.register_members("linear", "pbrl_test_linear_members:linear_members")
    env = gym.make("pbrl/Pendulum-v1")
    model = RewardEnsemble(env.observation_space, env.action_space, RewardModelConfig(use_actions=True), seed=0,
                           kind="linear")
    assert type(model.net).__name__ == "LinearStack"
    model.fit(labelled(pendulum_clips, 30), pendulum_clips)
    model.save(tmp_path / "rm")
    assert json.loads((tmp_path / "rm" / "reward_model.json").read_text())["kind"] == "linear"
    loaded = RewardEnsemble.load(tmp_path / "rm")
    assert loaded.kind == "linear" and type(loaded.net).__name__ == "LinearStack"
    obs = np.concatenate([c.obs for c in pendulum_clips[:3]])
    acts = np.concatenate([c.actions for c in pendulum_clips[:3]])
    np.testing.assert_array_equal(loaded.predict_reward(obs, acts), model.predict_reward(obs, acts))
    del reward_nets.MEMBERS["linear"]  # a checkpoint of a kind nobody registered: a clear error
    with pytest.raises(ValueError, match="no reward member kind 'linear'.*register_members"):
        RewardEnsemble.load(tmp_path / "rm")
    with pytest.raises(ValueError, match="'module:attr'"):
        reward_nets.register_members("bad", "no_colon")


def test_a_kind_that_cannot_read_the_spaces_is_a_clear_error():
    env = gym.make("pbrl/Pendulum-v1")
    with pytest.raises(ValueError, match="stacked uint8 frames"):
        RewardEnsemble(env.observation_space, env.action_space, kind="cnn")
    with pytest.raises(ValueError, match="prompt ids"):
        RewardEnsemble(env.observation_space, env.action_space, kind="text")



def test_the_temporal_crop_rates_windows_of_one_length_per_comparison_and_still_learns(pendulum_clips, monkeypatch):
    model = make_model(crop=0.4)
    windows = model._crop_windows(3, 50, 2, 20).numpy()  # [M, B, K, H]
    lengths = windows.sum(-1)
    assert (lengths[..., 0] == lengths[..., 1]).all()  # both clips of a comparison: one length
    assert lengths.min() >= 12 and lengths.max() <= 20 and len(np.unique(lengths)) > 3
    runs = np.diff(np.concatenate([np.zeros((3, 50, 2, 1)), windows, np.zeros((3, 50, 2, 1))], -1), axis=-1)
    assert ((runs == 1).sum(-1) == 1).all()  # each window one unbroken stretch
    starts = windows.argmax(-1)
    assert len(np.unique(starts)) > 3  # at random starts
    crops = []
    real = model._crop_windows
    monkeypatch.setattr(model, "_crop_windows", lambda *a: crops.append(a) or real(*a))
    data = labelled(pendulum_clips, 300)
    report = model.fit(data, pendulum_clips)
    assert report.val_accuracy is not None and report.val_accuracy > 0.85  # measured on whole clips
    assert crops  # training steps cropped; measuring does not:
    crops.clear()
    model.accuracy(data, np.arange(len(data)))
    assert not crops
    with pytest.raises(ValueError, match="crop must be in"):
        RewardModelConfig(crop=1.0)


def test_pseudo_labels_train_on_the_groups_a_member_is_sure_of(pendulum_clips, monkeypatch):
    model = make_model(pseudo_weight=1.0, crop=0.2)
    calls = []
    real = model._pseudo_losses
    monkeypatch.setattr(model, "_pseudo_losses", lambda *a: calls.append(a) or real(*a))
    report = model.fit(labelled(pendulum_clips[:120], 150), pendulum_clips[120:])  # recent clips no query showed
    assert calls and report.val_accuracy is not None and report.val_accuracy > 0.8
    u = model._clip_tensors(pendulum_clips[120:])
    state = model.rng.bit_generator.state
    sure = real(u, 64, 2)
    assert sure.shape == (3,) and (sure > 0).all() and sure.requires_grad
    model.rng.bit_generator.state = state  # the same groups and crops: only the bar moves
    model.config = RewardModelConfig(pseudo_weight=1.0, crop=0.2, pseudo_threshold=0.999999)
    assert (real(u, 64, 2).detach() < sure.detach()).all()  # fewer groups pass a higher bar
    for bad in (dict(pseudo_threshold=0.3), dict(pseudo_weight=float("nan")), dict(pseudo_weight=-1.0)):
        with pytest.raises(ValueError, match="pseudo_weight must be"):
            RewardModelConfig(**bad)


def test_the_default_fit_neither_crops_nor_pseudo_labels(pendulum_clips, monkeypatch):
    """The levers are off by default: the paper's fit, draw for draw."""
    model = make_model()

    def refuse(*_):
        raise AssertionError("a default fit called a lever")

    monkeypatch.setattr(model, "_crop_windows", refuse)
    monkeypatch.setattr(model, "_pseudo_losses", refuse)
    model.fit(labelled(pendulum_clips, 40), pendulum_clips)


def test_queries_with_groups_compare_clips_of_one_group_only():
    from pbrl.types import Clip

    clips = [Clip(f"c{i}", "pbrl/CartPole-v1", np.full((3, 4), i % 5, np.float32), np.zeros(3, np.int64),
                  np.ones(3), 3) for i in range(40)]
    groups, _ = select_queries(clips, 30, 3, "uniform", rng=np.random.default_rng(0),
                               group_of=lambda c: int(c.obs[0, 0]))
    assert len(groups) == 30 and all(len({int(c.obs[0, 0]) for c in g}) == 1 for g in groups)
    assert len({frozenset(c.clip_id for c in g) for g in groups}) == 30  # none twice
    lonely = [Clip(f"l{i}", "pbrl/CartPole-v1", np.full((3, 4), i, np.float32), np.zeros(3, np.int64), np.ones(3), 3)
              for i in range(6)]
    alone, _ = select_queries(lonely, 2, 2, "uniform", rng=np.random.default_rng(0), group_of=lambda c: c.obs[0, 0])
    assert alone == []  # no group holds two clips


def test_a_fit_with_a_label_buffer_trains_on_the_most_recent_labels_only(pendulum_clips, monkeypatch):
    data = labelled(pendulum_clips, 60)
    recent = data.recent(25)
    assert [c.query_id for c in recent.comparisons] == [c.query_id for c in data.comparisons[-25:]]
    assert recent.is_validation == data.is_validation[-25:]
    assert set(recent.clips) == {c for comp in recent.comparisons for c in comp.clip_ids} < set(data.clips)
    model = make_model(max_labels=25)
    seen = []
    original = RewardEnsemble._tensors
    monkeypatch.setattr(RewardEnsemble, "_tensors", lambda self, d: seen.append(d) or original(self, d))
    report = model.fit(data, pendulum_clips)
    assert len(seen[0]) == 25 and report.labels == 60 and model.labels_seen == 60
    assert make_model().config.max_labels == 0  # pbrl's default: every label
    with pytest.raises(ValueError, match="--max-labels must be a number >= 0"):
        RewardModelConfig(max_labels=-1)


def test_the_device_is_named_or_found_and_a_missing_gpu_is_a_clear_error(monkeypatch):
    import torch

    from pbrl.reward_nets import torch_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert torch_device("auto") == torch.device("cpu") and torch_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        torch_device("cuda")
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        torch_device("gpu")
    env = gym.make("pbrl/Pendulum-v1")
    model = RewardEnsemble(env.observation_space, env.action_space, RewardModelConfig(), device="auto")
    assert {p.device for p in model.net.parameters()} == {torch.device("cpu")}
