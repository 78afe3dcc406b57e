"""The intake benchmark: POST /api/v1/flows/<id>/leads on PostgreSQL + Redis, served
by the production server (gunicorn, 4 sync workers, DEBUG off), measured next to two
reference views served by the same server in the same run (leadflow/bench_views.py):
a bare JSON view and a view doing one raw INSERT.

Throughput comes from wrk (closed loop, 16 connections), latency from hey at a fixed
offered rate of 500 leads/s. No Celery worker runs: deliveries pile up as pending rows
and their messages in the bench queue, which is purged afterwards.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from bench import Failed
from bench.backends import (
    bench_broker_url,
    count_rows,
    ensure_database,
    ensure_tools,
    mask,
    purge_queue,
    require_backends,
    server_version,
    truncate,
)
from bench.loadgen import HeyResult, WrkResult, lead_body, run_hey, run_wrk, write_wrk_script
from bench.server import Gunicorn, run_python

DB_NAME = "leadflow_bench"
QUEUE = "leadflow-bench"
API_KEY = "lf_bench_only_key_not_a_secret_0123456789abcdef"
WORKERS = 4
WRK_THREADS, WRK_CONNECTIONS, WRK_SECONDS, WARMUP_SECONDS = 2, 16, 10, 2
HEY_SECONDS, HEY_WORKERS, HEY_QPS_PER_WORKER = 10, 10, 50  # 10 × 50 = 500 leads/s
TARGET_RATIO, TARGET_P99_MS = 0.5, 50.0


def server_env(database_url: str, broker_url: str) -> dict[str, str]:
    """Production settings with bench-only secrets, the bench database and queue."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "leadflow.settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789abcdef",
        "FIELD_ENCRYPTION_KEYS": "bench-only-field-encryption-key",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "BENCH_REFERENCE_VIEWS": "true",
        "SANDBOX_ENABLED": "false",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "CELERY_QUEUE": QUEUE,
        "LOG_LEVEL": "WARNING",
        "BENCH_API_KEY": API_KEY,
    }


@dataclass
class Results:
    wrk: dict[str, WrkResult]
    hey: HeyResult
    wrk_leads_stored: int
    hey_leads_stored: int
    hey_deliveries_stored: int


def run() -> int:
    database_url, broker_url = require_backends()
    ensure_tools()
    db_url = ensure_database(database_url, DB_NAME)
    broker = bench_broker_url(broker_url)
    env = server_env(db_url, broker)
    run_python(env, "manage.py", "migrate", "--noinput", "-v", "0")
    seed = json.loads(run_python(env, "-m", "bench.seed").strip().splitlines()[-1])
    purge_queue(broker, QUEUE)
    with tempfile.TemporaryDirectory(prefix="leadflow-bench-") as tmp:
        script = write_wrk_script(Path(tmp) / "lead.lua", api_key=API_KEY)
        body = Path(tmp) / "lead.json"
        body.write_text(lead_body())
        try:
            with Gunicorn(env, workers=WORKERS, log=Path(tmp) / "gunicorn.log") as server:
                print_context(server, db_url, broker)
                results = measure(server, seed, db_url, script, body)
        finally:
            purge_queue(broker, QUEUE)
    return report(results)


def print_context(server: Gunicorn, db_url: str, broker: str) -> None:
    pg_version = server_version(db_url)
    cpus = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    lines = {
        "server": f"gunicorn {version('gunicorn')}, {WORKERS} sync workers, DEBUG off, "
        f"{server.base_url}",
        "cpus": f"{cpus} (usable {usable}); wrk/hey share them with gunicorn, PostgreSQL and Redis",
        "python": f"{sys.version.split()[0]}, Django {version('django')}",
        "database": f"PostgreSQL {pg_version}, {mask(db_url)}",
        "broker": f"{mask(broker)}, queue {QUEUE}, no worker (purged after)",
        "load_throughput": f"wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{WRK_SECONDS}s "
        f"(after {WARMUP_SECONDS}s warm-up per endpoint)",
        "load_latency": f"hey -z {HEY_SECONDS}s -c {HEY_WORKERS} -q {HEY_QPS_PER_WORKER} "
        f"(offered {HEY_WORKERS * HEY_QPS_PER_WORKER} leads/s)",
    }
    for name, value in lines.items():
        print(f"{name}: {value}", flush=True)


