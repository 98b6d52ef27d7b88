"""The response game: prompt ids in, a whole response out, one step, the hidden score in info."""

import math
import warnings

import gymnasium as gym
import numpy as np
import pytest

import pbrl  # noqa: F401 (registers the pbrl/... ids)
from pbrl.text import BOS, EOS, PAD, ArithmeticTask, CharTokenizer, make_task

TOK = CharTokenizer()


def respond(env, text):
    return env.step(TOK.encode_response(text, env.unwrapped.max_response_tokens))


def test_tokenizer_left_pads_prompts_and_stops_responses_at_eos():
    ids, cut = TOK.encode_prompt("3+4=", 8)
    assert not cut and ids.tolist()[:3] == [PAD, PAD, PAD] and ids[3] == BOS and TOK.decode(ids) == "3+4="
    response = TOK.encode_response("7", 5)
    assert response.tolist()[1] == EOS and TOK.decode(response) == "7" and TOK.finished(response)
    assert TOK.decode([*TOK.ids("ab"), EOS, *TOK.ids("cd")]) == "ab"  # nothing after EOS counts
    long, cut = TOK.encode_prompt("abcdefghij", 5)
    assert cut and TOK.decode(long) == "ghij"  # the end of a long prompt is kept
    assert TOK.decode(TOK.ids("caf\u00e9")) == "caf"  # a character outside the alphabet is UNK, dropped


def test_one_step_episode_hides_the_score_and_reports_prompt_and_response():
    env = gym.make("pbrl/ResponseGame-v0", task="arithmetic")
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs) and obs.dtype == np.int64
    assert isinstance(env.observation_space, gym.spaces.Box)  # not Discrete: SB3 must not one-hot it
    answer = ArithmeticTask.answer(info["prompt"])
    obs, reward, terminated, truncated, info = respond(env, f" {answer}")
    assert (reward, terminated, truncated) == (0.0, True, False)
    assert info["true_reward"] == 1.0 and info["response"] == f" {answer}" and info["response_finished"]
    env.reset(seed=0)
    assert respond(env, str(answer + 1))[4]["true_reward"] == 0.0
    revealed = gym.make("pbrl/ResponseGame-v0", task="arithmetic", reveal_true_reward=True)
    revealed.reset(seed=0)
    assert respond(revealed, str(answer))[1] == 1.0


def test_sentiment_scores_positive_text_above_negative_text():
    env = gym.make("pbrl/ResponseGame-v0", task="sentiment")
    env.reset(seed=1)
    good = respond(env, " wonderful, a delight")[4]["true_reward"]
    env.reset(seed=1)
    bad = respond(env, " awful and boring")[4]["true_reward"]
    assert good > 0.5 and bad < -0.5


def test_a_response_without_eos_is_scored_whole():
    env = gym.make("pbrl/ResponseGame-v0", task="sentiment", max_response_tokens=6)
    env.reset(seed=0)
    *_, info = env.step(np.array(TOK.ids("great!"), dtype=np.int64))
    assert info["response"] == "great!" and not info["response_finished"] and info["true_reward"] > 0


def test_a_user_callable_task_and_a_learned_reward():
    env = gym.make("pbrl:pbrl/ResponseGame-v0", task=lambda prompt, response: float(len(response)), prompts=["hi"],
                   reward_model=lambda obs, actions: (actions != PAD).sum(axis=1).astype(np.float32))
    _, info = env.reset(seed=0)
    assert info["prompt"] == "hi"
    _, reward, *_, info = respond(env, "abc")
    assert info["true_reward"] == 3.0 and reward == 4.0  # the model counted "abc" + EOS


def test_long_prompts_are_cut_with_a_warning_or_refused():
    env = gym.make("pbrl/ResponseGame-v0", task=lambda p, r: 0.0, prompts=["x" * 40], max_prompt_tokens=8)
    with pytest.warns(UserWarning, match="longer than max_prompt_tokens - 1 = 7"):
        _, info = env.reset(seed=0)
    assert info["prompt_truncated"]
    strict = gym.make("pbrl/ResponseGame-v0", task=lambda p, r: 0.0, prompts=["x" * 40], max_prompt_tokens=8,
                      long_prompts="error")
    with pytest.raises(ValueError, match="raise max_prompt_tokens"):
        strict.reset(seed=0)


@pytest.mark.parametrize("score, error, match", [
    (lambda p, r: 1 / 0, RuntimeError, "task 'boom': the scorer raised ZeroDivisionError"),
    (lambda p, r: math.nan, ValueError, "task 'boom': the scorer returned nan"),
    (lambda p, r: "good", ValueError, "not a number"),
])
def test_a_scorer_that_raises_or_returns_nan_names_the_task(score, error, match):
    env = gym.make("pbrl/ResponseGame-v0", task=make_task(score, ["p"], name="boom"))
    env.reset(seed=0)
    with pytest.raises(error, match=match):
        respond(env, "x")


def test_token_ids_of_another_vocabulary_are_refused():
    env = gym.make("pbrl/ResponseGame-v0", task="arithmetic", disable_env_checker=True)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="the model and the tokenizer do not match"):
        env.step(np.full(6, TOK.vocab_size + 5))


def test_bad_arguments_name_the_fix():
    with pytest.raises(ValueError, match="unknown text task 'poetry'"):
        gym.make("pbrl/ResponseGame-v0", task="poetry")
    with pytest.raises(ValueError, match="needs prompts"):
        gym.make("pbrl/ResponseGame-v0", task=lambda p, r: 0.0)
    with pytest.raises(ValueError, match="max_response_tokens must be an integer >= 2"):
        gym.make("pbrl/ResponseGame-v0", max_response_tokens=1)


def test_sb3_trains_on_it_with_a_plain_policy():
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env("pbrl/ResponseGame-v0", n_envs=2, seed=0, env_kwargs={"task": "arithmetic"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = PPO("MlpPolicy", venv, n_steps=16, batch_size=32, seed=0, device="cpu").learn(32)
    assert model.num_timesteps >= 32 and len(model.ep_info_buffer) >= 32  # one episode per step
