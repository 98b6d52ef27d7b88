"""A run directory to rate without training: real clips, queried in pairs (or K-tuples), their
media rendered as the trainer would. Used by the app's tests and benchmark (a random policy's
short clips), and by ``pbrl rate --demo`` to try the app: CartPole clips of 1.5 s from three
policies that behave visibly differently (one balances, one pushes one way, one acts at
random), so that there is something to judge."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from pbrl import rl
from pbrl.clips import ClipRecorder
from pbrl.media import MediaWriter, SimState
from pbrl.run_dir import RunDir
from pbrl.store_pg import without_password
from pbrl.types import Clip, Query


def _balance(obs: np.ndarray, rng: np.random.Generator) -> int:
    """Push the cart towards the side the pole falls to (CartPole: angle and angular velocity)."""
    return int(obs[2] + 0.5 * obs[3] > 0)


POLICIES = {  # CartPole's, for a demo worth rating
    "balances": _balance,
    "pushes right": lambda obs, rng: int(rng.random() < 0.8),
    "random": lambda obs, rng: int(rng.integers(2)),
}


def make_demo_run(path: str | Path, queries: int = 10, env_id: str = "pbrl/CartPole-v1", k: int = 2,
                  clip_length: int = 25, seed: int = 0, texts: list[str] | None = None, varied: bool = False,
                  store: str = "") -> Path:
    """Write a run directory with ``queries`` unanswered queries of real clips.

    :param texts: make text clips instead (the response game's kind), one per text.
    :param varied: CartPole only: each episode from one of :data:`POLICIES` in turn (else random actions).
    :param store: keep the labels, clips and videos in this PostgreSQL database (TrainConfig.store).
    """
    config = {"env_id": env_id, "teacher": "human", "demo": True, "clip_length": clip_length,
              **({"store": without_password(store)} if store else {})}
    run, lock = RunDir.create(Path(path), config, store)
    lock.close()  # a demo has no trainer
    labels = run.open_store(store)
    rng = np.random.default_rng(seed)
    if texts is not None:
        clips = [Clip(f"t{i}", env_id, np.zeros((1, 1), np.float32), np.zeros(1, np.int64), np.zeros(1), 1, text=t)
                 for i, t in enumerate(texts)]
    else:
        venv = rl.make_env(env_id, seed, 1, wrapper_class=SimState)
        recorder = ClipRecorder(venv, env_id, clip_length)
        obs = recorder.reset()
        policies, episode = list(POLICIES.values()), 0
        while len(recorder.pool) < max(k, min(2 * queries, 40)):
            if varied:
                action = policies[episode % len(policies)](np.asarray(obs)[0], rng)
            else:
                action = venv.action_space.sample()
            obs, _, dones, _ = recorder.step(np.array([action]))
            episode += int(dones[0])
        venv.close()
        writer = MediaWriter(run.path, env_id)
        clips = [writer.write(c) for c in recorder.pool]
        writer.close()
    labels.add_clips(clips)
    now = time.time()
    for i in range(queries):
        picked = rng.choice(len(clips), size=k, replace=False)
        labels.add_queries([Query(f"q{i}", tuple(clips[j].clip_id for j in picked))], now + i * 1e-3)
    labels.close()
    return run.path
