"""PPO on the response game with a KL penalty to the SFT policy (and optional PPO-ptx).

The agent's reward for a response y to a prompt x is ``r(x, y) - beta * KL`` with
``KL = sum_t log pi(y_t | x, y_<t) - log pi_ref(y_t | x, y_<t)`` (the k1 estimator of
Ziegler et al. 2019 / InstructGPT; ``k3 = sum_t (rho_t - 1) - log rho_t`` with
``rho_t = pi_ref / pi`` is the low-variance non-negative alternative). ``r`` is whatever the
env gives the agent: the hidden score itself with ``reveal_true_reward=True`` (a verifiable
reward, RLVR), or a learned reward model. ``beta`` is fixed, or adapted towards a target KL
with Ziegler et al.'s controller: ``e = clip(KL / target - 1, -0.2, 0.2)``,
``beta <- beta * (1 + e * n / horizon)`` after every n responses.

PPO-ptx (InstructGPT): ``ptx_coef * NLL`` of a batch of the SFT corpus is added to the
gradients before every optimizer step, so the policy keeps its pretraining distribution.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs

from pbrl.errors import InputError, check_numbers
from pbrl.group_ppo import BASELINES, GRPO, RLOO
from pbrl.io import atomic_write
from pbrl.rl import set_torch_threads
from pbrl.text.load import load_lm
from pbrl.text.model import CausalLM
from pbrl.text.model_dir import lm_env_kwargs, load_tokenizer
from pbrl.text.policy import TextPolicy
from pbrl.text.sft import corpus, encode_pairs, nll

ENV_ID = "pbrl/ResponseGame-v0"


# KLPenalty's info keys: reward before the penalty, KL to SFT, entropy, beta
TEXT_FIELDS = ("score", "kl", "entropy", "beta")

def kl_estimate(lm: CausalLM, ref: CausalLM, prompts: torch.Tensor, responses: torch.Tensor,
                estimator: str = "k1") -> tuple[torch.Tensor, torch.Tensor]:
    """(KL per response [B], summed token entropy of the policy [B]) for sampled responses."""
    with torch.no_grad():
        logp, mask, entropy = lm.response_logprobs(prompts, responses)
        logp_ref, _, _ = ref.response_logprobs(prompts, responses)
    if estimator == "k1":
        kl = ((logp - logp_ref) * mask).sum(1)
    elif estimator == "k3":
        log_rho = (logp_ref - logp) * mask
        kl = ((log_rho.exp() - 1 - log_rho) * mask).sum(1)
    else:
        raise InputError(f"kl estimator must be 'k1' or 'k3', got {estimator!r}")
    return kl, entropy.sum(1)


def frozen_reference(path: str | Path) -> CausalLM:
    """The SFT model as the KL penalty's fixed reference: loaded, in eval mode, no gradients."""
    return load_lm(path).eval().requires_grad_(False)


class KLController:
    """Fixed beta, or Ziegler et al.'s adaptive one (``target`` set)."""

    def __init__(self, beta: float, target: float | None = None, horizon: int = 10_000) -> None:
        if beta < 0 or (target is not None and target <= 0) or horizon < 1:
            raise InputError(f"kl: beta >= 0, target > 0 and horizon >= 1, got {beta}, {target}, {horizon}")
        self.beta, self.target, self.horizon = float(beta), target, horizon

    def update(self, kl: float, n: int) -> None:
        if self.target is not None:
            error = float(np.clip(kl / self.target - 1, -0.2, 0.2))
            self.beta *= 1 + error * n / self.horizon


