"""The reward-model ensemble of Christiano et al. 2017.

N members (default 3), each trained on a bootstrap sample of the labels with the
Bradley-Terry loss (10% random-answer model; equal labels as 0.5/0.5) or Plackett-Luce for
K-wise rankings; 1/e of the labels held out for validation; L2 adapted to keep the
validation loss at 1.1-1.5x the training loss (or fixed); optional dropout. An MLP on
(observation, action) for vector envs, the paper's CNN on stacked frames for Atari, a small
transformer on (prompt, response) token ids for the response game (``pbrl.text.reward``).
The reward given to the agent is each member's output normalised and averaged: zero mean
and unit std where episodes have a fixed length; where they can end early (classic
control), the reward after termination is 0, so the mean is kept and the root mean square
is scaled to 1 (or, with ``learn_absorbing``, the state after termination is rated too: a
clip cut short is padded with its terminal observation, which the preferences then price,
and the agent's rewards are shifted so that terminal states are worth 0, as the env's own
end is); ``mean - k*std`` (pessimistic) and
``mean + k*std`` (optimistic) are options.

Checkpoints are a ``state_dict`` file (``reward_model.pt``, loaded with
``weights_only=True``) plus JSON metadata with a format version (``reward_model.json``).
"""

from __future__ import annotations

import json
import math
import os
import pickle
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from pbrl.dataset import PreferenceDataset
from pbrl.io import atomic_write
from pbrl.preference_loss import bradley_terry_loss, plackett_luce_loss
from pbrl.types import Clip

FORMAT_VERSION = 1
CHECKPOINT = "reward_model.pt"
METADATA = "reward_model.json"
COMBINE = ("mean", "pessimistic", "optimistic")


