"""The member networks of the reward ensemble, and the registry of member kinds.

A kind is a factory ``(observation_space, action_space, config) -> Members``: a
:class:`MemberStack` of M networks and the :class:`~pbrl.reward_encoders.Encoder` that turns
steps into their input. Kinds are found through ``"module:attr"`` strings (as families are,
:mod:`pbrl.family`), so the ensemble imports no kind's code: a family names its kind
(``Family.reward_kind``), checkpoints record it, and a third-party package adds one::

    from pbrl.reward_nets import register_members
    register_members("graph", "my_package.reward:graph_members")

pbrl's kinds: ``mlp`` (r(s) or r(s, a) on vectors), ``cnn`` (the paper's Atari network on
stacked frames), ``text`` (a small transformer on (prompt, response) ids, ``pbrl.text.reward``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any, NamedTuple, cast

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from pbrl.errors import InputError
from pbrl.family import load_attr
from pbrl.reward_config import RewardModelConfig
from pbrl.reward_encoders import Encoder, ImageEncoder, VectorEncoder, is_image_space

# member kind -> "module:attr" of its factory
MEMBERS: dict[str, str] = {
    "mlp": "pbrl.reward_nets:mlp_members",
    "cnn": "pbrl.reward_nets:cnn_members",
    "text": "pbrl.text.reward:text_members",
}


def torch_device(name: str) -> torch.device:
    """``cpu``, ``cuda`` (``cuda:N``), or ``auto``: CUDA when torch sees a GPU, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InputError(f"unknown device {name!r}; use cpu, cuda or auto") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {name!r} asked for, but torch sees no CUDA GPU here; use cpu or auto")
    return device


