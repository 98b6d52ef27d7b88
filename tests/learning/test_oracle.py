"""B-Pref's synthetic teachers."""

import math

import numpy as np
import pytest

from pbrl.oracle import SyntheticTeacher, TeacherConfig, teacher_config
from pbrl.types import Clip, Outcome, Query


def clip(cid, rewards):
    rewards = np.asarray(rewards, dtype=np.float64)
    h = len(rewards)
    return Clip(cid, "test", np.zeros((h, 1), np.float32), np.zeros((h, 1), np.float32), rewards, h)


def ask(teacher, *clips):
    return teacher.answer(Query("q", tuple(c.clip_id for c in clips)), list(clips))


def test_perfect_teacher_prefers_the_larger_return_and_calls_ties_equal():
    t = SyntheticTeacher(teacher_config("perfect"))
    assert ask(t, clip("a", [1, 1]), clip("b", [0, 1])).outcome is Outcome.LEFT
    assert ask(t, clip("a", [0, 0]), clip("b", [0, 1])).outcome is Outcome.RIGHT
    assert ask(t, clip("a", [1, 0]), clip("b", [0, 1])).outcome is Outcome.EQUAL


def test_myopic_teacher_weights_later_steps_more():
    t = SyntheticTeacher(TeacherConfig(gamma=0.5))
    a, b = clip("a", [1.0, 0.0]), clip("b", [0.0, 0.9])
    assert t.discounted_return(a) == pytest.approx(0.5)  # 0.5^(H-1-0) * 1
    assert t.discounted_return(b) == pytest.approx(0.9)
    assert ask(t, a, b).outcome is Outcome.RIGHT  # the perfect teacher would say LEFT


def test_skip_and_equal_thresholds_are_fractions_of_the_margin():
    t = SyntheticTeacher(TeacherConfig(eps_skip=0.5), margin=10.0)  # skip when both returns < 5
    assert ask(t, clip("a", [1, 2]), clip("b", [4, 0])).outcome is Outcome.SKIP
    assert ask(t, clip("a", [1, 2]), clip("b", [4, 2])).outcome is Outcome.RIGHT
    t = SyntheticTeacher(TeacherConfig(eps_equal=0.1), margin=10.0)  # equal within 1
    assert ask(t, clip("a", [3.0]), clip("b", [3.9])).outcome is Outcome.EQUAL
    assert ask(t, clip("a", [3.0]), clip("b", [4.1])).outcome is Outcome.RIGHT


def test_mistake_teacher_flips_with_probability_eps():
    always = SyntheticTeacher(TeacherConfig(eps_mistake=1.0))
    assert ask(always, clip("a", [2]), clip("b", [1])).outcome is Outcome.RIGHT
    t = SyntheticTeacher(TeacherConfig(eps_mistake=0.2), seed=3)
    flips = sum(ask(t, clip("a", [2]), clip("b", [1])).outcome is Outcome.RIGHT for _ in range(2000))
    assert 0.17 < flips / 2000 < 0.23


def test_boltzmann_teacher_matches_the_softmax_and_is_seeded():
    beta = 0.7
    a, b = clip("a", [1.0]), clip("b", [0.0])
    t = SyntheticTeacher(TeacherConfig(beta=beta), seed=0)
    answers = [ask(t, a, b).outcome for _ in range(4000)]
    p_left = np.mean([o is Outcome.LEFT for o in answers])
    assert p_left == pytest.approx(1 / (1 + math.exp(-beta)), abs=0.03)
    again = SyntheticTeacher(TeacherConfig(beta=beta), seed=0)
    assert [ask(again, a, b).outcome for _ in range(4000)] == answers


def test_k_wise_queries_get_a_ranking():
    t = SyntheticTeacher(teacher_config("perfect"))
    label = ask(t, clip("a", [1]), clip("b", [3]), clip("c", [2]))
    assert label.outcome is None and label.ranking == (1, 2, 0)


def test_request_then_poll_returns_each_label_once():
    t = SyntheticTeacher(teacher_config("perfect"))
    clips = {"a": clip("a", [1]), "b": clip("b", [0])}
    t.request([Query("q1", ("a", "b")), Query("q2", ("b", "a"))], clips)
    labels = t.poll()
    assert [(lab.query_id, lab.outcome) for lab in labels] == [("q1", Outcome.LEFT), ("q2", Outcome.RIGHT)]
    assert t.poll() == []


def test_unknown_teacher_and_bad_parameters():
    with pytest.raises(ValueError, match="unknown teacher 'oracle'.*perfect"):
        teacher_config("oracle")
    with pytest.raises(ValueError, match="gamma"):
        TeacherConfig(gamma=0)
    with pytest.raises(ValueError, match="eps_mistake"):
        teacher_config("mistake", eps_mistake=1.5)
