"""The preference likelihoods of Christiano et al. 2017 (Bradley-Terry) and Plackett-Luce.

``returns`` are the summed per-step predicted rewards of the clips of each query.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def bradley_terry_loss(returns: torch.Tensor, target_left: torch.Tensor, noise: float = 0.1) -> torch.Tensor:
    """Per-query cross-entropy of ``P(left > right) = noise * 0.5 + (1 - noise) * sigma(R_l - R_r)``.

    :param returns: ``[B, 2]`` clip returns.
    :param target_left: ``[B]`` probability that the left clip is better (1, 0, or 0.5 for equal).
    :param noise: probability that the judge answers uniformly at random (the paper's 10%).
    """
    diff = returns[:, 0] - returns[:, 1]
    log_p_left, log_p_right = F.logsigmoid(diff), F.logsigmoid(-diff)
    if noise > 0:  # mix with the uniform answer in log space, stably
        log_half_noise = torch.full_like(diff, math.log(noise * 0.5))
        log_p_left = torch.logaddexp(log_half_noise, math.log1p(-noise) + log_p_left)
        log_p_right = torch.logaddexp(log_half_noise, math.log1p(-noise) + log_p_right)
    return -(target_left * log_p_left + (1.0 - target_left) * log_p_right)


def plackett_luce_log_likelihood(returns: torch.Tensor) -> torch.Tensor:
    """``sum_i [R_(i) - log sum_{j >= i} exp R_(j)]`` for returns already in ranked order.

    :param returns: ``[B, K]``, column 0 the best clip.
    """
    # suffix log-sum-exp: flip, cumulative logsumexp, flip back
    suffix = torch.logcumsumexp(returns.flip(-1), dim=-1).flip(-1)
    return (returns - suffix).sum(-1)


def plackett_luce_loss(returns: torch.Tensor, ranking: torch.Tensor, noise: float = 0.1) -> torch.Tensor:
    """Per-query negative log-likelihood of a ranking, with a ``noise`` chance of a uniformly
    random ranking (``1 / K!``); for K = 2 this is :func:`bradley_terry_loss`.

    :param returns: ``[B, K]`` clip returns in the order the clips were shown.
    :param ranking: ``[B, K]`` long, positions best first.
    """
    ordered = torch.gather(returns, 1, ranking)
    log_pl = plackett_luce_log_likelihood(ordered)
    if noise <= 0:
        return -log_pl
    k = returns.shape[1]
    log_uniform = torch.full_like(log_pl, math.log(noise) - math.lgamma(k + 1))
    return -torch.logaddexp(log_uniform, math.log1p(-noise) + log_pl)
