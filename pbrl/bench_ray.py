"""``pbrl bench SUITE --ray [ADDRESS]``: a grid's cells as tasks on a Ray cluster.

Each cell is one Ray task asking for one CPU (a cell trains with one torch thread) and, on a
cluster that has GPUs, one GPU for the cells that use one (the LM judge's). A task runs the
cell in a temporary directory of its worker and returns the result row; the driver writes
the cell files, the same ones ``--workers`` writes, so workers need no shared filesystem and
a grid started on a cluster can be finished on one machine or the other way round (finished
cells are skipped either way). A worker that dies (its machine lost, the process killed) has
its cell run again by Ray, up to ``RETRIES`` times; a cell that raises is counted as failed
and the grid goes on. Ctrl-C or SIGTERM cancels the running cells. Every pbrl node needs pbrl
installed with the same extras as the driver (``ray start`` from that environment).

    ray start --head --port 6379                  # one machine
    ray start --address HEAD_IP:6379              # each of the others
    pbrl bench mujoco --seeds 0 1 2 --ray HEAD_IP:6379   # or --ray auto on a node of the cluster

``--ray`` alone starts a local Ray instance for the run (one machine; for trying it out).
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from typing import Any

from pbrl.bench import Cell, run_cell, sigterm_exits, write_row
from pbrl.errors import MissingDependencyError, StateError

RETRIES = 3  # times Ray runs a cell again whose worker died
GPU_METHODS = ("pbrl:teacher=judge-lm",)  # cells that use a GPU when the cluster has one
LOCAL = "local"  # --ray with no address: a Ray instance of this run's own


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("pbrl bench --ray needs Ray: pip install 'pbrl[ray]'") from None
    return ray


def cell_task(cell: Cell) -> dict[str, Any]:
    """What a Ray task runs: the cell in a temporary directory of the worker; its result row."""
    with tempfile.TemporaryDirectory(prefix="pbrl-cell-") as out:
        return run_cell(cell, out)


def run_on_ray(todo: list[Cell], out: str, address: str) -> None:
    """Run ``todo`` as tasks on the cluster at ``address`` (``auto``: the one this machine is
    part of; ``local``: a new local instance) and write each finished cell's file in ``out``."""
    ray = _ray()
    try:
        ray.init(address=address or LOCAL, include_dashboard=False, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise StateError(f"--ray {address}: cannot join that Ray cluster ({exc}); start one with `ray start --head` "
                         "and pass its address (HOST:6379), or --ray alone for a local one") from None
    gpus = ray.cluster_resources().get("GPU", 0) > 0
    task = ray.remote(cell_task)
    pending = {task.options(num_cpus=1, num_gpus=1 if gpus and cell.method in GPU_METHODS else 0,
                            max_retries=RETRIES, name=f"pbrl:{cell.name}").remote(cell): cell for cell in todo}
    finished, failed = 0, []
    with sigterm_exits():
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                cell = pending.pop(ready[0])
                try:
                    write_row(out, cell, {**ray.get(ready[0]), "ran_on": "ray"})
                    finished += 1
                except ray.exceptions.RayError as exc:  # the cell raised, or its worker died RETRIES + 1 times
                    failed.append(cell.name)
                    print(f"== {cell.name} failed: {str(exc).strip().splitlines()[-1][:300]}", flush=True)
                print(f"== [{finished}/{len(todo)}] finished {cell.name}: {len(pending)} running or queued, "
                      f"{len(failed)} failed", flush=True)
        except (KeyboardInterrupt, SystemExit):
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        finally:
            ray.shutdown()
    if failed:
        raise StateError(f"{len(failed)} cell(s) failed on the cluster ({', '.join(failed[:5])}); the finished ones "
                         "are written: run the same command again to retry the rest")


GRID_FILE = "grid.json"  # benchmarks/scaling/: a grid's wall time with --workers and with --ray
BEGIN, END = "<!-- ray grid: BEGIN (pbrl bench --report) -->", "<!-- ray grid: END -->"


def compare(args: list[str], workers: int = 2) -> dict[str, Any]:
    """Wall time of ``pbrl bench ARGS`` run twice from scratch, with ``--workers`` and on a local
    Ray instance of as many CPUs, and whether both wrote the same cells (the deterministic
    fields of each)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for how, extra in (("workers", ["--workers", str(workers)]), ("ray", ["--ray"])):
            out = Path(tmp) / how
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "pbrl", "bench", *args, *extra, "--out", str(out)], check=True,
                           capture_output=True, env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
            cells = {p.stem: json.loads(p.read_text()) for p in (out / "cells").glob("*.json")}
            rows[how] = {"seconds": time.perf_counter() - start, "cells": len(cells),
                         "returns": {k: v["true_return_mean"] for k, v in sorted(cells.items())}}
    return {"command": f"python -m pbrl.bench_ray {' '.join(args)}", "worker_count": workers, **rows,
            "same_cells": rows["workers"]["returns"] == rows["ray"]["returns"],
            "machine": f"{platform.machine()}, {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d")}


def table(result: dict[str, Any]) -> str:
    """The BENCHMARKS.md lines of a ``grid.json``."""
    w, r = result["workers"], result["ray"]
    return (f"`{result['command']}` ({result['machine']}, {result['date']}): the same grid of {w['cells']} cells from "
            f"scratch, {w['seconds']:.0f} s with `--workers {result['worker_count']}` and {r['seconds']:.0f} s on a "
            f"local Ray instance (`--ray`, {r['seconds'] / w['seconds']:.2f}x: Ray's start-up and scheduling at this "
            f"scale); every cell's return {'identical' if result['same_cells'] else 'DIFFERENT'} in the two.")


def main(argv: list[str] | None = None) -> int:
    import argparse
    from pathlib import Path

    from pbrl.io import write_json

    parser = argparse.ArgumentParser(prog="python -m pbrl.bench_ray",
                                     description="time a grid with --workers 2 and with --ray on this machine")
    parser.add_argument("--out", default="benchmarks/scaling")
    known, rest = parser.parse_known_args(argv)
    result = compare(rest or ["queries", "--seeds", "0", "1", "--steps", "20000"])
    Path(known.out).mkdir(parents=True, exist_ok=True)
    write_json(Path(known.out) / GRID_FILE, result)
    print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
