"""A family of another package's envs, plugged into pbrl's loop (docs/ARCHITECTURE.md).

A gymnasium env registered by "your package", its reward hidden with pbrl's HiddenReward,
and a Family that says what differs from pbrl's defaults (here: 10-step clips, PPO's settings
and the reward model's epochs). The core finds the family from the env id through the registry;
nothing in pbrl changes. Run it: python examples/custom_family.py [--small]
"""

from __future__ import annotations

import sys

import gymnasium as gym
import numpy as np

from pbrl.envs import HiddenReward
from pbrl.families import ClassicFamily
from pbrl.family import register_family
from pbrl.trainer import TrainConfig, train


class LineWalk(gym.Env):
    """Walk a line towards 0: the (hidden) reward is minus the distance from 0."""

    observation_space = gym.spaces.Box(-10.0, 10.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)  # left, right
    metadata = {"render_modes": [], "render_fps": 10}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = self.np_random.uniform(-5, 5)
        return np.array([self.x], np.float32), {}

    def step(self, action):
        self.x = float(np.clip(self.x + (0.5 if action == 1 else -0.5), -10, 10))
        return np.array([self.x], np.float32), -abs(self.x), False, False, {}


class LineFamily(ClassicFamily):
    """What differs from classic control: shorter clips and PPO settings for short episodes
    (the RL Zoo has none for this env). The reward model reads the state alone, as classic
    control's: an r(s, a) model was gamed here (5k steps: return -392, a random walk -188)."""

    name = "line"
    clip_steps = 10
    reward_defaults = {"use_actions": False, "epochs": 8.0}

    def hyperparameters(self, algo, env_id):
        return 8, {"n_steps": 64, "batch_size": 128, "n_epochs": 10, "learning_rate": 1e-3, "gamma": 0.95}


LINE = LineFamily()

gym.register("demo/LineWalk-v0", entry_point=lambda render_mode=None: HiddenReward(LineWalk(), "demo/LineWalk-v0"),
             max_episode_steps=50)
# "module:attr", as gymnasium's entry points: here this script's module
register_family("line", f"{__name__}:LINE", env_ids=("demo/LineWalk-v0",))

if __name__ == "__main__":
    from pbrl import rl

    steps = 5_000 if "--small" in sys.argv else 20_000
    out = sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else "runs/line-walk"
    summary = train(TrainConfig(env_id="demo/LineWalk-v0", labels=30, steps=steps, video=False), out)
    random_returns, _ = rl.evaluate(None, "demo/LineWalk-v0", 10, seed=0)
    print(f"true return {summary['true_return_mean']:.1f} with {summary['labels']} labels "
          f"(a random policy: {np.mean(random_returns):.1f})")