@dataclass(frozen=True)
class RewardModelConfig:
    """Reward-model hyperparameters (defaults after Christiano et al. 2017 and B-Pref)."""

    n_members: int = 3
    """ensemble size"""
    hidden: tuple[int, ...] = (64, 64)
    """MLP hidden layer widths"""
    lr: float = 3e-4
    """Adam learning rate"""
    batch_size: int = 64
    """comparisons per gradient step (fewer for long clips: see max_batch_steps)"""
    max_batch_steps: int = 4096
    """env steps (clip steps x clips) one member sees per gradient step, at most"""
    max_eval: int = 512
    """comparisons (a seeded random subset) on which train / validation losses are measured"""
    epochs: float = 4.0
    """passes over each member's bootstrap sample per fit"""
    min_steps: int = 50
    """gradient steps per member per fit, at least"""
    l2: float = 1e-3
    """initial (or fixed) L2 weight"""
    adapt_l2: bool = True
    """adapt L2 so validation loss stays at 1.1-1.5x training loss"""
    dropout: float = 0.0
    """dropout probability (the CNN defaults to 0.5 when this is 0)"""
    use_actions: bool | None = None
    """feed the action to the MLP beside the observation, r(s, a) as in the paper; None picks
    per family (the trainer): r(s, a) for MuJoCo, r(s) for classic control, where Pendulum's
    policy gamed an r(s, a) model (200 labels: 3 of 5 seeds failed; see BENCHMARKS.md)"""
    use_next_obs: bool = False
    """rate the observation each action led to (r(s')) instead of the one it was taken in"""
    noise: float = 0.1
    """probability that the judge answers at random, in the likelihood"""
    combine: str = "mean"
    """mean, pessimistic (mean - k*std) or optimistic (mean + k*std)"""
    k: float = 1.0
    """the k of pessimistic / optimistic"""
    learn_absorbing: bool = False
    """where episodes can end early: rate the state after termination with the model too (the
    terminal observation stands for every padded step of a clip cut short) instead of fixing
    its reward at 0, and give the agent rewards relative to it (BENCHMARKS.md compares both
    on CartPole)"""

    def __post_init__(self) -> None:
        if not self.hidden:
            raise ValueError("hidden must name at least one layer width, e.g. (64, 64)")
        if self.n_members < 1:
            raise ValueError(f"n_members must be >= 1, got {self.n_members}")
        if self.combine not in COMBINE:
            raise ValueError(f"combine must be one of {COMBINE}, got {self.combine!r}")
        if not 0 <= self.noise < 1:
            raise ValueError(f"noise must be in [0, 1), got {self.noise}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


def is_image_space(space: gym.Space) -> bool:
    return isinstance(space, gym.spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3


def is_text_space(observation_space: gym.Space, action_space: gym.Space) -> bool:
    """The response game's spaces: prompt ids (an integer Box) and a MultiDiscrete response."""
    return (isinstance(action_space, gym.spaces.MultiDiscrete) and isinstance(observation_space, gym.spaces.Box)
            and np.issubdtype(observation_space.dtype, np.integer))


def describe_space(space: gym.Space) -> dict[str, Any]:
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n)}
    if isinstance(space, gym.spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": [int(v) for v in space.nvec.ravel()]}
    if isinstance(space, gym.spaces.Box):
        desc = {"type": "Box", "shape": list(space.shape), "dtype": str(space.dtype)}
        if np.issubdtype(space.dtype, np.integer) and space.dtype != np.uint8:  # token ids: the bounds are the vocabulary
            desc.update(low=int(np.min(space.low)), high=int(np.max(space.high)))
        return desc
    raise TypeError(f"pbrl reward models support Box, Discrete and MultiDiscrete spaces, not {space}")


class EnsembleMLP(nn.Module):
    """M MLPs r(s, a) evaluated together: layer weights are ``[M, in, out]`` tensors, so one
    batched matrix product runs every member (leaky ReLU 0.01, optional dropout)."""

    def __init__(self, n_members: int, in_dim: int, hidden: tuple[int, ...], dropout: float) -> None:
        super().__init__()
        sizes = [in_dim, *hidden, 1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(fan_in)  # nn.Linear's default initialisation
            self.weights.append(nn.Parameter(torch.empty(n_members, fan_in, fan_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(n_members, 1, fan_out).uniform_(-bound, bound)))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [M, N, in]`` -> ``[M, N]``."""
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = self.dropout(nn.functional.leaky_relu(x, 0.01))
        return x.squeeze(-1)

    def l2(self) -> torch.Tensor:
        """Sum of squared weights of each member, ``[M]``."""
        return sum((w**2).sum(dim=(1, 2)) for w in self.weights)


class CNNReward(nn.Module):
    """The paper's Atari predictor: 4 conv layers (7x7/3, 5x5/2, 3x3/1, 3x3/1, 16 filters),
    batch norm, dropout, leaky ReLU (0.01), a 64-unit layer and a scalar output."""

    def __init__(self, in_channels: int, size: int, dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for kernel, stride in ((7, 3), (5, 2), (3, 1), (3, 1)):
            layers += [nn.Conv2d(channels, 16, kernel, stride), nn.BatchNorm2d(16), nn.LeakyReLU(0.01), nn.Dropout(dropout)]
            channels = 16
        self.conv = nn.Sequential(*layers)
        with torch.no_grad():
            flat = self.conv(torch.zeros(1, in_channels, size, size)).numel()
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(flat, 64), nn.LeakyReLU(0.01), nn.Linear(64, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x)).squeeze(-1)


class CNNEnsemble(nn.Module):
    """M :class:`CNNReward` members behind the :class:`EnsembleMLP` interface."""

    def __init__(self, n_members: int, in_channels: int, size: int, dropout: float) -> None:
        super().__init__()
        self.members = nn.ModuleList(CNNReward(in_channels, size, dropout) for _ in range(n_members))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [M, N, C, H, W]`` -> ``[M, N]``."""
        return torch.stack([member(x[m]) for m, member in enumerate(self.members)])

    def l2(self) -> torch.Tensor:
        return torch.stack([sum((p**2).sum() for n, p in m.named_parameters() if n.endswith("weight")) for m in self.members])


@dataclass
class FitReport:
    """What one refit measured."""

    labels: int
    train_loss: float
    val_loss: float | None
    val_accuracy: float | None
    l2: list[float] = field(default_factory=list)
    seconds: float = 0.0


class RewardEnsemble:
    """An ensemble of reward predictors trained from preferences.

    :param observation_space: the env's observation space.
    :param action_space: the env's action space.
    :param config: hyperparameters.
    :param env_id: recorded in checkpoints.
    :param center: subtract each member's mean prediction (right where every episode has the
        same length; where episodes can end early the level matters: see ``learn_absorbing``).
    :param seed: seeds initialisation, bootstrap samples and minibatches.
    """

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: RewardModelConfig = RewardModelConfig(),
        env_id: str = "",
        center: bool = True,
        seed: int = 0,
    ) -> None:
        self.observation_space, self.action_space = observation_space, action_space
        self.obs_desc, self.act_desc = describe_space(observation_space), describe_space(action_space)
        self.config, self.env_id, self.center = config, env_id, center
        # the absorbing state after a termination is rated by the model (its terminal
        # observation), and the agent's rewards are shifted so that it is worth 0, as the
        # env's own "no reward after the end" is
        self.absorbing = bool(config.learn_absorbing and not center)
        self.image = is_image_space(observation_space)
        self.text = is_text_space(observation_space, action_space)
        self.rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        obs_dim = int(np.prod(observation_space.shape))
        if self.image:
            channels, size = observation_space.shape[0], observation_space.shape[-1]
            self.net: nn.Module = CNNEnsemble(config.n_members, channels, size, config.dropout or 0.5)
        elif self.text:
            from pbrl.text.reward import TextEnsemble

            seq_len = obs_dim + int(action_space.shape[0])
            self.net = TextEnsemble(config.n_members, seq_len, int(action_space.nvec.max()), config.dropout)
        else:
            act_dim = int(action_space.n) if isinstance(action_space, gym.spaces.Discrete) else int(np.prod(action_space.shape))
            act_dim = act_dim if config.use_actions else 0  # None (not resolved): r(s)
            self.net = EnsembleMLP(config.n_members, obs_dim + act_dim, config.hidden, config.dropout)
        self.net.eval()
        # Adam is elementwise, so one optimiser over the stacked weights trains each member alone
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.lr)
        self.l2 = [config.l2] * config.n_members
        self.obs_mean = np.zeros(obs_dim, np.float32)
        self.obs_std = np.ones(obs_dim, np.float32)
        self.out_mean = np.zeros(config.n_members, np.float32)
        self.out_std = np.ones(config.n_members, np.float32)
        self.labels_seen = 0
        self.fitted = False
        self._numpy_weights: list[list[tuple[np.ndarray, np.ndarray]]] | None = None

    # --- features ---------------------------------------------------------------------------

    def features(self, obs: np.ndarray, actions: np.ndarray) -> torch.Tensor:
        """``[N, ...]`` model input for N (observation, action) steps."""
        if self.image:
            return torch.as_tensor(np.asarray(obs), dtype=torch.float32) / 255.0
        n = len(obs)
        if self.text:  # prompt ids then response ids, one sequence per step
            return torch.from_numpy(np.concatenate([np.asarray(obs, np.int64).reshape(n, -1),
                                                    np.asarray(actions, np.int64).reshape(n, -1)], axis=1))
        x = (np.asarray(obs, np.float32).reshape(n, -1) - self.obs_mean) / self.obs_std
        if not self.config.use_actions:
            return torch.from_numpy(x)
        if self.act_desc["type"] == "Discrete":
            a = np.zeros((n, self.act_desc["n"]), np.float32)
            a[np.arange(n), np.asarray(actions).reshape(n).astype(np.int64)] = 1.0
        else:
            a = np.asarray(actions, np.float32).reshape(n, -1)
        return torch.from_numpy(np.concatenate([x, a], axis=1))

    def clip_obs(self, clip: Clip) -> np.ndarray:
        """The observations the model rates for ``clip``: ``obs``, or ``next_obs`` for r(s')."""
        if not self.config.use_next_obs:
            return clip.obs
        if clip.next_obs is None:
            raise ValueError(f"clip {clip.clip_id} has no next_obs, which a reward model on r(s') needs")
        return clip.next_obs

    @property
    def needs_next_obs(self) -> bool:
        return self.config.use_next_obs

    def scored_obs(self, clip: Clip) -> tuple[np.ndarray, np.ndarray]:
        """The observations whose rewards make up the clip's return, and the mask over them.

        A clip cut short by a termination is padded; with ``absorbing`` the padded steps are
        the terminal observation, rated like any other (mask 1), else they are masked out
        (an absorbing state of reward 0)."""
        obs = self.clip_obs(clip)
        if not self.absorbing or clip.length == clip.horizon or clip.next_obs is None:
            return obs, clip.mask
        obs = obs.copy()
        obs[clip.length:] = clip.next_obs[clip.length - 1]
        return obs, np.ones(clip.horizon, np.float32)

    def _stack(self, clips: list[list[Clip]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``obs [B*K*H, ...]``, ``actions [B*K*H, ...]``, ``mask [B, K, H]``."""
        flat = [c for group in clips for c in group]
        scored = [self.scored_obs(c) for c in flat]
        obs = np.concatenate([o for o, _ in scored])
        actions = np.concatenate([c.actions for c in flat])
        mask = np.stack([m for _, m in scored]).reshape(len(clips), len(clips[0]), -1)
        return obs, actions, mask

    # --- training ---------------------------------------------------------------------------

    def _update_obs_normalisation(self, clips: list[Clip]) -> None:
        if self.image or self.text or not clips:
            return
        obs = np.concatenate([self.clip_obs(c)[: c.length] for c in clips]).reshape(-1, len(self.obs_mean)).astype(np.float64)
        self.obs_mean = obs.mean(0).astype(np.float32)
        self.obs_std = np.maximum(obs.std(0), 1e-3).astype(np.float32)

    def _tensors(self, dataset: PreferenceDataset) -> dict[str, torch.Tensor]:
        """The dataset as tensors: per-clip features, masks, and each comparison's clip indices
        and target, so that a minibatch is an index lookup rather than Python work."""
        ids = list(dataset.clips)
        index = {cid: i for i, cid in enumerate(ids)}
        clips = [dataset.clips[c] for c in ids]
        horizon = clips[0].horizon
        scored = [self.scored_obs(c) for c in clips]
        obs = np.concatenate([o for o, _ in scored])
        if self.image:  # kept as uint8 (4x smaller); scaled per minibatch
            x = torch.from_numpy(np.ascontiguousarray(obs))
        else:
            x = self.features(obs, np.concatenate([c.actions for c in clips]))
        comps = dataset.comparisons
        out = {
            "x": x.reshape(len(clips), horizon, *x.shape[1:]),
            "mask": torch.from_numpy(np.stack([m for _, m in scored])),
            "clips": torch.tensor([[index[c] for c in comp.clip_ids] for comp in comps], dtype=torch.long),
        }
        if comps[0].ranking is None:
            out["target"] = torch.tensor([c.target_left for c in comps], dtype=torch.float32)
        else:
            out["ranking"] = torch.tensor([c.ranking for c in comps], dtype=torch.long)
        return out

    def _returns(self, t: dict[str, torch.Tensor], idx: torch.Tensor) -> torch.Tensor:
        """Clip returns ``[M, B, K]`` of comparisons ``idx [M, B]`` (each member its own batch)."""
        clip_idx = t["clips"][idx]  # [M, B, K]
        x = t["x"][clip_idx]  # [M, B, K, H, ...]
        if self.image:
            x = x.float() / 255.0
        m, b, k, h = x.shape[:4]
        raw = self.net(x.reshape(m, b * k * h, *x.shape[4:])).reshape(m, b, k, h)
        return (raw * t["mask"][clip_idx]).sum(-1)

    def _member_losses(self, t: dict[str, torch.Tensor], idx: torch.Tensor) -> torch.Tensor:
        """Preference loss of each member on its comparisons ``idx [M, B]``, ``[M]``."""
        returns = self._returns(t, idx)
        m, b, k = returns.shape
        flat = returns.reshape(m * b, k)
        if "target" in t:
            losses = bradley_terry_loss(flat, t["target"][idx].reshape(-1), self.config.noise)
        else:
            losses = plackett_luce_loss(flat, t["ranking"][idx].reshape(m * b, k), self.config.noise)
        return losses.reshape(m, b).mean(1)

    def _evaluate_losses(self, t: dict[str, torch.Tensor], idx: np.ndarray) -> np.ndarray:
        """Every member's loss on the comparisons ``idx`` (no dropout, no gradient), ``[M]``."""
        m = self.config.n_members
        if len(idx) == 0:
            return np.full(m, np.nan)
        total = np.zeros(m)
        with torch.no_grad():
            for chunk in np.array_split(idx, max(1, len(idx) // 128)):
                picks = torch.from_numpy(chunk).long().unsqueeze(0).expand(m, -1)
                total += self._member_losses(t, picks).numpy() * len(chunk)
        return total / len(idx)

    def fit(self, dataset: PreferenceDataset, normalisation_clips: list[Clip]) -> FitReport:
        """Train every member on its own bootstrap sample of ``dataset``'s training labels,
        adapt L2, then normalise outputs over ``normalisation_clips`` (recent behaviour)."""
        start = time.perf_counter()
        train_idx, val_idx = dataset.split()
        if len(train_idx) == 0:
            raise ValueError("the reward model needs at least one non-skipped label to fit")
        self._update_obs_normalisation(list(dataset.clips.values()) + list(normalisation_clips))
        cfg, n_members = self.config, self.config.n_members
        t = self._tensors(dataset)
        boots = [self.rng.choice(train_idx, size=len(train_idx), replace=True) for _ in range(n_members)]
        per_comparison = t["x"].shape[1] * t["clips"].shape[1]
        batch = max(1, min(cfg.batch_size, len(train_idx), cfg.max_batch_steps // per_comparison))
        steps = max(cfg.min_steps, math.ceil(cfg.epochs * len(train_idx) / cfg.batch_size))
        l2 = torch.tensor(self.l2, dtype=torch.float32)
        self.net.train()
        for _ in range(steps):
            picks = torch.from_numpy(np.stack([self.rng.choice(boot, size=batch, replace=False) for boot in boots])).long()
            loss = (self._member_losses(t, picks) + l2 * self.net.l2()).sum()
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        self.net.eval()
        self._numpy_weights = None
        subset = lambda idx: idx if len(idx) <= cfg.max_eval else np.sort(self.rng.choice(idx, cfg.max_eval, replace=False))  # noqa: E731
        train_losses = self._evaluate_losses(t, subset(train_idx))
        val_sub = subset(val_idx)
        val_losses = self._evaluate_losses(t, val_sub)
        if cfg.adapt_l2 and len(val_idx):
            for m in range(n_members):  # the paper's rule: validation loss at 1.1-1.5x training loss
                ratio = val_losses[m] / max(train_losses[m], 1e-8)
                if ratio > 1.5:
                    self.l2[m] *= 1.5
                elif ratio < 1.1:
                    self.l2[m] /= 1.5
        self._normalise_outputs(list(normalisation_clips) or list(dataset.clips.values()), list(dataset.clips.values()))
        self.labels_seen = len(dataset)
        self.fitted = True
        return FitReport(
            labels=len(dataset),
            train_loss=float(np.mean(train_losses)),
            val_loss=float(np.mean(val_losses)) if len(val_idx) else None,
            val_accuracy=self.accuracy(dataset, val_sub) if len(val_idx) else None,
            l2=list(self.l2),
            seconds=time.perf_counter() - start,
        )

    def _normalise_outputs(self, clips: list[Clip], labelled: list[Clip] = ()) -> None:
        obs = np.concatenate([self.clip_obs(c)[: c.length] for c in clips])
        actions = np.concatenate([c.actions[: c.length] for c in clips])
        raw = self.member_rewards(obs, actions)
        self.out_mean = raw.mean(1).astype(np.float32)
        if self.absorbing:
            # the terminal states whose worth the preferences priced (those of labelled clips;
            # else recent ones) are worth 0 to the agent, as the env's end is
            ended = [c for c in labelled if c.length < c.horizon and c.next_obs is not None]
            ended = ended or [c for c in clips if c.length < c.horizon and c.next_obs is not None]
            if ended:
                last = np.stack([c.next_obs[c.length - 1] for c in ended])
                padded = np.zeros_like(np.stack([c.actions[c.length - 1] for c in ended]))  # as the padded steps are rated
                self.out_mean = self.member_rewards(last, padded).mean(1).astype(np.float32)
            else:
                self.out_mean = np.zeros_like(self.out_mean)
        # centred: unit std; uncentred (the end is worth 0): unit root mean square
        shifted = raw - self.out_mean[:, None] if self.absorbing else raw
        spread = raw.std(1) if self.center else np.sqrt((shifted**2).mean(1))
        self.out_std = np.maximum(spread, 1e-6).astype(np.float32)

    # --- prediction -------------------------------------------------------------------------

    def member_rewards(self, obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Raw per-step rewards of every member, ``[M, N]``."""
        if not self.image and not self.text:
            return self._numpy_mlp(self.features(obs, actions).numpy())
        with torch.no_grad():
            x = self.features(obs, actions)
            chunks = [self.net(c.unsqueeze(0).expand(self.config.n_members, *c.shape)) for c in torch.split(x, 512)]
        return torch.cat(chunks, dim=1).numpy()

    def _numpy_mlp(self, x: np.ndarray) -> np.ndarray:
        # small batches (one VecEnv step) run much faster in numpy than through torch dispatch:
        # the first layer of every member is one matrix product, the rest plain 2-D products
        if self._numpy_weights is None:
            ws = [w.detach().numpy() for w in self.net.weights]
            bs = [b.detach().numpy()[:, 0] for b in self.net.biases]
            m, fan_in, width = ws[0].shape
            first = (ws[0].transpose(1, 0, 2).reshape(fan_in, m * width).copy(), bs[0].reshape(m * width).copy())
            rest = [[(w[i].copy(), b[i].copy()) for w, b in zip(ws[1:], bs[1:])] for i in range(m)]
            self._numpy_weights = (first, rest)
        (w1, b1), rest = self._numpy_weights
        h1 = x.astype(np.float32, copy=False) @ w1 + b1
        h1 = np.maximum(h1, 0.01 * h1).reshape(len(x), len(rest), -1)
        out = np.empty((len(rest), len(x)), np.float32)
        for m, layers in enumerate(rest):
            h = h1[:, m]
            for i, (w, b) in enumerate(layers):
                h = h @ w + b
                if i < len(layers) - 1:
                    h = np.maximum(h, 0.01 * h)
            out[m] = h[:, 0]
        return out

    def normalised_member_rewards(self, obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
        raw = self.member_rewards(obs, actions)
        shift = self.out_mean[:, None] if self.center or self.absorbing else 0.0
        return (raw - shift) / self.out_std[:, None]

    def predict_reward(self, obs: np.ndarray, actions: np.ndarray, next_obs: np.ndarray | None = None) -> np.ndarray:
        """The reward the agent gets for N steps: normalised members combined, ``[N]``.

        ``next_obs`` (the observations the actions led to) is needed by an r(s') model."""
        if self.config.use_next_obs:
            if next_obs is None:
                raise ValueError("this reward model rates the observation an action led to: pass next_obs")
            obs = next_obs
        z = self.normalised_member_rewards(obs, actions)
        mean = z.mean(0)
        if self.config.combine == "mean" or len(z) == 1:
            return mean.astype(np.float32)
        sign = -1.0 if self.config.combine == "pessimistic" else 1.0
        return (mean + sign * self.config.k * z.std(0)).astype(np.float32)

    def clip_returns(self, clips: list[Clip]) -> np.ndarray:
        """Normalised predicted returns of each clip for every member, ``[M, len(clips)]``."""
        obs, actions, mask = self._stack([clips])
        z = self.normalised_member_rewards(obs, actions).reshape(self.config.n_members, len(clips), -1)
        return (z * mask[0][None]).sum(-1)

    def preference_probabilities(self, groups: list[list[Clip]]) -> np.ndarray:
        """Each member's probability that the first clip of each group is the best, ``[M, B]``."""
        flat = [c for g in groups for c in g]
        returns = self.clip_returns(flat).reshape(self.config.n_members, len(groups), -1)
        returns = returns - returns.max(-1, keepdims=True)
        p = np.exp(returns)
        return p[..., 0] / p.sum(-1)

    def accuracy(self, dataset: PreferenceDataset, idx: np.ndarray) -> float | None:
        """Share of strict comparisons in ``idx`` whose best clip the ensemble mean ranks first."""
        strict = [i for i in idx if dataset.comparisons[i].target_left != 0.5]
        if not strict:
            return None
        comps = [dataset.comparisons[i] for i in strict]
        k = len(comps[0].clip_ids)
        returns = self.clip_returns([dataset.clips[c] for comp in comps for c in comp.clip_ids]).mean(0).reshape(-1, k)
        best = np.array([c.ranking[0] if c.ranking is not None else (0 if c.target_left == 1.0 else 1) for c in comps])
        return float(np.mean(returns.argmax(1) == best))

    # --- persistence ------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "kind": "cnn" if self.image else "text" if self.text else "mlp",
            "env_id": self.env_id,
            "observation_space": self.obs_desc,
            "action_space": self.act_desc,
            "config": asdict(self.config),
            "center": self.center,
            "absorbing": self.absorbing,
            "l2": self.l2,
            "labels_seen": self.labels_seen,
            "saved_at": time.time(),
        }

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``reward_model.pt`` and ``reward_model.json`` atomically into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {f"net.{k}": v for k, v in self.net.state_dict().items()}
        for name in ("obs_mean", "obs_std", "out_mean", "out_std"):
            state[name] = torch.from_numpy(getattr(self, name).copy())
        atomic_write(directory / CHECKPOINT, lambda f: torch.save(state, f))
        atomic_write(directory / METADATA, lambda f: f.write(json.dumps(self.metadata(), indent=2).encode()))
        return directory

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RewardEnsemble:
        """Load a checkpoint from a run directory, a directory holding one, or either file."""
        directory = Path(path)
        if directory.is_file():
            directory = directory.parent
        if (directory / "reward_model" / METADATA).exists():
            directory = directory / "reward_model"
        meta_path, ckpt_path = directory / METADATA, directory / CHECKPOINT
        if not meta_path.exists() or not ckpt_path.exists():
            raise FileNotFoundError(
                f"{path}: no reward-model checkpoint ({METADATA} + {CHECKPOINT}); pass a run directory "
                "written by `pbrl train` or its reward_model/ folder"
            )
        try:
            meta = json.loads(meta_path.read_text())
            version = meta["format_version"]
            state = torch.load(ckpt_path, weights_only=True)
        except (json.JSONDecodeError, KeyError, RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError) as exc:
            raise ValueError(
                f"{directory}: the reward-model checkpoint is corrupt or unreadable ({type(exc).__name__}: {exc}); "
                "retrain it, or restore the files from a copy"
            ) from exc
        if version != FORMAT_VERSION:
            raise ValueError(f"{meta_path}: checkpoint format {version}, this pbrl reads format {FORMAT_VERSION}")
        obs_space = _space_from(meta["observation_space"])
        act_space = _space_from(meta["action_space"])
        config = RewardModelConfig(**{**meta["config"], "hidden": tuple(meta["config"]["hidden"])})
        model = cls(obs_space, act_space, config, env_id=meta["env_id"], center=meta["center"])
        model.absorbing = bool(meta.get("absorbing", False))  # checkpoints from before it was learned: 0
        try:
            model.net.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("net.")})
            model.net.eval()
            for name in ("obs_mean", "obs_std", "out_mean", "out_std"):
                setattr(model, name, state[name].numpy())
        except (KeyError, RuntimeError) as exc:
            raise ValueError(f"{ckpt_path}: weights do not match the metadata in {meta_path} ({exc}); the files are corrupt or from different runs") from exc
        model.l2 = list(meta["l2"])
        model.labels_seen = meta["labels_seen"]
        model.fitted = True
        return model

    def check_spaces(self, observation_space: gym.Space, action_space: gym.Space, where: str = "") -> None:
        """Raise a clear error when the env's spaces differ from the ones this model learned on."""
        for what, mine, theirs in (("observation", self.obs_desc, observation_space), ("action", self.act_desc, action_space)):
            try:
                other = describe_space(theirs)
            except TypeError as exc:
                raise ValueError(f"{where}: {exc}") from exc
            if other != mine:
                raise ValueError(
                    f"{where}: the reward model was trained on {self.env_id or 'another env'} with {what} space "
                    f"{mine}, but this env's {what} space is {other}; use a reward model trained on this env"
                )


def _space_from(desc: dict[str, Any]) -> gym.Space:
    if desc["type"] == "Discrete":
        return gym.spaces.Discrete(desc["n"])
    if desc["type"] == "MultiDiscrete":
        return gym.spaces.MultiDiscrete(np.array(desc["nvec"], dtype=np.int64))
    dtype = np.dtype(desc["dtype"])
    low, high = (0, 255) if dtype == np.uint8 else (-np.inf, np.inf)
    if "low" in desc:
        low, high = desc["low"], desc["high"]
    return gym.spaces.Box(low, high, tuple(desc["shape"]), dtype)


def load_reward_model(path: str | os.PathLike[str]) -> RewardEnsemble:
    """Load a saved ensemble (used by ``gym.make("pbrl/X", reward_model=PATH)``)."""
    return RewardEnsemble.load(path)
