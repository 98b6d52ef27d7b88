"""The loss formulas against hand-computed values."""

import math

import pytest
import torch

from pbrl.preference_loss import bradley_terry_loss, plackett_luce_log_likelihood, plackett_luce_loss


def sigma(x):
    return 1 / (1 + math.exp(-x))


def test_bradley_terry_with_the_papers_noise_model():
    returns = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [-2.0, 0.5]])
    target = torch.tensor([1.0, 0.0, 0.5, 1.0])
    loss = bradley_terry_loss(returns, target, noise=0.1)
    p = 0.05 + 0.9 * sigma(1.0)  # 0.7079528
    q = 0.05 + 0.9 * sigma(-2.5)
    expected = [-math.log(p), -math.log(1 - p), -(0.5 * math.log(p) + 0.5 * math.log(1 - p)), -math.log(q)]
    assert loss.tolist() == pytest.approx(expected, rel=1e-6)
    assert expected[0] == pytest.approx(0.345378, abs=1e-6)


def test_bradley_terry_without_noise_is_plain_cross_entropy():
    loss = bradley_terry_loss(torch.tensor([[3.0, 1.0]]), torch.tensor([1.0]), noise=0.0)
    assert loss.item() == pytest.approx(-math.log(sigma(2.0)), rel=1e-6)


def test_bradley_terry_is_stable_for_large_differences():
    loss = bradley_terry_loss(torch.tensor([[500.0, -500.0]]), torch.tensor([0.0]), noise=0.1)
    assert math.isfinite(loss.item())
    assert loss.item() == pytest.approx(-math.log(0.05), rel=1e-6)  # only the random answer explains it


def test_plackett_luce_log_likelihood_by_hand():
    r = [2.0, 1.0, 0.0]  # best first
    expected = (2 - math.log(math.e**2 + math.e + 1)) + (1 - math.log(math.e + 1)) + 0.0
    assert plackett_luce_log_likelihood(torch.tensor([r])).item() == pytest.approx(expected, rel=1e-6)


def test_plackett_luce_follows_the_ranking_order():
    returns = torch.tensor([[0.0, 1.0, 2.0]])  # shown order
    ranking = torch.tensor([[2, 1, 0]])  # clip 2 best
    loss = plackett_luce_loss(returns, ranking, noise=0.0)
    expected = -((2 - math.log(math.e**2 + math.e + 1)) + (1 - math.log(math.e + 1)))
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    noisy = plackett_luce_loss(returns, ranking, noise=0.1).item()
    assert noisy == pytest.approx(-math.log(0.1 / 6 + 0.9 * math.exp(-expected)), rel=1e-6)


def test_plackett_luce_with_two_clips_is_bradley_terry():
    returns = torch.tensor([[0.3, -1.2], [0.3, -1.2]])
    pl = plackett_luce_loss(returns, torch.tensor([[0, 1], [1, 0]]), noise=0.1)
    bt = bradley_terry_loss(returns, torch.tensor([1.0, 0.0]), noise=0.1)
    assert pl.tolist() == pytest.approx(bt.tolist(), rel=1e-6)
