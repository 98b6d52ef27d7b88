"""The language-model family: the response game (``pbrl/ResponseGame-v0``) in the same loop.

What differs from control: the policy is a language model that starts from an SFT model
(``TrainConfig.sft``) and is charged ``beta * KL`` to it (:class:`pbrl.text.rl.KLPenalty`);
the reward model is a small transformer over (prompt, response) ids with its own defaults;
the reward's zero is the SFT policy's responses; an AI judge can label (``judge:M:F``); the
run logs score, KL, entropy and beta; the policy's LM is saved for ``pbrl text`` / ``align``.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from dataclasses import replace
from pathlib import Path
from typing import Any

import gymnasium as gym
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecEnv

from pbrl.errors import InputError
from pbrl.family import EnvInfo, Family
from pbrl.oracle import PreferenceSource
from pbrl.text.judge import PREFIX as JUDGE_PREFIX
from pbrl.text.judge import JudgeTeacher, load_judge
from pbrl.text.lm_judge import PREFIX as LM_PREFIX
from pbrl.text.lm_judge import PRINCIPLES, LMJudge
from pbrl.text.model_dir import lm_env_kwargs, load_tokenizer, model_kind
from pbrl.text.policy import TextPolicy
from pbrl.text.reward import TEXT_REWARD_DEFAULTS
from pbrl.text.rl import TEXT_FIELDS, KLController, KLPenalty, frozen_reference
from pbrl.types import Clip

POLICY_LM = "text_policy"  # the policy's language model in a run directory, as pbrl text / align read it
GROUP_SIZE = 4  # responses sampled per prompt in a row (InstructGPT ranks K = 4-9 per prompt)


class TextFamily(Family):
    name = "text"
    reward_kind = "text"
    reward_defaults = {**TEXT_REWARD_DEFAULTS, "use_actions": False}
    clip_steps = 1  # a response game's episode is one step: the clip is the response
    video = False
    curve_fields = TEXT_FIELDS

    def check_config(self, config: Any) -> None:
        if not config.sft:
            raise InputError(f"{config.env_id} trains a language model: give --sft DIR, the SFT model it starts from "
                             "(pbrl text sft --task TASK --out DIR)")
        if config.algo not in ("ppo", "a2c", "rloo", "grpo"):
            raise InputError(f"the text policy trains with ppo, a2c, rloo or grpo, not {config.algo}")
        if config.teacher.startswith(JUDGE_PREFIX):
            load_judge(config.teacher)  # a bad name fails before anything is written
        if config.teacher.startswith(LM_PREFIX):
            model_kind(config.teacher[len(LM_PREFIX):])  # a model directory, or a clear error

    def resolve_config(self, config: Any) -> Any:
        # the env's lengths (and tokenizer) are the model's unless given; each prompt is answered
        # GROUP_SIZE times (at least k) so that a query compares responses to one prompt
        group = {"group_size": max(GROUP_SIZE, config.k)}
        env_kwargs = {**lm_env_kwargs(config.sft), **group, **config.env_kwargs}
        if env_kwargs["group_size"] < config.k:
            raise InputError(f"--env-kwarg group_size={env_kwargs['group_size']} answers each prompt fewer times "
                             f"than a query compares (--k {config.k}); give group_size >= k")
        return config if env_kwargs == config.env_kwargs else replace(config, env_kwargs=env_kwargs)

    def query_group(self, clip: Clip) -> Hashable | None:
        return clip.obs[0].tobytes()  # the prompt's token ids: a query compares responses to one prompt

    def policy_class(self, observation_space: gym.Space) -> Any:
        return TextPolicy

    def policy_kwargs(self, config: Any) -> dict[str, Any]:
        return {"lm_path": config.sft}

    def saved_policy_kwargs(self, run_dir: Path) -> dict[str, Any]:
        # the LM written at the run's end; a run stopped before it rebuilds from its SFT model
        # (policy.pt then holds the weights)
        if (run_dir / POLICY_LM).exists():
            return {"lm_path": str(run_dir / POLICY_LM)}
        return {"lm_path": json.loads((run_dir / "config.json").read_text())["sft"]}

    def wrap_agent_env(self, venv: VecEnv, config: Any) -> VecEnv:
        return KLPenalty(venv, frozen_reference(config.sft),
                         KLController(config.kl_coef, config.kl_target, config.kl_horizon))

    def attach(self, agent: BaseAlgorithm, venv: VecEnv) -> None:
        assert isinstance(venv, KLPenalty) and isinstance(agent.policy, TextPolicy)  # wrap_agent_env's, policy_class's
        venv.policy = agent.policy  # the KL penalty reads the policy's log-probabilities

    def agent_env_state(self, venv: VecEnv) -> dict[str, float]:
        assert isinstance(venv, KLPenalty)  # wrap_agent_env's
        return {"kl_beta": venv.controller.beta}

    def restore_agent_env_state(self, venv: VecEnv, state: dict[str, float]) -> None:
        assert isinstance(venv, KLPenalty)
        if "kl_beta" in state:  # where the adaptive beta had gone, not kl_coef again
            venv.controller.beta = float(state["kl_beta"])

    def save_artifacts(self, agent: BaseAlgorithm, run_dir: Path, config: Any, env: EnvInfo) -> None:
        assert isinstance(agent.policy, TextPolicy)
        assert isinstance(env.observation_space, gym.spaces.Box)  # the response game's spaces
        assert isinstance(env.action_space, gym.spaces.MultiDiscrete)
        agent.policy.lm.save(run_dir / POLICY_LM, {"task": config.env_kwargs.get("task", "sentiment"),
                                                   "prompt_tokens": env.observation_space.shape[0],
                                                   "response_tokens": env.action_space.shape[0]})

    def has_teacher(self, name: str) -> bool:
        return name.startswith((JUDGE_PREFIX, LM_PREFIX))

    def teacher(self, name: str, config: Any) -> PreferenceSource | None:
        if name.startswith(LM_PREFIX):  # a language model as the judge: weights, no code imported
            task = config.env_kwargs.get("task", "sentiment")
            lm_judge = LMJudge(name[len(LM_PREFIX):], config.principle or PRINCIPLES.get(task, "better"))
            return JudgeTeacher(lm_judge, lm_judge.name, load_tokenizer(config.sft))
        if not self.has_teacher(name):
            return None
        judge_name, judge = load_judge(name)
        return JudgeTeacher(judge, judge_name, load_tokenizer(config.sft))

    def reference_zero(self) -> bool:
        return True

    def step_metrics(self, infos: list[dict[str, Any]]) -> list[tuple[float, ...]]:
        return [tuple(info[k] for k in TEXT_FIELDS) for info in infos if "kl" in info]


TEXT = TextFamily()
