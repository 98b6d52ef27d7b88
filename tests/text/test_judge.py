"""AI feedback: a judge callable answers the response game's queries."""

import numpy as np
import pytest

from pbrl.text.judge import JudgeTeacher, lexicon_judge, load_judge
from pbrl.text.tokenizer import CharTokenizer
from pbrl.types import Clip, Outcome, Query

TOK = CharTokenizer()


def clip(i, response, prompt="The movie was"):
    obs, _ = TOK.encode_prompt(prompt, 48)
    return Clip(f"c{i}", "pbrl/ResponseGame-v0", obs[None], TOK.encode_response(response, 24)[None], np.zeros(1), 1)


def test_the_judge_reads_prompt_and_responses_and_its_answers_become_labels():
    seen = []

    def judge(prompt, responses):
        seen.append((prompt, responses))
        return 1

    teacher = JudgeTeacher(judge, "mine")
    clips = {c.clip_id: c for c in (clip(0, " bad."), clip(1, " great."), clip(2, " fine."))}
    teacher.request([Query("q0", ("c0", "c1")), Query("q1", ("c0", "c1", "c2"))], clips)
    pair, triple = teacher.poll()
    assert seen[0] == ("The movie was", [" bad.", " great."])
    assert pair.outcome == Outcome.RIGHT and pair.rater == "judge:mine"
    assert triple.ranking == (1, 0, 2) and teacher.poll() == []


def test_the_lexicon_judge_and_bad_answers():
    assert lexicon_judge("x", [" awful and boring", " a joy, lovely"]) == [1, 0]
    assert lexicon_judge("x", [" set in Paris", " long."]) == "equal"
    teacher = JudgeTeacher(lambda p, r: 7, "broken")
    with pytest.raises(ValueError, match="it must return the best response's index"):
        teacher.request([Query("q0", ("c0", "c1"))], {c.clip_id: c for c in (clip(0, "a"), clip(1, "b"))})
    raising = JudgeTeacher(lambda p, r: 1 / 0, "zero")
    with pytest.raises(RuntimeError, match="the judge 'zero' raised ZeroDivisionError"):
        raising.request([Query("q0", ("c0", "c1"))], {c.clip_id: c for c in (clip(0, "a"), clip(1, "b"))})


def test_judges_are_named_module_function():
    name, judge = load_judge("judge:pbrl.text.judge:lexicon_judge")
    assert name == "pbrl.text.judge:lexicon_judge" and judge is lexicon_judge
    with pytest.raises(ValueError, match="cannot load the judge"):
        load_judge("judge:pbrl.text.judge:nobody")
    with pytest.raises(ValueError, match="judge:MODULE:FUNCTION"):
        load_judge("judge:lexicon")
    from pbrl.trainer import TrainConfig

    with pytest.raises(ValueError, match="use it with pbrl/ResponseGame-v0"):
        TrainConfig(env_id="pbrl/CartPole-v1", teacher="judge:pbrl.text.judge:lexicon_judge")
