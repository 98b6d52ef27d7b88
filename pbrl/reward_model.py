"""The reward-model ensemble of Christiano et al. 2017.

N members (default 3), each trained on a bootstrap sample of the labels with the
Bradley-Terry loss (10% random-answer model; equal labels as 0.5/0.5) or Plackett-Luce for
K-wise rankings; 1/e of the labels held out for validation; L2 adapted to keep the
validation loss at 1.1-1.5x the training loss (or fixed); optional dropout. The members'
networks are of a kind the caller names (the env family's ``reward_kind``):
:mod:`pbrl.reward_nets` holds the registry of kinds and their networks, an MLP on
(observation, action) for vector envs, the paper's CNN on stacked frames for Atari, a small
transformer on (prompt, response) token ids for the response game (``pbrl.text.reward``);
:mod:`pbrl.reward_encoders` how each kind reads steps; :mod:`pbrl.reward_io` the checkpoint
format (``RewardEnsemble.save`` / ``load`` go through it).
The reward given to the agent is each member's output normalised and averaged: zero mean
and unit std where episodes have a fixed length; where they can end early (classic
control), the reward after termination is 0, so the mean is kept and the root mean square
is scaled to 1 (or, with ``learn_absorbing``, the state after termination is rated too: a
clip cut short is padded with its terminal observation, which the preferences then price,
and the agent's rewards are shifted so that terminal states are worth 0, as the env's own
end is); ``mean - k*std`` (pessimistic) and
``mean + k*std`` (optimistic) are options.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from pbrl import reward_io
from pbrl.dataset import PreferenceDataset
from pbrl.errors import InputError
from pbrl.preference_loss import bradley_terry_loss, plackett_luce_loss
from pbrl.reward_config import BASE_REWARD_DEFAULTS, COMBINE, RewardModelConfig  # noqa: F401 (re-exported)
from pbrl.reward_encoders import is_image_space  # noqa: F401 (re-exported)
from pbrl.reward_io import describe_space
from pbrl.reward_nets import build_members, torch_device
from pbrl.types import Clip


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
    :param config: hyperparameters; fields left at None take :data:`BASE_REWARD_DEFAULTS`
        (a caller layers a family's values in first with :meth:`RewardModelConfig.resolved`).
    :param env_id: recorded in checkpoints.
    :param center: subtract each member's mean prediction (right where every episode has the
        same length; where episodes can end early the level matters: see ``learn_absorbing``).
    :param seed: seeds initialisation, bootstrap samples and minibatches.
    :param kind: the member networks, a key of :data:`pbrl.reward_nets.MEMBERS` (the env
        family's ``reward_kind``).
    :param device: where the members train and predict: ``cpu``, ``cuda``, or ``auto`` (CUDA
        when there is a GPU; the env family's ``device``). Inputs and outputs stay numpy on the host.
    """

    def __init__(
        self,
        observation_space: gym.Space,
        action_space: gym.Space,
        config: RewardModelConfig = RewardModelConfig(),
        env_id: str = "",
        center: bool = True,
        seed: int = 0,
        kind: str = "mlp",
        device: str = "cpu",
    ) -> None:
        self.observation_space, self.action_space = observation_space, action_space
        self.obs_desc, self.act_desc = describe_space(observation_space), describe_space(action_space)
        config = config.resolved()  # saved as used: a checkpoint holds no None setting
        # resolved() fills in every field a family may set (narrowed here, once, for the type checker)
        assert config.lr is not None and config.l2 is not None
        assert config.epochs is not None and config.min_steps is not None and config.batch_size is not None
        self.config, self.env_id, self.center, self.kind = config, env_id, center, kind
        self._epochs, self._min_steps, self._batch_size = config.epochs, config.min_steps, config.batch_size
        # the absorbing state after a termination is rated by the model (its terminal
        # observation), and the agent's rewards are shifted so that it is worth 0, as the
        # env's own "no reward after the end" is
        self.absorbing = bool(config.learn_absorbing and not center)
        self.rng = np.random.default_rng(seed)
        torch.manual_seed(seed)  # before the members are built: a seed gives the same weights
        self.net, self.encoder = build_members(kind, observation_space, action_space, config)
        self.device = torch_device(device)
        self.net.to(self.device).eval()
        # Adam is elementwise, so one optimiser over the stacked weights trains each member alone
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.lr)
        self.l2 = [config.l2] * config.n_members
        self.out_mean = np.zeros(config.n_members, np.float32)
        self.out_std = np.ones(config.n_members, np.float32)
        self.labels_seen = 0
        self.fitted = False

    # --- the observations rated -------------------------------------------------------------

    def clip_obs(self, clip: Clip) -> np.ndarray:
        """The observations the model rates for ``clip``: ``obs``, or ``next_obs`` for r(s')."""
        if not self.config.use_next_obs:
            return clip.obs
        if clip.next_obs is None:
            raise InputError(f"clip {clip.clip_id} has no next_obs, which a reward model on r(s') needs")
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

    def _tensors(self, dataset: PreferenceDataset) -> dict[str, torch.Tensor]:
        """The dataset as tensors: per-clip inputs, masks, and each comparison's clip indices
        and target, so that a minibatch is an index lookup rather than Python work."""
        ids = list(dataset.clips)
        index = {cid: i for i, cid in enumerate(ids)}
        comps = dataset.comparisons
        out = self._clip_tensors([dataset.clips[c] for c in ids])
        out["clips"] = torch.tensor([[index[c] for c in comp.clip_ids] for comp in comps], dtype=torch.long)
        if comps[0].ranking is None:
            out["target"] = torch.tensor([c.target_left for c in comps], dtype=torch.float32)
        else:
            out["ranking"] = torch.tensor([c.ranking for c in comps], dtype=torch.long)
        return {name: value.to(self.device) for name, value in out.items()}

    def _clip_tensors(self, clips: list[Clip]) -> dict[str, torch.Tensor]:
        """``x [C, H, ...]`` (the encoder's stored inputs) and ``mask [C, H]`` of ``clips``."""
        scored = [self.scored_obs(c) for c in clips]
        x = self.encoder.stored(np.concatenate([o for o, _ in scored]), np.concatenate([c.actions for c in clips]))
        return {"x": x.reshape(len(clips), clips[0].horizon, *x.shape[1:]).to(self.device),
                "mask": torch.from_numpy(np.stack([m for _, m in scored])).to(self.device)}

    def _pseudo_losses(self, u: dict[str, torch.Tensor], b: int, k: int) -> torch.Tensor:
        """SURF's pseudo-label loss of each member, ``[M]``: ``b`` random groups of ``k``
        unlabelled clips; a member whose whole-clip returns give one clip a softmax probability
        of at least ``pseudo_threshold`` labels that clip best, and is trained to say so on
        cropped clips (groups below the threshold add 0)."""
        m, n = self.config.n_members, len(u["x"])
        groups = torch.from_numpy(self.rng.random((m, b, n)).argsort(-1)[..., :k]).to(self.device)  # [M, B, K]
        x = self.encoder.batch(u["x"][groups])
        h = x.shape[3]
        raw = self.net(x.reshape(m, b * k * h, *x.shape[4:])).reshape(m, b, k, h)
        mask = u["mask"][groups]
        with torch.no_grad():  # (under the fit's dropout, when it has any)
            confidence, best = torch.softmax((raw * mask).sum(-1), -1).max(-1)  # [M, B]
        if self.config.crop > 0:
            mask = mask * self._crop_windows(m, b, k, h)
        # the real labels' likelihood: a noise chance of a uniformly random answer, so that a
        # pseudo-label cannot drive the gap between clips without bound
        noise = self.config.noise
        p_best = (1 - noise) * torch.softmax((raw * mask).sum(-1), -1).gather(-1, best.unsqueeze(-1)).squeeze(-1)
        log_p = torch.log(p_best + noise / k)
        return -(log_p * (confidence >= self.config.pseudo_threshold)).mean(1)

    def _returns(self, t: dict[str, torch.Tensor], idx: torch.Tensor, crop: bool = False) -> torch.Tensor:
        """Clip returns ``[M, B, K]`` of comparisons ``idx [M, B]`` (each member its own batch);
        ``crop``: over the random windows of :meth:`_crop_windows`."""
        clip_idx = t["clips"][idx]  # [M, B, K]
        x = self.encoder.batch(t["x"][clip_idx])  # [M, B, K, H, ...]
        m, b, k, h = x.shape[:4]
        raw = self.net(x.reshape(m, b * k * h, *x.shape[4:])).reshape(m, b, k, h)
        mask = t["mask"][clip_idx]
        if crop and self.config.crop > 0:
            mask = mask * self._crop_windows(m, b, k, h)
        return (raw * mask).sum(-1)

    def _crop_windows(self, m: int, b: int, k: int, h: int) -> torch.Tensor:
        """SURF's temporal crop, ``[M, B, K, H]`` of 0/1: per comparison one window length
        between ``(1 - crop) * h`` and ``h``, per clip its own start (drawn from the model's
        seeded generator)."""
        shortest = max(1, math.ceil((1 - self.config.crop) * h))
        length = self.rng.integers(shortest, h + 1, size=(m, b, 1, 1))
        start = (self.rng.random((m, b, k, 1)) * (h - length + 1)).astype(np.int64)
        steps = np.arange(h)[None, None, None]
        return torch.from_numpy(((steps >= start) & (steps < start + length)).astype(np.float32)).to(self.device)

    def _member_losses(self, t: dict[str, torch.Tensor], idx: torch.Tensor, crop: bool = False) -> torch.Tensor:
        """Preference loss of each member on its comparisons ``idx [M, B]``, ``[M]``;
        ``crop``: on cropped clips (training steps)."""
        returns = self._returns(t, idx, crop)
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
                picks = torch.from_numpy(chunk).long().unsqueeze(0).expand(m, -1).to(self.device)
                total += self._member_losses(t, picks).cpu().numpy() * len(chunk)
        return total / len(idx)

    def fit(self, dataset: PreferenceDataset, normalisation_clips: list[Clip]) -> FitReport:
        """Train every member on its own bootstrap sample of ``dataset``'s training labels,
        adapt L2, then normalise outputs over ``normalisation_clips`` (recent behaviour)."""
        start = time.perf_counter()
        labels = len(dataset)
        if self.config.max_labels and labels > self.config.max_labels:  # the paper's buffer of recent labels
            dataset = dataset.recent(self.config.max_labels)
        train_idx, val_idx = dataset.split()
        if len(train_idx) == 0:
            raise InputError("the reward model needs at least one non-skipped label to fit")
        seen = list(dataset.clips.values()) + list(normalisation_clips)
        for clip in seen:
            check_finite_clip(clip)
        self.encoder.observe(self.clip_obs(c)[: c.length] for c in seen)  # input statistics (the MLP's)
        cfg, n_members = self.config, self.config.n_members
        t = self._tensors(dataset)
        boots = [self.rng.choice(train_idx, size=len(train_idx), replace=True) for _ in range(n_members)]
        per_comparison = t["x"].shape[1] * t["clips"].shape[1]
        batch = max(1, min(self._batch_size, len(train_idx), cfg.max_batch_steps // per_comparison))
        steps = max(self._min_steps, math.ceil(self._epochs * len(train_idx) / self._batch_size))
        l2 = torch.tensor(self.l2, dtype=torch.float32, device=self.device)
        k = t["clips"].shape[1]
        # SURF: recent unlabelled clips, grouped at random, for pseudo-labels
        unlabelled = ([c for c in normalisation_clips if c.clip_id not in dataset.clips]
                      if cfg.pseudo_weight > 0 else [])
        u = self._clip_tensors(unlabelled) if len(unlabelled) >= k else None
        self.net.train()
        for _ in range(steps):
            picks = torch.from_numpy(np.stack([self.rng.choice(boot, size=batch, replace=False)
                                               for boot in boots])).long().to(self.device)
            loss = self._member_losses(t, picks, crop=True) + l2 * self.net.l2()
            if u is not None:
                loss = loss + cfg.pseudo_weight * self._pseudo_losses(u, batch, k)
            loss = loss.sum()
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        self.net.eval()

        def subset(idx: np.ndarray) -> np.ndarray:
            return idx if len(idx) <= cfg.max_eval else np.sort(self.rng.choice(idx, cfg.max_eval, replace=False))

        train_losses = self._evaluate_losses(t, subset(train_idx))
        val_sub = subset(val_idx)
        val_losses = self._evaluate_losses(t, val_sub)
        if cfg.adapt_l2 and len(val_idx):
            self._adapt_l2(train_losses, val_losses)
        self._normalise_outputs(list(normalisation_clips) or list(dataset.clips.values()), list(dataset.clips.values()))
        self.labels_seen = labels
        self.fitted = True
        return FitReport(
            labels=labels,
            train_loss=float(np.mean(train_losses)),
            val_loss=float(np.mean(val_losses)) if len(val_idx) else None,
            val_accuracy=self.accuracy(dataset, val_sub) if len(val_idx) else None,
            l2=list(self.l2),
            seconds=time.perf_counter() - start,
        )

    def _adapt_l2(self, train_losses: np.ndarray, val_losses: np.ndarray) -> None:
        """The paper's rule: keep each member's validation loss at 1.1-1.5x its training loss."""
        for m in range(self.config.n_members):
            ratio = val_losses[m] / max(train_losses[m], 1e-8)
            if ratio > 1.5:
                self.l2[m] *= 1.5
            elif ratio < 1.1:
                self.l2[m] /= 1.5

    def _normalise_outputs(self, clips: list[Clip], labelled: Sequence[Clip] = ()) -> None:
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
                # (every ended clip has next_obs: the filter only tells the type checker)
                last = np.stack([c.next_obs[c.length - 1] for c in ended if c.next_obs is not None])
                # as the padded steps are rated
                padded = np.zeros_like(np.stack([c.actions[c.length - 1] for c in ended]))
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
        # the stored form (uint8 frames) crosses to the device, where the encoder scales it
        return self.net.predict(self.encoder.batch(self.encoder.stored(obs, actions).to(self.device)))

    def normalised_member_rewards(self, obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
        raw = self.member_rewards(obs, actions)
        shift = self.out_mean[:, None] if self.center or self.absorbing else 0.0
        return (raw - shift) / self.out_std[:, None]

    def predict_reward(self, obs: np.ndarray, actions: np.ndarray, next_obs: np.ndarray | None = None) -> np.ndarray:
        """The reward the agent gets for N steps: normalised members combined, ``[N]``.

        ``next_obs`` (the observations the actions led to) is needed by an r(s') model."""
        if self.config.use_next_obs:
            if next_obs is None:
                raise InputError("this reward model rates the observation an action led to: pass next_obs")
            obs = next_obs
        z = self.normalised_member_rewards(obs, actions)
        scale = 1.0 if self.config.scale is None else self.config.scale  # None: a checkpoint from before it
        mean = z.mean(0)
        if self.config.combine == "mean" or len(z) == 1:
            return (scale * mean).astype(np.float32)
        sign = -1.0 if self.config.combine == "pessimistic" else 1.0
        return (scale * (mean + sign * self.config.k * z.std(0))).astype(np.float32)

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

    # --- persistence (pbrl.reward_io) ------------------------------------------------------

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``reward_model.pt`` and ``reward_model.json`` atomically into ``directory``."""
        state = {f"net.{k}": v.cpu() for k, v in self.net.state_dict().items()}
        # the statistics of the input (every kind's checkpoint has them) and of the output
        arrays = {"obs_mean": self.encoder.obs_mean, "obs_std": self.encoder.obs_std,
                  "out_mean": self.out_mean, "out_std": self.out_std}
        state.update({name: torch.from_numpy(value.copy()) for name, value in arrays.items()})
        meta = {"kind": self.kind, "env_id": self.env_id, "observation_space": self.obs_desc,
                "action_space": self.act_desc, "config": asdict(self.config), "center": self.center,
                "absorbing": self.absorbing, "l2": self.l2, "labels_seen": self.labels_seen,
                "rng": self.rng.bit_generator.state}  # bootstraps and batches go on where they were
        return reward_io.write(directory, state, meta, {"optimizer": self.optimizer.state_dict()})

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: str = "cpu") -> RewardEnsemble:
        """Load a checkpoint from a run directory, a directory holding one, or either file: the
        ensemble is rebuilt from its metadata (members of the recorded kind, through the
        registry), then given its learned state (on ``device``)."""
        saved = reward_io.read(path)
        meta = saved.meta
        try:
            config = RewardModelConfig(**{**meta["config"], "hidden": tuple(meta["config"]["hidden"])})
            model = cls(saved.observation_space, saved.action_space, config, env_id=meta["env_id"],
                        center=meta["center"], kind=meta["kind"], device=device)
        except (TypeError, KeyError, ValueError) as exc:
            where = saved.directory / reward_io.METADATA
            raise InputError(f"{where} does not describe a reward model of this pbrl ({type(exc).__name__}: {exc}); "
                             "restore it from a copy of the run, or retrain") from None
        model._restore(saved)
        return model

    def _restore(self, saved: reward_io.Checkpoint) -> None:
        """Put the learned state of ``saved`` into this ensemble, built from its metadata."""
        meta, state = saved.meta, saved.state
        self.absorbing = bool(meta.get("absorbing", False))  # checkpoints from before it was learned: 0
        try:
            self.net.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("net.")})
            self.net.eval()
            self.encoder.obs_mean, self.encoder.obs_std = state["obs_mean"].numpy(), state["obs_std"].numpy()
            self.out_mean, self.out_std = state["out_mean"].numpy(), state["out_std"].numpy()
        except (KeyError, RuntimeError) as exc:
            where = saved.directory
            raise InputError(f"{where / reward_io.CHECKPOINT}: weights do not match the metadata in "
                             f"{where / reward_io.METADATA} ({exc}); the files are corrupt or from different "
                             "runs") from exc
        self.l2 = list(meta["l2"])
        self.labels_seen = meta["labels_seen"]
        self.fitted = True
        fit_state = reward_io.read_fit_state(saved.directory)
        try:
            if "rng" in meta:
                self.rng.bit_generator.state = meta["rng"]
            if fit_state is not None:
                self.optimizer.load_state_dict(fit_state["optimizer"])
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise InputError(f"{saved.directory}: its fit state ({reward_io.FIT_STATE}, the rng in "
                             f"{reward_io.METADATA}) does not fit this model ({type(exc).__name__}: {exc}); delete "
                             f"{reward_io.FIT_STATE} to go on with a fresh optimiser") from None

    def check_spaces(self, observation_space: gym.Space, action_space: gym.Space, where: str = "") -> None:
        """Raise a clear error when the env's spaces differ from the ones this model learned on."""
        for what, mine, theirs in (("observation", self.obs_desc, observation_space),
                                   ("action", self.act_desc, action_space)):
            try:
                other = describe_space(theirs)
            except TypeError as exc:
                raise InputError(f"{where}: {exc}") from exc
            if other != mine:
                raise InputError(
                    f"{where}: the reward model was trained on {self.env_id or 'another env'} with {what} space "
                    f"{mine}, but this env's {what} space is {other}; use a reward model trained on this env"
                )


def check_finite_clip(clip: Clip) -> None:
    """Refuse a clip holding NaN or inf (a fit on it would save NaN weights), naming it."""
    for name in ("obs", "actions", "next_obs"):
        values = getattr(clip, name)
        if values is not None and np.asarray(values).dtype.kind == "f" and not np.all(np.isfinite(values)):
            raise InputError(f"clip {clip.clip_id!r} (policy step {clip.step}) holds a non-finite value in its {name}; "
                             "the reward model is not fitted on it. Find where the env produced it (its dynamics or "
                             "action bounds), or leave the clip out")


def load_reward_model(path: str | os.PathLike[str]) -> RewardEnsemble:
    """Load a saved ensemble (used by ``gym.make("pbrl/X", reward_model=PATH)``)."""
    return RewardEnsemble.load(path)