class KLPenalty(VecEnvWrapper):
    """Subtracts ``beta * KL(pi || pi_ref)`` from each response's reward; ``info`` gets
    ``score`` (the reward before the penalty), ``kl`` and ``entropy``."""

    def __init__(self, venv: VecEnv, ref: CausalLM, controller: KLController, estimator: str = "k1") -> None:
        super().__init__(venv)
        self.ref, self.controller, self.estimator = ref, controller, estimator
        self.policy: TextPolicy | None = None  # set once the algorithm exists
        self._prompts: VecEnvObs | None = None
        self._actions: np.ndarray | None = None

    def reset(self) -> VecEnvObs:
        self._prompts = self.venv.reset()
        return self._prompts

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)
        self.venv.step_async(actions)

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        if self.policy is None:
            raise RuntimeError("KLPenalty.policy is not set: give it the PPO model's policy before learning")
        kl_t, entropy_t = kl_estimate(self.policy.lm, self.ref, torch.as_tensor(self._prompts),
                                      torch.as_tensor(self._actions).long(), self.estimator)
        kl, entropy = kl_t.numpy(), entropy_t.numpy()
        shaped = rewards - self.controller.beta * kl
        for i, info in enumerate(infos):
            info.update(score=float(rewards[i]), kl=float(kl[i]), entropy=float(entropy[i]), beta=self.controller.beta)
        self.controller.update(float(kl.mean()), len(kl))
        self._prompts = obs  # every step ends an episode: obs is the next prompt
        return obs, shaped.astype(np.float32), dones, infos


class PretrainMix:
    """PPO-ptx: before each optimizer step, adds the gradient of ``coef * NLL`` on a batch of
    the SFT corpus (after SB3's gradient clipping of the PPO loss)."""

    def __init__(self, optimizer: torch.optim.Optimizer, lm: CausalLM, prompts: torch.Tensor,
                 responses: torch.Tensor, coef: float, batch_size: int = 32, seed: int = 0) -> None:
        self.lm, self.prompts, self.responses, self.coef, self.batch_size = lm, prompts, responses, coef, batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.inner_step, self.last = optimizer.step, float("nan")
        # PPO-ptx: SB3 calls optimizer.step() itself; this instance's step adds the NLL gradient first
        optimizer.step = self.step  # type: ignore[method-assign]

    def step(self, closure: Any = None) -> Any:
        idx = torch.randint(0, len(self.prompts), (self.batch_size,), generator=self.generator)
        loss = nll(self.lm, self.prompts[idx], self.responses[idx])
        (self.coef * loss).backward()
        self.last = float(loss.item())
        return self.inner_step(closure)


@dataclass(frozen=True)
class TextRLConfig:
    """``pbrl text ppo``: PPO on the response game from an SFT policy, KL-penalised."""

    task: str = "arithmetic"
    """the response game's task: sentiment or arithmetic"""
    algo: str = "ppo"
    """ppo (a value network's baseline), rloo (leave-one-out over each prompt's responses) or
    grpo (group-normalised rewards): pbrl.group_ppo"""
    group_size: int | None = None
    """responses to each prompt in a row (None: 1 for ppo, 4 for rloo and grpo; n_steps must be
    a multiple of it)"""
    sft: str = ""
    """directory of the SFT model (pbrl text sft --out): the starting policy and the KL reference"""
    responses: int = 20_000
    """env steps, one response each"""
    n_envs: int = 32
    """parallel response games"""
    n_steps: int = 4
    """responses per env per rollout"""
    batch_size: int = 64
    """responses per PPO minibatch"""
    n_epochs: int = 4
    """PPO epochs per rollout"""
    learning_rate: float = 1e-4
    """PPO's Adam learning rate"""
    ent_coef: float = 0.0
    """PPO's entropy bonus coefficient"""
    kl_coef: float = 0.05
    """beta of the KL penalty to the SFT policy (the start value when kl_target is set)"""
    kl_target: float | None = None
    """adapt beta towards this KL per response (Ziegler et al. 2019); None: beta stays fixed"""
    kl_horizon: int = 10_000
    """the adaptive beta's horizon, in responses"""
    kl_estimator: str = "k1"
    """k1 (the summed log-ratio) or k3 (the low-variance non-negative estimator)"""
    ptx_coef: float = 0.0
    """PPO-ptx: weight of the SFT corpus negative log-likelihood added to PPO's loss"""
    reward: str = "true"
    """true: the hidden score (RLVR); or a reward model directory"""
    eval_prompts: int = 256
    """prompts of the evaluation before and after training"""
    seed: int = 0
    """seeds the envs, the policy and the evaluation"""

    def __post_init__(self) -> None:
        if not self.sft:
            raise InputError("text ppo needs --sft DIR, the SFT model (pbrl text sft --task TASK --out DIR)")
        if self.algo not in ("ppo", *BASELINES):
            raise InputError(f"--algo must be ppo, rloo or grpo, got {self.algo!r}")
        if self.group_size is not None and self.group_size < 1:
            raise InputError(f"--group-size must be >= 1, got {self.group_size}")
        if self.algo != "ppo" and (self.groups < 2 or self.n_steps % self.groups):
            raise InputError(f"--algo {self.algo} needs --group-size >= 2 dividing --n-steps {self.n_steps}, got "
                             f"{self.groups}")
        if self.kl_estimator not in ("k1", "k3"):
            raise InputError(f"kl_estimator must be 'k1' or 'k3', got {self.kl_estimator!r}")
        for name in ("responses", "n_envs", "n_steps", "batch_size", "n_epochs", "eval_prompts"):
            if getattr(self, name) < 1:
                raise InputError(f"text ppo: {name} must be >= 1, got {getattr(self, name)}")
        check_numbers(self, {"learning_rate": "--lr"}, learning_rate="> 0", ent_coef=">= 0", kl_coef=">= 0",
                      kl_target="> 0", kl_horizon=">= 1", ptx_coef=">= 0", seed=">= 0")


    @property
    def groups(self) -> int:
        """Responses to each prompt in a row."""
        return self.group_size if self.group_size is not None else (1 if self.algo == "ppo" else 4)


