"""An SB3 actor-critic policy whose actor is a causal LM: PPO on the response game.

- ``forward``: sample a whole response autoregressively after each prompt; its log-probability
  is the sum of the token log-probabilities up to and including EOS;
- ``evaluate_actions``: one teacher-forced pass gives the same sum and the summed token
  entropy for PPO's ratio and entropy bonus;
- ``predict_values``: a value head on the LM's last prompt state (detached: the critic does not
  reshape the language model).

``TextPolicy`` takes ``lm_path`` (a directory written by the SFT step) or a fresh built-in
model (``lm_config``); the env's prompt and response lengths must fit the model.
"""

from __future__ import annotations

from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import PyTorchObs
from torch import nn

from pbrl.errors import InputError
from pbrl.text.load import load_lm
from pbrl.text.model import LMConfig, TinyCausalLM


def _ids(obs: PyTorchObs) -> torch.Tensor:
    """The prompt ids: the response game observes one Box, never a dict of them."""
    assert isinstance(obs, torch.Tensor)
    return obs.long()


class TextPolicy(ActorCriticPolicy):
    """PPO/A2C policy over responses (``MultiDiscrete``) to prompts (``Box`` of ids)."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, lr_schedule: Any,
                 lm_path: str | None = None, lm_config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not isinstance(action_space, spaces.MultiDiscrete) or not isinstance(observation_space, spaces.Box):
            raise InputError("TextPolicy is for pbrl/ResponseGame-v0: a Box of prompt ids and a MultiDiscrete "
                             f"response, got {observation_space} and {action_space}")
        self.lm_path, self.lm_config = lm_path, lm_config
        self.response_tokens = int(action_space.shape[0])
        kwargs.pop("ortho_init", None)
        super().__init__(observation_space, action_space, lr_schedule, ortho_init=False, **kwargs)

    def _build(self, lr_schedule: Any) -> None:
        self.lm = load_lm(self.lm_path) if self.lm_path else TinyCausalLM(LMConfig(**(self.lm_config or {})))
        assert isinstance(self.action_space, spaces.MultiDiscrete) and isinstance(self.observation_space, spaces.Box)
        vocab, width = int(self.action_space.nvec.max()), self.observation_space.shape[0] + self.response_tokens
        if vocab != self.lm.config.vocab_size:
            raise InputError(f"the env's responses use {vocab} token ids, the model {self.lm.config.vocab_size}: "
                             "the model and the tokenizer do not match")
        if width > self.lm.config.max_len:
            raise InputError(f"prompt + response = {width} tokens, more than the model's max_len "
                             f"{self.lm.config.max_len}; make the env's max_prompt_tokens / max_response_tokens "
                             "match the SFT step's")
        d = self.lm.config.d_model
        self.value_head = nn.Sequential(nn.Linear(d, 64), nn.Tanh(), nn.Linear(64, 1))
        # SB3 types optimizer_class as type[Optimizer], whose own __init__ takes no lr (as in SB3's _build)
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)  # type: ignore[call-arg]

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(lm_path=self.lm_path, lm_config=self.lm_config)
        return data

    def forward(self, obs: PyTorchObs,
                deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        prompts = _ids(obs)
        responses = self.lm.generate(prompts, self.response_tokens, greedy=deterministic)
        with torch.no_grad():
            logp, _, _ = self.lm.response_logprobs(prompts, responses)
        return responses, self.predict_values(obs), logp.sum(1)

    def evaluate_actions(self, obs: PyTorchObs,
                         actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logp, _, entropy = self.lm.response_logprobs(_ids(obs), actions.long())
        return self.predict_values(obs), logp.sum(1), entropy.sum(1)

    def predict_values(self, obs: PyTorchObs) -> torch.Tensor:
        with torch.no_grad():  # the value head reads the LM's features; its loss does not train the LM
            _, hidden = self.lm(_ids(obs))
        return self.value_head(hidden[:, -1])

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> torch.Tensor:
        return self.lm.generate(_ids(observation), self.response_tokens, greedy=deterministic)

    def get_distribution(self, obs: PyTorchObs):
        raise NotImplementedError("a response is sampled token by token (forward / _predict), "
                                  "not from one distribution")
