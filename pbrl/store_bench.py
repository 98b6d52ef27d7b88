"""Label throughput of the store: N scripted raters in N processes, each claiming a query,
labelling it and claiming the next until the queue is empty, on SQLite and on PostgreSQL,
in one run.

    python -m pbrl.store_bench --raters 1 4 16 --queries 600 --postgres postgresql://pbrl:pbrl@127.0.0.1/pbrl_test

writes ``benchmarks/store/throughput.json``; ``pbrl bench --report`` puts its table in
BENCHMARKS.md. Per backend and rater count: labels committed per second (all raters
together, from the first claim to the last commit), and the median and 95th-percentile
latency of a claim and of a label's commit. The raters answer at once: this measures the
store, not people (a person takes seconds per label).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from pbrl.io import write_json
from pbrl.store import open_store
from pbrl.types import Clip, Label, Outcome, Query

RESULT_FILE = "throughput.json"
BEGIN, END = "<!-- store throughput: BEGIN (pbrl bench --report) -->", "<!-- store throughput: END -->"


def _seed(location: str, queries: int) -> None:
    """A store with ``queries`` pairs of two small clips."""
    store = open_store(location)
    clip = [Clip(c, "pbrl/CartPole-v1", np.zeros((25, 4), np.float32), np.zeros(25, np.int64), np.zeros(25), 25)
            for c in ("a", "b")]
    store.add_queries([Query(f"q{i}", ("a", "b")) for i in range(queries)], time.time(), clip)
    store.close()


def _rater(location: str, rater: str, start: Any, out: Any) -> None:
    store = open_store(location, create=False)
    claims, commits, answered = [], [], 0
    start.wait()
    first = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        query = store.claim_next(rater, time.time(), lease_seconds=600)
        t1 = time.perf_counter()
        claims.append(t1 - t0)
        if query is None:
            break
        store.add_label(Label(query.query_id, Outcome.LEFT, rater=rater, shown_at=time.time(),
                              answered_at=time.time()), require_claim=True)
        commits.append(time.perf_counter() - t1)
        answered += 1
    out.put({"rater": rater, "answered": answered, "claims": claims, "commits": commits, "first": first,
             "last": time.perf_counter()})
    store.close()


def measure(location: str, raters: int, queries: int) -> dict[str, Any]:
    """``raters`` processes label a fresh store of ``queries`` queries at ``location``."""
    _seed(location, queries)
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_rater, args=(location, f"r{i}", start, out)) for i in range(raters)]
    for p in procs:
        p.start()
    time.sleep(1.0)  # every process connected and waiting
    start.set()
    rows = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    store = open_store(location, create=False)
    labels = store.labels()
    store.close()
    claims = np.array([c for r in rows for c in r["claims"]]) * 1000
    commits = np.array([c for r in rows for c in r["commits"]]) * 1000
    seconds = max(r["last"] for r in rows) - min(r["first"] for r in rows)
    return {"raters": raters, "queries": queries, "labels": len(labels),
            "answered_once": len(labels) == len({lab.query_id for lab in labels}) == queries,
            "labels_per_second": len(labels) / seconds, "seconds": seconds,
            "claim_ms_median": float(np.median(claims)), "claim_ms_p95": float(np.percentile(claims, 95)),
            "commit_ms_median": float(np.median(commits)), "commit_ms_p95": float(np.percentile(commits, 95))}


def run(raters: list[int], queries: int, postgres: str | None, work: Path) -> dict[str, Any]:
    rows = []
    for n in raters:
        work.mkdir(parents=True, exist_ok=True)
        sqlite = work / f"labels-{n}-{uuid.uuid4().hex[:6]}.sqlite"
        rows.append({"backend": "SQLite", **measure(str(sqlite), n, queries)})
        print(rows[-1], flush=True)
        if postgres:
            run_name = f"bench-{uuid.uuid4().hex[:8]}"
            try:
                rows.append({"backend": "PostgreSQL", **measure(f"{postgres.rstrip('/')}/{run_name}", n, queries)})
                print(rows[-1], flush=True)
            finally:
                import psycopg

                with psycopg.connect(postgres, autocommit=True) as db:
                    db.execute(f'DROP SCHEMA IF EXISTS "pbrl_{run_name}" CASCADE')
    return {"command": f"python -m pbrl.store_bench --raters {' '.join(map(str, raters))} --queries {queries}"
                       + (" --postgres URL" if postgres else ""),
            "rows": rows, "machine": f"{platform.machine()}, {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d")}


def table(result: dict[str, Any]) -> str:
    """The BENCHMARKS.md section of a ``throughput.json``."""
    lines = [f"`{result['command']}` ({result['machine']}, {result['date']}; PostgreSQL 15 on the same machine, "
             "over TCP on loopback): scripted raters in separate processes claim and label until the queue is "
             "empty, answering at once.", "",
             "| backend | raters | labels committed | labels/s | claim ms (median / p95) | commit ms (median / p95) | "
             "each query answered once |", "|---|---:|---:|---:|---:|---:|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['backend']} | {r['raters']} | {r['labels']} | {r['labels_per_second']:,.0f} | "
                     f"{r['claim_ms_median']:.1f} / {r['claim_ms_p95']:.1f} | "
                     f"{r['commit_ms_median']:.1f} / {r['commit_ms_p95']:.1f} | "
                     f"{'yes' if r['answered_once'] else 'NO'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pbrl.store_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--raters", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--queries", type=int, default=600)
    parser.add_argument("--postgres", help="a PostgreSQL database URL (postgresql://USER:PASSWORD@HOST/DATABASE)")
    parser.add_argument("--out", default="benchmarks/store")
    args = parser.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory() as work:
        result = run(args.raters, args.queries, args.postgres, Path(work))
    Path(args.out).mkdir(parents=True, exist_ok=True)
    write_json(Path(args.out) / RESULT_FILE, result)
    print(table(result))
    return 0 if all(r["answered_once"] for r in result["rows"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
