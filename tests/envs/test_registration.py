"""Registration the gymnasium 1.x way: on import, via register_envs, and by module prefix."""

import textwrap

import gymnasium as gym
import pytest

import pbrl
from pbrl.envs import ENV_IDS, FAMILIES, SUITE


def test_suite_has_the_twenty_one_ids_of_four_families():
    assert len(ENV_IDS) == 21
    assert len(set(ENV_IDS)) == 21
    counts = {family: sum(e.family == family for e in SUITE) for family in FAMILIES}
    assert counts == {"classic": 5, "mujoco": 8, "atari": 7, "text": 1}
    assert all(i.startswith("pbrl/") for i in ENV_IDS)


def test_import_registers_every_id():
    for env_id in ENV_IDS:
        assert env_id in gym.registry, env_id
        assert gym.spec(env_id).entry_point == "pbrl.envs.factory:make_env"


def test_register_envs_is_idempotent_and_the_ale_idiom_works():
    pbrl.register_envs()
    gym.register_envs(pbrl)
    assert sum(1 for i in gym.registry if i.startswith("pbrl/")) == 21


def test_time_limits_follow_the_base_envs():
    assert gym.spec("pbrl/CartPole-v1").max_episode_steps == 500
    assert gym.spec("pbrl/Pendulum-v1").max_episode_steps == 200
    assert gym.spec("pbrl/HalfCheetah-v5").max_episode_steps == 1000
    assert gym.spec("pbrl/Reacher-v5").max_episode_steps == 50


def test_fresh_interpreter_import_pbrl_then_make(run_python):
    result = run_python("import gymnasium as gym, pbrl; e = gym.make('pbrl/CartPole-v1'); "
                        "print(e.reset(seed=1)[0].shape)")
    assert result.returncode == 0, result.stderr
    assert "(4,)" in result.stdout


def test_fresh_interpreter_module_prefix_without_import(run_python):
    code = textwrap.dedent(
        """
        import sys, gymnasium as gym
        assert "pbrl" not in sys.modules
        env = gym.make("pbrl:pbrl/Pendulum-v1")
        obs, info = env.reset(seed=0)
        _, r, *_ , info = env.step(env.action_space.sample())
        print("ok", r, "true_reward" in info)
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert "ok 0.0 True" in result.stdout


def test_plain_id_without_import_fails_as_gymnasium_does(run_python):
    result = run_python("import gymnasium as gym; gym.make('pbrl/CartPole-v1')")
    assert result.returncode != 0
    assert "NamespaceNotFound" in result.stderr or "pbrl" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_subproc_vec_env_workers_resolve_the_module_prefix(start_method, run_python):
    code = textwrap.dedent(
        f"""
        import sys
        from stable_baselines3.common.env_util import make_vec_env
        from stable_baselines3.common.vec_env import SubprocVecEnv
        if __name__ == "__main__":
            venv = make_vec_env("pbrl:pbrl/CartPole-v1", n_envs=2, seed=0, vec_env_cls=SubprocVecEnv,
                                vec_env_kwargs={{"start_method": "{start_method}"}})
            assert "pbrl" not in sys.modules, "the parent must not have imported pbrl"
            venv.reset()
            rewards, true = [], []
            for _ in range(30):
                _, r, _, infos = venv.step([venv.action_space.sample() for _ in range(2)])
                rewards.extend(r.tolist()); true.extend(i["true_reward"] for i in infos)
            print("ok", sum(rewards), sum(true))
            venv.close()
        """
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert "ok 0.0 60.0" in result.stdout
