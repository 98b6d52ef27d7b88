"""imitation's PreferenceComparisons on a pbrl env: the side-by-side method of ``pbrl bench``.

imitation (HumanCompatibleAI, 1.0.1) pins gymnasium~=0.29 and SB3~=2.2.1; its preference
comparisons run on pbrl's gymnasium 1.4 / SB3 2.9 stack when installed with ``--no-deps``
(``bash scripts/setup-imitation.sh``: imitation 1.0.1, scipy, tqdm). The run is set up to
differ from pbrl's only in the algorithm:

- the same pbrl env (paper changes, fixed-length episodes), ``reveal_true_reward=True`` on the
  inner env only so that imitation's synthetic teacher reads the true reward from the
  trajectories it records, while the agent is trained on the learned reward alone (imitation's
  ``RewardVecEnvWrapper`` replaces it);
- the same PPO with the same per-env hyperparameters, n_envs and seed; where pbrl normalises
  (VecNormalize), the normaliser sits outside the learned reward, as in pbrl;
- the same teacher as pbrl's ``perfect`` one (imitation's ``SyntheticGatherer`` with
  temperature 0: the clip with the higher true return, 0.5 on ties), the same fragment length
  as pbrl's clip length, the same label budget and env steps (imitation also samples the
  fragments of its first 10% of comparisons before training, as pbrl's warm-up does);
- imitation's own defaults for the rest (its ``train_preference_comparisons`` script): one
  ``BasicRewardNet`` with running input and output normalisation, random fragment pairs,
  3 epochs per refit, 10% of the comparisons up front with a hyperbolic schedule for the
  rest; ``num_iterations`` (imitation: "arbitrary, should be tuned") one per ~4 PPO rollouts,
  between 5 and 50.

Evaluation is pbrl's: the final deterministic policy's true return over 10 episodes, reset
seeds 10000+seed...
"""

from __future__ import annotations

import functools
import time
from typing import Any

import numpy as np

from pbrl import rl
from pbrl.errors import StateError
from pbrl.family import family_for
from pbrl.progress import Progress


def available() -> bool:
    """Whether imitation's preference comparisons import here."""
    try:
        from imitation.algorithms import preference_comparisons  # noqa: F401 (imported to see that it does)
    except Exception:  # ImportError, or a version that does not run on this stack
        return False
    return True


def iterations(steps: int, rollout: int) -> int:
    """imitation's num_iterations: one per ~4 PPO rollouts, between 5 and 50."""
    return int(np.clip(steps // (4 * rollout), 5, 50))


def run_imitation(env_id: str, labels: int, steps: int, seed: int, eval_episodes: int = 10,
                  label: str = "imitation") -> dict[str, Any]:
    """Train with imitation's PreferenceComparisons; the result has run_baseline's keys plus
    ``labels`` (comparisons gathered) and ``num_iterations``."""
    if not available():
        raise StateError("imitation is not installed (or does not import): run `bash scripts/setup-imitation.sh`")
    import gymnasium as gym
    from imitation.algorithms import preference_comparisons as pc
    from imitation.rewards.reward_nets import BasicRewardNet, NormalizedRewardNet
    from imitation.util import logger as imit_logger
    from imitation.util.networks import RunningNorm
    from tqdm.auto import tqdm

    from pbrl.clips import default_clip_length

    pc.tqdm = functools.partial(tqdm, disable=True)  # a bar per refit; pbrl prints its own progress line
    rng = np.random.default_rng(seed)
    import torch

    torch.manual_seed(seed)
    n_envs, kwargs = family_for(env_id).hyperparameters("ppo", env_id)
    venv = rl.make_env(env_id, seed, n_envs, {"reveal_true_reward": True})
    probe = gym.make(env_id)
    fragment = default_clip_length(env_id, getattr(probe.unwrapped, "dt", None))
    assert probe.spec is not None  # made by gym.make
    horizon = probe.spec.max_episode_steps
    probe.close()

    net = BasicRewardNet(venv.observation_space, venv.action_space, normalize_input_layer=RunningNorm)
    reward_net = NormalizedRewardNet(net, RunningNorm)
    agent = rl.make_algo("ppo", venv, env_id, seed)
    quiet = imit_logger.configure(folder=None, format_strs=[])
    trainer = pc.AgentTrainer(agent, reward_net, venv, rng, exploration_frac=0.0, custom_logger=quiet)
    outer = rl.wrap_normalize(trainer.venv, env_id, kwargs)  # VecNormalize outside the learned reward, as pbrl does
    norm = outer if outer is not trainer.venv else None
    if norm is not None:
        agent.set_env(norm)
    progress = Progress(steps, label=label)
    callbacks = [trainer.log_callback, progress]

    rounds = []  # imitation trains the agent after each of its num_iterations + 1 label rounds

    def train_agent(**_: Any) -> None:  # called as train(steps=...); our target is cumulative
        # AgentTrainer.train with pbrl's progress line and curve, aiming at a cumulative target
        # (round i ends at i/(n+1) of `steps`): SB3 learns in whole rollouts, and per-round
        # budgets would each round up (Pendulum: 7 rounds of 4 rollouts for 100k steps = 115k)
        rounds.append(1)
        target = round(len(rounds) * steps / (n_iter + 1))
        if target > agent.num_timesteps:
            agent.learn(total_timesteps=target - agent.num_timesteps, reset_num_timesteps=False, callback=callbacks)

    trainer.train = train_agent
    rollout = n_envs * kwargs.get("n_steps", 2048)
    n_iter = iterations(steps, rollout)
    algorithm = pc.PreferenceComparisons(
        trainer, reward_net, num_iterations=n_iter,
        fragmenter=pc.RandomFragmenter(warning_threshold=0, rng=rng, custom_logger=quiet),
        preference_gatherer=pc.SyntheticGatherer(temperature=0, rng=rng, custom_logger=quiet),
        reward_trainer=pc.BasicRewardTrainer(pc.PreferenceModel(reward_net), pc.CrossEntropyRewardLoss(), rng=rng,
                                             epochs=3, custom_logger=quiet),
        fragment_length=min(fragment, horizon) if horizon else fragment, transition_oversampling=1,
        initial_comparison_frac=0.1, allow_variable_horizon=True, custom_logger=quiet,
        query_schedule="hyperbolic")
    start = time.perf_counter()
    algorithm.train(total_timesteps=steps, total_comparisons=labels)  # prints its query schedule
    seconds = time.perf_counter() - start
    result = rl.final_result(agent, env_id, eval_episodes, seed, rl.obs_normaliser(norm), seconds, progress.curve)
    venv.close()
    return {**result, "labels": len(algorithm.dataset), "num_iterations": n_iter,
            "fragment_length": algorithm.fragment_length}
