"""``pbrl bench --ray``: a grid on a real two-node Ray cluster (two ``ray start`` nodes on this
machine) writes the cell files ``--workers 1`` writes, and a cell whose worker is killed is
run again."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

PBRL = os.path.join(os.path.dirname(sys.executable), "pbrl")
RAY = os.path.join(os.path.dirname(sys.executable), "ray")
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}  # the cluster's and its drivers' environment
GRID = ["bench", "queries", "--seeds", "0", "--steps", "1000", "--labels", "4", "--method", "random",
        "--method", "pbrl:query=uniform"]


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """A head node and a second node, one CPU each; stopped afterwards."""
    if not os.path.exists(RAY):
        if os.environ.get("PBRL_REQUIRE_ALL") == "1":
            pytest.fail("PBRL_REQUIRE_ALL=1 but Ray is not installed (pip install 'pbrl[ray]'; scripts/setup.sh does)")
        pytest.skip("Ray is not installed (pip install 'pbrl[ray]')")
    import secrets

    port = 6399
    # token authentication, as the README sets it up (Ray turns it on for a head started where a
    # token exists, and a node or driver without the token is then refused)
    ENV.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    env = ENV
    common = ["--num-cpus", "1", "--num-gpus", "0", "--disable-usage-stats"]
    subprocess.run([RAY, "start", "--head", "--port", str(port), "--include-dashboard", "false", *common],
                   check=True, capture_output=True, env=env, timeout=120)
    try:
        subprocess.run([RAY, "start", "--address", f"127.0.0.1:{port}", *common], check=True, capture_output=True,
                       env=env, timeout=120)
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True, env=env, timeout=120)


def _cells(out):
    return {p.stem: json.loads(p.read_text()) for p in sorted((out / "cells").glob("*.json"))}


DETERMINISTIC = ("true_return_mean", "true_return_std", "labels_used", "steps", "seed", "method", "task")


@pytest.mark.slow
def test_a_grid_on_a_cluster_writes_the_cells_one_worker_writes(ray_cluster, tmp_path):
    ray_out, local_out = tmp_path / "ray", tmp_path / "local"
    done = subprocess.run([PBRL, *GRID, "--ray", ray_cluster, "--out", str(ray_out)], capture_output=True, text=True,
                          timeout=600, env=ENV)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "on the Ray cluster at" in done.stdout and "2 running or queued" not in done.stdout.splitlines()[-1]
    local = subprocess.run([PBRL, *GRID, "--workers", "1", "--out", str(local_out)], capture_output=True, text=True,
                           timeout=600)
    assert local.returncode == 0, local.stdout + local.stderr
    on_ray, here = _cells(ray_out), _cells(local_out)
    assert sorted(on_ray) == sorted(here) == ["Pendulum-v1__pbrl-query-uniform__4__s0", "Pendulum-v1__random__0__s0"]
    for name in here:  # the same seeded runs, wherever they ran
        assert {k: on_ray[name][k] for k in DETERMINISTIC} == {k: here[name][k] for k in DETERMINISTIC}, name
        assert on_ray[name]["curve"] == here[name]["curve"] and on_ray[name]["ran_on"] == "ray"
    # finished cells are skipped wherever the grid goes on
    again = subprocess.run([PBRL, *GRID, "--workers", "1", "--out", str(ray_out)], capture_output=True, text=True,
                           timeout=600)
    assert "2 already done, 0 to run" in again.stdout


def _worker_of(name: str) -> int | None:
    """The pid of the Ray worker running the task named ``name`` (its process title)."""
    found = subprocess.run(["pgrep", "-f", f"ray::pbrl:{name}"], capture_output=True, text=True).stdout.split()
    return int(found[0]) if found else None


@pytest.mark.slow
def test_a_cell_whose_worker_is_killed_runs_again(ray_cluster, tmp_path):
    if shutil.which("pgrep") is None:
        pytest.skip("pgrep (procps) is not installed")
    out = tmp_path / "grid"
    grid = subprocess.Popen([PBRL, "bench", "queries", "--seeds", "0", "--steps", "3000", "--labels", "4", "--method",
                             "pbrl:query=uniform", "--ray", ray_cluster, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
    name, deadline, pid = "Pendulum-v1__pbrl-query-uniform__4__s0", time.time() + 120, None
    while pid is None and time.time() < deadline and grid.poll() is None:
        pid = _worker_of(name)
        time.sleep(0.2)
    assert pid is not None, "the cell's worker never appeared"
    time.sleep(2.0)  # mid-cell
    os.kill(pid, signal.SIGKILL)
    again = None
    # Ray starts the cell again in another worker (the killed one may show a moment longer on a busy machine)
    while grid.poll() is None and (again is None or again == pid):
        again = _worker_of(name)
        time.sleep(0.1)
    log, _ = grid.communicate(timeout=600)
    assert grid.returncode == 0, log
    assert again is not None and again != pid, log
    assert "[1/1] finished" in log and "0 failed" in log
    assert json.loads((out / "cells" / f"{name}.json").read_text())["ran_on"] == "ray"


@pytest.mark.slow
def test_sigterm_cancels_the_cells_running_on_the_cluster(ray_cluster, tmp_path):
    if shutil.which("pgrep") is None:
        pytest.skip("pgrep (procps) is not installed")
    out, name = tmp_path / "grid", "Pendulum-v1__pbrl-query-uniform__4__s0"
    grid = subprocess.Popen([PBRL, "bench", "queries", "--seeds", "0", "--steps", "20000", "--labels", "4", "--method",
                             "pbrl:query=uniform", "--ray", ray_cluster, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
    deadline = time.time() + 120
    while _worker_of(name) is None and time.time() < deadline and grid.poll() is None:
        time.sleep(0.2)
    assert _worker_of(name) is not None, "the cell's worker never appeared"
    grid.send_signal(signal.SIGTERM)
    log, _ = grid.communicate(timeout=60)
    assert grid.returncode != 0, log
    deadline = time.time() + 30
    while _worker_of(name) is not None and time.time() < deadline:  # cancelled on the cluster, not left running
        time.sleep(0.2)
    assert _worker_of(name) is None
    assert not (out / "cells" / f"{name}.json").exists()
