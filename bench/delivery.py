"""The delivery benchmark: how fast the engine works once the CRM's quota is not the
bound, on PostgreSQL + Redis and in the embedded setup of `make run`.

    deliveries_per_s_per_worker   one worker process (prefork, concurrency 1) delivering
                                  the Keap REST demo flow, sandbox and account quotas off
    delivery_overhead_ms          engine time per delivery excluding HTTP (in-process:
                                  claim, load, map, limiter, record, next step); <= 5 ms
    delivery_overhead_cpu_ms      the part of it that is this process's CPU (the rest is
                                  waiting for PostgreSQL and Redis to answer)
    embedded_deliveries_per_s     SQLite + the filesystem broker, started as `make run`
                                  starts them (the Procfile: runserver, the worker, beat):
                                  300 leads posted at once to the HighLevel demo flow; >= 20
    sweeper_resends               deliveries the sweeper woke again in that run (0: no
                                  wake-up was lost, none was sent twice)

BENCH_DELIVERY_PARTS=embedded runs the embedded part alone (no PostgreSQL or Redis
needed), =server the PostgreSQL + Redis part alone; unset, both run (the default).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import requests

from bench import Failed
from bench.backends import mask, require_backends
from bench.server import ROOT, free_port, run_python
from bench.stack import (
    BIG,
    SANDBOX_OFF,
    bench_database_url,
    post_leads,
    query,
    sandbox_limits,
    seed,
    served,
    stack_env,
    wait_for,
)
from bench.worker import CeleryWorker, stop

NO_QUOTAS = {
    "rate_limit_per_second": 100_000,
    "rate_limit_per_minute": BIG,
    "rate_limit_per_day": BIG,
}
PER_WORKER_LEADS, OVERHEAD_LEADS, EMBEDDED_LEADS = 60, 60, 300


PARTS = ("server", "embedded")
TARGETS = {
    "delivery_overhead_ms": lambda v: v <= 5,
    "embedded_deliveries_per_s": lambda v: v >= 20,
    "sweeper_resends": lambda v: v == 0,
}


def parts() -> tuple[str, ...]:
    """The parts BENCH_DELIVERY_PARTS names (comma-separated), all of them when unset."""
    raw = os.environ.get("BENCH_DELIVERY_PARTS", "").strip()
    if not raw:
        return PARTS
    chosen = tuple(p.strip() for p in raw.split(",") if p.strip())
    unknown = set(chosen) - set(PARTS)
    if unknown:
        raise Failed(f"BENCH_DELIVERY_PARTS: unknown part {sorted(unknown)[0]!r} (of {PARTS})")
    return chosen


def run() -> int:
    chosen = parts()
    figures: dict[str, float] = {}
    if "server" in chosen:
        database_url, broker_url = require_backends()
        figures.update(server_stack(database_url, broker_url))
    if "embedded" in chosen:
        figures.update(embedded_stack())
    for name, value in figures.items():
        print(f"{name}: {value:.2f}" if isinstance(value, float) else f"{name}: {value}")
    ok = all(check(figures[name]) for name, check in TARGETS.items() if name in figures)
    return 0 if ok else 1


def server_stack(database_url: str, broker_url: str) -> dict[str, float]:
    db_url = bench_database_url(database_url)
    env = stack_env(db_url, broker_url, queue=f"leadflow-bench-dl-{uuid.uuid4().hex[:6]}")
    ids = seed(env, limits={"keap": NO_QUOTAS, "highlevel": NO_QUOTAS})
    print(f"database: {mask(db_url)}\nbroker: {mask(broker_url)}, queue {env['CELERY_QUEUE']}")
    with tempfile.TemporaryDirectory(prefix="leadflow-bench-dl-") as tmp:
        with served(env, Path(tmp), workers=4) as server:
            sandbox_limits(server.base_url, **SANDBOX_OFF)
            out = run_python(
                env, "-m", "bench.delivery_overhead", str(ids["keap"]), str(OVERHEAD_LEADS)
            )
            overhead = json.loads(out.strip().splitlines()[-1])
            print(f"# in-process, Keap REST demo flow: {overhead}", flush=True)
            log = Path(tmp) / "worker.log"
            with CeleryWorker(env, queue=env["CELERY_QUEUE"], concurrency=1, log=log):
                prefix = f"dl-{uuid.uuid4().hex[:6]}"
                started = time.monotonic()
                post_leads(server.base_url, ids["keap"], PER_WORKER_LEADS, prefix)
                wait_for(
                    lambda: done_count(db_url, prefix) >= PER_WORKER_LEADS,
                    timeout=300,
                    what="the per-worker burst",
                )
                elapsed = time.monotonic() - started
    print(f"# one worker: {PER_WORKER_LEADS} Keap REST leads in {elapsed:.1f}s", flush=True)
    return {
        "deliveries_per_s_per_worker": PER_WORKER_LEADS / elapsed,
        "delivery_overhead_ms": overhead["overhead_ms"],
        "delivery_overhead_cpu_ms": overhead["overhead_cpu_ms"],
    }


def done_count(db_url: str, prefix: str) -> int:
    [(done,)] = query(
        db_url,
        "SELECT count(*) FROM integrations_delivery d JOIN integrations_lead l"
        " ON l.id = d.lead_id WHERE l.email LIKE %s AND d.status = 'done'",
        (f"{prefix}.%",),
    )
    return done


# --- The embedded setup ----------------------------------------------------------------


def embedded_env(var_dir: Path, port: int) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "RATELIMIT_REDIS_URL")
    }
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": "leadflow.settings",
        "DEBUG": "true",
        "SANDBOX_ENABLED": "true",
        "LEADFLOW_VAR_DIR": str(var_dir),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "CELERY_QUEUE": "leadflow",
        "DEMO_API_KEY": "lf_bench_embedded_key_not_a_secret_0123",
        "LOG_LEVEL": "WARNING",
    }


def embedded_stack() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="leadflow-bench-embedded-") as tmp:
        var_dir = Path(tmp)
        port = free_port()
        env = embedded_env(var_dir, port)
        ids = seed(env, limits={"keap": NO_QUOTAS, "highlevel": NO_QUOTAS})
        procs = start_procfile(env, var_dir, port)
        try:
            wait_for(lambda: answers(port), timeout=60, what="runserver")
            sandbox_limits(f"http://127.0.0.1:{port}", **SANDBOX_OFF)
            prefix = f"emb-{uuid.uuid4().hex[:6]}"
            post_leads(
                f"http://127.0.0.1:{port}",
                ids["highlevel"],
                EMBEDDED_LEADS,
                prefix,
                api_key=env["DEMO_API_KEY"],
            )
            db = var_dir / "leadflow.sqlite3"
            wait_for(
                lambda: sqlite_done(db, prefix) >= EMBEDDED_LEADS,
                timeout=300,
                what="the embedded burst",
            )
            first, last = sqlite_span(db, prefix)
            cpu = {name: session_cpu_s(proc.pid) for name, proc in procs.items()}
        finally:
            for proc in procs.values():
                stop(proc)
        log = (var_dir / "worker.log").read_text(errors="replace")
    resends = sum(
        int(line.split("woke ")[1].split()[0])
        for line in log.splitlines()
        if "sweeper: woke" in line
    )
    span = (last - first).total_seconds()
    print(f"# embedded: {EMBEDDED_LEADS} HighLevel leads, first post to last outcome {span:.1f}s")
    print("# embedded CPU (s, whole run): " + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items()))
    return {"embedded_deliveries_per_s": EMBEDDED_LEADS / span, "sweeper_resends": resends}


def start_procfile(env: dict[str, str], var_dir: Path, port: int) -> dict[str, subprocess.Popen]:
    """The Procfile's processes, started as `make run` (honcho) starts them: each line's
    command through the shell, from the project root, with LEADFLOW_PORT set (and the
    run's own LEADFLOW_VAR_DIR, in `env`)."""
    env = {**env, "LEADFLOW_PORT": str(port)}
    procs = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if not sep or not name.strip() or name.lstrip().startswith("#"):
            continue
        command = command.strip()
        with open(var_dir / f"{name.strip()}.log", "ab") as out:
            procs[name.strip()] = subprocess.Popen(
                # exec: the process to stop and wait for is the command itself.
                ["/bin/sh", "-c", f"exec {command}"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    return procs


def session_cpu_s(sid: int) -> float:
    """User + system CPU seconds of the live processes in session `sid` (Linux /proc;
    0 elsewhere): a Procfile line's process and its children."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # fields after the name: state ppid pgrp session ...
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def sqlite_done(db: Path, prefix: str) -> int:
    with sqlite3.connect(db, timeout=20) as conn:
        return conn.execute(
            "SELECT count(*) FROM integrations_delivery d JOIN integrations_lead l"
            " ON l.id = d.lead_id WHERE l.email LIKE ? AND d.status = 'done'",
            (f"{prefix}.%",),
        ).fetchone()[0]


def sqlite_span(db: Path, prefix: str) -> tuple[datetime, datetime]:
    with sqlite3.connect(db, timeout=20) as conn:
        first, last = conn.execute(
            "SELECT min(l.received_at), max(d.finished_at) FROM integrations_delivery d"
            " JOIN integrations_lead l ON l.id = d.lead_id WHERE l.email LIKE ?",
            (f"{prefix}.%",),
        ).fetchone()
    if not first or not last:
        raise Failed("the embedded burst left no timestamps")
    return datetime.fromisoformat(first), datetime.fromisoformat(last)