class MemberStack(nn.Module):
    """M reward networks evaluated together: ``forward(x [M, N, ...]) -> [M, N]`` (member m
    rates its own inputs ``x[m]``, so that each trains on its own minibatch) and ``l2() -> [M]``.

    The defaults run the networks of ``self.members`` (an ``nn.ModuleList``) one after the
    other; a stack that batches its members (:class:`EnsembleMLP`) overrides them.
    """

    members: nn.ModuleList

    @property
    def n_members(self) -> int:
        return len(self.members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [M, N, ...]`` -> ``[M, N]``."""
        return torch.stack([member(x[m]) for m, member in enumerate(self.members)])

    def l2(self) -> torch.Tensor:
        """Sum of squared weights (not biases, nor norm shifts) of each member, ``[M]``."""
        squares = [sum((p**2).sum() for n, p in m.named_parameters() if n.endswith("weight")) for m in self.members]
        # every member has weights: each sum is a tensor, never sum()'s start value 0
        return torch.stack(cast(list[torch.Tensor], squares))

    def predict(self, x: torch.Tensor) -> np.ndarray:
        """Every member on the same inputs ``x [N, ...]``, without gradient, ``[M, N]``
        (in chunks of 512 steps, to bound the memory of large inputs)."""
        with torch.no_grad():
            chunks = [self(c.unsqueeze(0).expand(self.n_members, *c.shape)) for c in torch.split(x, 512)]
        return torch.cat(chunks, dim=1).cpu().numpy()


class EnsembleMLP(MemberStack):
    """M MLPs r(s, a) evaluated together: layer weights are ``[M, in, out]`` tensors, so one
    batched matrix product runs every member (leaky ReLU 0.01, optional dropout)."""

    def __init__(self, n_members: int, in_dim: int, hidden: tuple[int, ...], dropout: float) -> None:
        super().__init__()
        sizes = [in_dim, *hidden, 1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in itertools.pairwise(sizes):
            bound = 1.0 / math.sqrt(fan_in)  # nn.Linear's default initialisation
            self.weights.append(nn.Parameter(torch.empty(n_members, fan_in, fan_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(n_members, 1, fan_out).uniform_(-bound, bound)))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self._numpy_weights: Any = None

    @property
    def n_members(self) -> int:
        return int(self.weights[0].shape[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [M, N, in]`` -> ``[M, N]``."""
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = self.dropout(nn.functional.leaky_relu(x, 0.01))
        return x.squeeze(-1)

    def l2(self) -> torch.Tensor:
        """Sum of squared weights of each member, ``[M]``."""
        return sum((w**2).sum(dim=(1, 2)) for w in self.weights)

    # a fit brackets its updates with train() and eval(), and a load replaces the weights:
    # either makes the numpy copy of the weights stale
    def train(self, mode: bool = True) -> EnsembleMLP:
        self._numpy_weights = None
        return super().train(mode)

    def load_state_dict(self, *args: Any, **kwargs: Any) -> Any:
        self._numpy_weights = None
        return super().load_state_dict(*args, **kwargs)

    def predict(self, x: torch.Tensor) -> np.ndarray:
        # small batches (one VecEnv step) run much faster in numpy than through torch dispatch:
        # the first layer of every member is one matrix product, the rest plain 2-D products
        if self._numpy_weights is None:
            ws = [w.detach().cpu().numpy() for w in self.weights]
            bs = [b.detach().cpu().numpy()[:, 0] for b in self.biases]
            m, fan_in, width = ws[0].shape
            first = (ws[0].transpose(1, 0, 2).reshape(fan_in, m * width).copy(), bs[0].reshape(m * width).copy())
            rest = [[(w[i].copy(), b[i].copy()) for w, b in zip(ws[1:], bs[1:], strict=True)] for i in range(m)]
            self._numpy_weights = (first, rest)
        (w1, b1), rest = self._numpy_weights
        xs = x.cpu().numpy()
        h1 = xs.astype(np.float32, copy=False) @ w1 + b1
        h1 = np.maximum(h1, 0.01 * h1).reshape(len(xs), len(rest), -1)
        out = np.empty((len(rest), len(xs)), np.float32)
        for m, layers in enumerate(rest):
            h = h1[:, m]
            for i, (w, b) in enumerate(layers):
                h = h @ w + b
                if i < len(layers) - 1:
                    h = np.maximum(h, 0.01 * h)
            out[m] = h[:, 0]
        return out


class CNNReward(nn.Module):
    """The paper's Atari predictor: 4 conv layers (7x7/3, 5x5/2, 3x3/1, 3x3/1, 16 filters),
    batch norm, dropout, leaky ReLU (0.01), a 64-unit layer and a scalar output."""

    def __init__(self, in_channels: int, size: int, dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for kernel, stride in ((7, 3), (5, 2), (3, 1), (3, 1)):
            layers += [nn.Conv2d(channels, 16, kernel, stride), nn.BatchNorm2d(16), nn.LeakyReLU(0.01),
                       nn.Dropout(dropout)]
            channels = 16
        self.conv = nn.Sequential(*layers)
        with torch.no_grad():
            flat = self.conv(torch.zeros(1, in_channels, size, size)).numel()
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(flat, 64), nn.LeakyReLU(0.01), nn.Linear(64, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x)).squeeze(-1)


class CNNEnsemble(MemberStack):
    """M :class:`CNNReward` members; ``x [M, N, C, H, W]`` -> ``[M, N]``."""

    def __init__(self, n_members: int, in_channels: int, size: int, dropout: float) -> None:
        super().__init__()
        self.members = nn.ModuleList(CNNReward(in_channels, size, dropout) for _ in range(n_members))


# --- kinds ---------------------------------------------------------------------------------


class Members(NamedTuple):
    """What a member kind's factory builds."""

    net: MemberStack
    encoder: Encoder


MemberFactory = Callable[[gym.Space, gym.Space, RewardModelConfig], Members]


def mlp_members(observation_space: gym.Space, action_space: gym.Space, config: RewardModelConfig) -> Members:
    """The ``mlp`` kind: r(s), or r(s, a) with ``config.use_actions``, on vector observations."""
    encoder = VectorEncoder(observation_space, action_space, config)
    return Members(EnsembleMLP(config.n_members, encoder.width, config.hidden, config.dropout), encoder)


def cnn_members(observation_space: gym.Space, action_space: gym.Space, config: RewardModelConfig) -> Members:
    """The ``cnn`` kind: the paper's network on stacked uint8 frames (dropout 0.5 where none is set)."""
    if not is_image_space(observation_space):
        raise InputError("the cnn reward members read stacked uint8 frames [C, H, W]; got observations "
                         f"{observation_space}")
    channels, size = observation_space.shape[0], observation_space.shape[-1]
    net = CNNEnsemble(config.n_members, channels, size, config.dropout or 0.5)
    return Members(net, ImageEncoder(observation_space, action_space, config))


def register_members(kind: str, entry_point: str) -> None:
    """Make the member kind ``kind`` known: ``entry_point`` (``"module:attr"``) names a
    :data:`MemberFactory`. A family names the kind as its ``reward_kind``; checkpoints record
    it, so the package that registers it must have done so before one of them is loaded."""
    if ":" not in entry_point:
        raise InputError(f"a member kind's entry point is 'module:attr', got {entry_point!r}")
    MEMBERS[kind] = entry_point


def build_members(kind: str, observation_space: gym.Space, action_space: gym.Space,
                  config: RewardModelConfig) -> Members:
    """The networks and encoder of the member kind ``kind`` for these spaces and settings."""
    if kind not in MEMBERS:
        raise InputError(f"no reward member kind {kind!r}; known: {', '.join(MEMBERS)} "
                         "(a package adds one with pbrl.reward_nets.register_members)")
    net, encoder = load_attr(MEMBERS[kind])(observation_space, action_space, config)
    return Members(net, encoder)
