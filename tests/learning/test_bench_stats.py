"""The suite-level statistics of the bench report (pbrl.bench_stats, through rliable)."""

import pytest

from pbrl import bench_stats

pytest.importorskip("rliable", reason="rliable not installed (pip install -e '.[bench]')")


def test_the_rectangle_keeps_the_seeds_most_tasks_share_and_names_the_rest():
    m = bench_stats.rectangle({"A": {0: 1.0, 1: 2.0, 2: 3.0}, "B": {0: 5.0}, "C": {0: 4.0, 1: 5.0, 2: 6.0, 3: 9.0}})
    assert m.tasks == ("A", "C") and m.seeds == (0, 1, 2) and m.left_out == ("B",)
    assert m.values.tolist() == [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]  # C's seed 3 left out, not its task


def test_the_iqm_drops_the_outer_quarters_and_the_intervals_hold_their_point():
    table = bench_stats.aggregate_table({"pbrl 50 labels": {"CartPole-v1": {0: 0.0, 1: 1.0, 2: 1.0, 3: 10.0}},
                                         "steady": {"CartPole-v1": {0: 1.0, 1: 1.0}, "Acrobot-v1": {0: 1.0, 1: 1.0}}})
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines()[2:]}
    cells = rows["pbrl 50 labels"].rstrip(" |").split(" | ")
    assert cells[1] == "CartPole" and cells[2] == "4" and cells[5] == "3 of 4"
    assert cells[3].startswith("1.00 [") and cells[4].startswith("3.00 [")  # IQM: the middle two; mean: all four
    low, high = (float(x) for x in cells[4].split("[")[1].rstrip("]").split(", "))
    assert low <= 3.0 <= high and low < high
    assert "| steady | CartPole, Acrobot | 2 | 1.00 [1.00, 1.00] | 1.00 [1.00, 1.00] | 4 of 4 |" in table.replace(
        "Acrobot, CartPole", "CartPole, Acrobot")


def test_probability_of_improvement_says_who_wins_and_the_draws_are_fixed():
    scores = {"pbrl 700 labels": {"Hopper-v5": {0: 0.9, 1: 0.8, 2: 1.0}, "Ant-v5": {0: 1.0, 1: 1.1, 2: 0.9}},
              "imitation 700 labels": {"Hopper-v5": {0: 0.1, 1: 0.2, 2: 0.3}, "Ant-v5": {0: 0.5, 1: 0.4, 2: 0.6}}}
    line = bench_stats.improvement(scores, [("pbrl 700 labels", "imitation 700 labels")])
    assert line == "- P(pbrl 700 labels > imitation 700 labels) = 1.00 [1.00, 1.00] over 2 tasks x 3 seeds"
    swapped = bench_stats.improvement(scores, [("imitation 700 labels", "pbrl 700 labels")])
    assert "= 0.00 [0.00, 0.00]" in swapped
    mixed = {"a": {"T": {0: 0.1, 1: 0.9, 2: 0.5}}, "b": {"T": {0: 0.4, 1: 0.6, 2: 0.2}}}
    assert bench_stats.improvement(mixed, [("a", "b")]) == bench_stats.improvement(mixed, [("a", "b")])


def test_a_methods_interval_is_the_same_whoever_is_reported_beside_it_and_numpys_state_is_kept():
    import numpy as np

    a = {"T": {0: 0.1, 1: 0.9, 2: 0.5, 3: 0.7}, "U": {0: 0.3, 1: 0.2, 2: 0.8, 3: 0.6}}
    other = {"T": {0: 1.0, 1: 0.0, 2: 0.4, 3: 0.2}}
    alone = bench_stats.aggregate_table({"a": a}).splitlines()[2]
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    beside = bench_stats.aggregate_table({"0first": other, "a": a}).splitlines()[3]
    assert beside == alone and "[" in alone  # an interval, the same one
    assert (np.random.get_state()[1] == before).all()  # the caller's random stream is untouched


def test_one_seed_per_task_has_no_interval_to_show():
    table = bench_stats.aggregate_table({"pbrl 700 labels": {"Hopper-v5": {0: 0.5}, "Ant-v5": {0: 0.7}}})
    assert "| pbrl 700 labels | Ant, Hopper | 1 | 0.60 (one seed: no interval) |" in table


def test_the_performance_profile_is_drawn(tmp_path):
    path = tmp_path / "profile.png"
    assert bench_stats.profile({"pbrl 100 labels": {"Pendulum-v1": {0: 1.0, 1: 0.5}}}, path, "profiles")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not bench_stats.profile({}, tmp_path / "none.png", "nothing")


def test_a_lever_is_a_default_now_only_when_every_option_of_it_is():
    from pbrl.bench_report import _kept, default_now

    assert default_now("reward.n_members", 3) and not default_now("reward.n_members", 5)
    assert default_now("reward.lr", 1e-3) is None  # the family's default
    assert not default_now("reward.no_such_field", 1)
    assert _kept((("reward.n_members", 3), ("query", "disagreement"))) == "yes"
    assert _kept((("reward.n_members", 3), ("reward.learn_absorbing", True))) == "no"
    assert _kept(()) == "-"