def measure(server: Gunicorn, seed: dict, db_url: str, script: Path, body: Path) -> Results:
    """Warm up and run wrk against each endpoint, then hey against intake. The tables
    are emptied before each measured run, so stored rows can be counted."""
    paths = {
        "bare_view": "/bench/bare",
        "raw_insert": "/bench/raw-insert",
        "intake": f"/api/v1/flows/{seed['flow_id']}/leads",
    }
    wrk: dict[str, WrkResult] = {}
    for name, path in paths.items():
        url = server.base_url + path
        run_wrk(
            url, script, threads=WRK_THREADS, connections=WRK_CONNECTIONS, seconds=WARMUP_SECONDS
        )
        settle(db_url, seed["tables"])
        truncate(db_url, seed["tables"])
        wrk[name] = run_wrk(
            url, script, threads=WRK_THREADS, connections=WRK_CONNECTIONS, seconds=WRK_SECONDS
        )
        print(
            f"# {name}: {wrk[name].req_per_s:.1f} req/s over {wrk[name].requests} requests",
            flush=True,
        )
    settle(db_url, seed["tables"])
    wrk_stored = count_rows(db_url, seed["lead_table"])
    truncate(db_url, seed["tables"])
    hey = run_hey(
        server.base_url + paths["intake"],
        body,
        api_key=API_KEY,
        seconds=HEY_SECONDS,
        workers=HEY_WORKERS,
        per_worker_qps=HEY_QPS_PER_WORKER,
    )
    return Results(
        wrk,
        hey,
        wrk_stored,
        count_rows(db_url, seed["lead_table"]),
        count_rows(db_url, seed["delivery_table"]),
    )


def settle(db_url: str, tables: list[str], *, timeout: float = 5.0) -> None:
    """Wait until the server has finished the requests wrk left behind: when wrk stops,
    connections still queued in gunicorn's listen backlog are served anyway (up to -c
    requests), so rows keep appearing for a moment."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        counts = [count_rows(db_url, table) for table in tables]
        if counts == last:
            return
        last = counts
        time.sleep(0.3)


def report(r: Results) -> int:
    """Print the figures; exit 1 if any request failed or a lead went missing."""
    intake, raw, bare = r.wrk["intake"], r.wrk["raw_insert"], r.wrk["bare_view"]
    ratio = intake.req_per_s / raw.req_per_s if raw.req_per_s else 0.0
    p50, p99 = r.hey.latency_ms.get(50, float("nan")), r.hey.latency_ms.get(99, float("nan"))
    # wrk stops with up to -c requests in flight (and counts timed-out ones as errors):
    # those leads are stored but not counted. hey waits for its requests: exact.
    offered = HEY_WORKERS * HEY_QPS_PER_WORKER
    wrk_extra = r.wrk_leads_stored - intake.ok
    wrk_ok = 0 <= wrk_extra <= WRK_CONNECTIONS + intake.errors
    hey_ok = r.hey_leads_stored == r.hey.ok == r.hey_deliveries_stored
    figures = {
        "intake_leads_per_s": f"{intake.req_per_s:.1f}",
        "intake_p50_ms": f"{p50:.2f}",
        "intake_p99_ms": f"{p99:.2f}",
        "bare_view_req_per_s": f"{bare.req_per_s:.1f}",
        "raw_insert_req_per_s": f"{raw.req_per_s:.1f}",
        "intake_ratio_vs_raw_insert": f"{ratio:.2f}",
        "intake_leads_stored_match": "yes" if wrk_ok and hey_ok else "no",
        # Context.
        "intake_wrk_p50_ms": f"{intake.latency_ms.get('50%', float('nan')):.2f} (at saturation)",
        "intake_wrk_p99_ms": f"{intake.latency_ms.get('99%', float('nan')):.2f} (at saturation)",
        "intake_offered_rate_achieved_per_s": f"{r.hey.req_per_s:.1f}"
        + (
            f" (offered {offered}: the server saturated, so hey's workers waited and the "
            "percentiles are closed-loop latencies at that lower rate)"
            if r.hey.req_per_s < 0.95 * offered
            else ""
        ),
        "intake_hey_statuses": ", ".join(f"{c}×{n}" for c, n in sorted(r.hey.statuses.items()))
        or "none",
        "intake_hey_errors": sum(r.hey.errors.values()),
        "intake_leads_stored_wrk": f"{r.wrk_leads_stored} stored / {intake.ok} 2xx "
        f"(≤{WRK_CONNECTIONS} in flight at wrk's stop)",
        "intake_leads_stored_hey": f"{r.hey_leads_stored} stored, {r.hey_deliveries_stored} "
        f"deliveries / {r.hey.ok} 2xx",
        "target_ratio_ge_0_50": "yes" if ratio >= TARGET_RATIO else "no",
        "target_p99_lt_50ms": "yes" if p99 < TARGET_P99_MS else "no",
    }
    for name, result in r.wrk.items():
        figures[f"{name}_non_2xx"] = result.non_2xx_3xx
        figures[f"{name}_socket_errors"] = ", ".join(
            f"{k} {v}" for k, v in result.socket_errors.items()
        )
    for name, value in figures.items():
        print(f"{name}: {value}", flush=True)
    problems = [
        f"{name} returned {res.non_2xx_3xx} non-2xx responses"
        for name, res in r.wrk.items()
        if res.non_2xx_3xx
    ]
    if r.hey.not_ok or r.hey.errors:
        problems.append(f"intake under hey: statuses {r.hey.statuses}, errors {r.hey.errors}")
    if not (wrk_ok and hey_ok):
        problems.append("stored leads do not match the 2xx intake responses")
    if problems:
        raise Failed("; ".join(problems))
    return 0