def evaluate_text(lm: CausalLM, task: str, n: int, seed: int, ref: CausalLM | None = None,
                  env_kwargs: dict[str, Any] | None = None) -> dict[str, float]:
    """Mean hidden score of ``lm``'s sampled and greedy responses to ``n`` fixed prompts
    (reset seeds 10000+seed...), and the mean KL to ``ref`` of the sampled ones."""
    env = gym.make(ENV_ID, task=task, disable_env_checker=True, **(env_kwargs or {}))
    prompts = np.stack([env.reset(seed=10_000 + seed + i)[0] for i in range(n)])
    assert isinstance(env.action_space, gym.spaces.MultiDiscrete)  # the response game's
    length = env.action_space.shape[0]
    generator = torch.Generator().manual_seed(seed)
    out: dict[str, float] = {}
    for mode in ("sampled", "greedy"):
        responses = lm.generate(torch.as_tensor(prompts), length, generator=generator, greedy=mode == "greedy").numpy()
        scores = []
        for i in range(n):
            env.reset(seed=10_000 + seed + i)
            scores.append(env.step(responses[i])[4]["true_reward"])
        out[f"score_{mode}"] = float(np.mean(scores))
        out[f"score_{mode}_std"] = float(np.std(scores))
        if mode == "sampled" and ref is not None:
            kl, entropy = kl_estimate(lm, ref, torch.as_tensor(prompts), torch.as_tensor(responses))
            out["kl_sampled"], out["entropy_sampled"] = float(kl.mean()), float(entropy.mean())
    env.close()
    return out


class _Log(BaseCallback):
    def __init__(self, config: TextRLConfig, mix: PretrainMix | None) -> None:
        super().__init__()
        self.config, self.mix = config, mix
        self.rows: list[dict[str, float]] = []
        self.buffer: list[tuple[float, ...]] = []
        self.start, self.next = time.perf_counter(), max(config.responses // 10, 1)

    def _on_step(self) -> bool:
        self.buffer += [tuple(i[k] for k in TEXT_FIELDS) for i in self.locals["infos"]]
        return True

    def _on_rollout_end(self) -> None:
        if not self.buffer:
            return
        row = {"responses": self.num_timesteps,
               **dict(zip(TEXT_FIELDS, (float(np.mean(v)) for v in zip(*self.buffer, strict=True)), strict=True)),
               "ptx_nll": self.mix.last if self.mix else float("nan")}
        self.rows.append(row)
        for key in TEXT_FIELDS:
            self.logger.record(f"text/{key}", row[key])
        self.buffer = []
        if self.num_timesteps >= self.next:
            self.next += max(self.config.responses // 10, 1)
            rate = self.num_timesteps / (time.perf_counter() - self.start)
            print(f"  {self.num_timesteps:>7,}/{self.config.responses:,} responses  {rate:,.0f}/s  "
                  f"score {row['score']:.3f}  KL {row['kl']:.2f}  beta {row['beta']:.3f}  entropy {row['entropy']:.2f}",
                  flush=True)


def train_text(config: TextRLConfig, out: str | Path) -> dict[str, Any]:
    """PPO from the SFT policy; writes ``out/summary.json``, ``out/curves.csv`` and the
    policy's LM to ``out/policy/``. Returns the summary (SFT and final evaluation)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    set_torch_threads()
    ref = frozen_reference(config.sft)
    meta = json.loads((Path(config.sft) / "lm.json").read_text())
    env_kwargs = {"task": config.task, **lm_env_kwargs(config.sft), "group_size": config.groups}
    if config.reward == "true":
        env_kwargs["reveal_true_reward"] = True
    else:
        env_kwargs["reward_model"] = config.reward
    venv = make_vec_env(ENV_ID, n_envs=config.n_envs, seed=config.seed, env_kwargs=env_kwargs)
    controller = KLController(config.kl_coef, config.kl_target, config.kl_horizon)
    venv = KLPenalty(venv, ref, controller, config.kl_estimator)
    algo = {"ppo": PPO, "rloo": RLOO, "grpo": GRPO}[config.algo]
    model = algo(TextPolicy, venv, n_steps=config.n_steps, batch_size=config.batch_size, n_epochs=config.n_epochs,
                learning_rate=config.learning_rate, ent_coef=config.ent_coef, gamma=1.0, gae_lambda=1.0,
                policy_kwargs={"lm_path": config.sft}, seed=config.seed, device="cpu", verbose=0)
    model.set_logger(configure(str(out / "logs"), ["csv", "tensorboard"]))  # text/score, kl, entropy, beta; train/*
    policy = model.policy
    assert isinstance(policy, TextPolicy)
    venv.policy = policy
    mix = None
    if config.ptx_coef > 0:
        assert isinstance(venv.observation_space, gym.spaces.Box)  # the response game's
        assert isinstance(venv.action_space, gym.spaces.MultiDiscrete)
        lengths = (venv.observation_space.shape[0], venv.action_space.shape[0])
        prompts, responses = encode_pairs(corpus(config.task, 5000, config.seed), *lengths, load_tokenizer(config.sft))
        mix = PretrainMix(policy.optimizer, policy.lm, prompts, responses, config.ptx_coef, seed=config.seed)
    eval_kwargs = lm_env_kwargs(config.sft)
    before = evaluate_text(ref, config.task, config.eval_prompts, config.seed, ref, eval_kwargs)
    print(f"text {config.algo} {config.task}: SFT policy score {before['score_sampled']:.3f} sampled, "
          f"{before['score_greedy']:.3f} greedy",
          flush=True)
    log = _Log(config, mix)
    start = time.perf_counter()
    model.learn(config.responses, callback=log)
    seconds = time.perf_counter() - start
    policy.lm.eval()
    after = evaluate_text(policy.lm, config.task, config.eval_prompts, config.seed, ref, eval_kwargs)
    token_counts = {k: meta[k] for k in ("prompt_tokens", "response_tokens") if k in meta}
    policy.lm.save(out / "policy", {"task": config.task, **token_counts})
    summary = {"config": asdict(config), "sft": before, "final": after, "train_seconds": seconds,
               "responses_per_second": config.responses / seconds}
    text = json.dumps(summary, indent=2).encode()
    atomic_write(out / "summary.json", lambda f: f.write(text))
    if log.rows:
        keys = list(log.rows[0])
        lines = [",".join(keys)] + [",".join(f"{r[k]:.6g}" for k in keys) for r in log.rows]
        atomic_write(out / "curves.csv", lambda f: f.write(("\n".join(lines) + "\n").encode()))
    print(f"text {config.algo} {config.task}: score {before['score_sampled']:.3f} -> "
          f"{after['score_sampled']:.3f} sampled, "
          f"{before['score_greedy']:.3f} -> {after['score_greedy']:.3f} greedy; "
          f"KL to SFT {after.get('kl_sampled', 0):.2f}; {seconds:.0f} s", flush=True)
    return summary
