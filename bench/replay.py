"""The replay benchmark: 10,000 failed deliveries replayed against the Keap sandbox at
a given account rate, while live leads keep arriving.

One run, on PostgreSQL + Redis: gunicorn serves intake and the sandbox (its own rate
limits lifted, so the account's rate is the only limit), a prefork Celery worker
delivers. First live leads alone (the reference), then the same live load during the
replay. Prints:

  replay_rate_ratio      CRM calls per second the replay achieved over what it is
                         allowed (REPLAY_RATE_SHARE of the account's rate); target ≥ 0.9
  replay_live_p99_ms     p99 of received → delivered for live leads during the replay;
                         target ≤ 2 × replay_live_p99_ms_reference (the same load alone)
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import requests

from bench import Failed
from bench.backends import (
    bench_broker_url,
    ensure_database,
    libpq_url,
    mask,
    purge_queue,
    require_backends,
)
from bench.intake import server_env
from bench.server import Gunicorn, run_python
from bench.worker import CeleryWorker

DB_NAME = "leadflow_bench_replay"
QUEUE = "leadflow-bench-replay"
API_KEY = "lf_bench_replay_key_not_a_secret_0123456789ab"
FAILED = int(os.environ.get("BENCH_REPLAY_DELIVERIES", "10000"))
# CRM calls/s the account allows: 100, the example. A replayed Keap REST
# delivery is one call; on 2026-12-03 a 2-core machine drove 0.8 x 100 = 80 replayed
# calls/s with the live load beside them (10,000 deliveries in about two minutes). A
# slower machine may not: when replay_stack_deliveries_per_s is near the replay's rate,
# the machine set the pace; lower the rate there to measure the pacing.
ACCOUNT_RATE = int(os.environ.get("BENCH_REPLAY_ACCOUNT_RATE", "100"))
SHARE = 0.8  # REPLAY_RATE_SHARE's default
LIVE_PER_S = float(os.environ.get("BENCH_REPLAY_LIVE_PER_S", "2"))
REFERENCE_SECONDS = 15
WORKER_CONCURRENCY, SERVER_WORKERS = 8, 4
TARGET_RATIO, TARGET_LIVE_FACTOR = 0.9, 2.0


class PatientGunicorn(Gunicorn):
    """The machine may be busy: give the server longer to come up."""

    def wait_healthy(self, timeout: float = 120) -> None:
        super().wait_healthy(timeout)


def run() -> int:
    database_url, broker_url = require_backends()
    db_url = ensure_database(database_url, DB_NAME)
    broker = bench_broker_url(broker_url)
    with tempfile.TemporaryDirectory(prefix="leadflow-bench-replay-") as tmp:
        server = PatientGunicorn({}, workers=SERVER_WORKERS, log=Path(tmp) / "gunicorn.log")
        env = bench_env(db_url, broker, server.base_url)
        server.env = env
        run_python(env, "manage.py", "migrate", "--noinput", "-v", "0")
        seed = json.loads(run_python(env, "-m", "bench.replay_seed", "seed", timeout=300))
        purge_queue(broker, QUEUE)
        try:
            with (
                server,
                CeleryWorker(
                    env, queue=QUEUE, concurrency=WORKER_CONCURRENCY, log=Path(tmp) / "worker.log"
                ),
            ):
                lift_sandbox_limits(server.base_url)
                print_context(server, db_url, broker)
                return measure(env, server.base_url, db_url, seed)
        finally:
            purge_queue(broker, QUEUE)


def bench_env(db_url: str, broker: str, base_url: str) -> dict[str, str]:
    sandbox = f"{base_url}/sandbox"
    return {
        **server_env(db_url, broker),
        "SANDBOX_ENABLED": "true",
        "PUBLIC_BASE_URL": base_url,
        "KEAP_API_BASE_URL": f"{sandbox}/keap/crm",
        "KEAP_TOKEN_URL": f"{sandbox}/keap/token",
        "CELERY_QUEUE": QUEUE,
        "BENCH_API_KEY": API_KEY,
        "BENCH_ACCOUNT_RATE": str(ACCOUNT_RATE),
        "BENCH_FAILED": str(FAILED),
        # The run's own rate windows: an earlier run's calls never count against it.
        "RATELIMIT_KEY_PREFIX": f"leadflow-bench-replay-{time.time_ns()}:rl:",
    }


def lift_sandbox_limits(base_url: str) -> None:
    unlimited = {"spike": 1_000_000, "minute": 10**8, "day": 10**9}
    response = requests.post(
        f"{base_url}/sandbox/keap/_control/faults",
        json={"reset": True, "rate_limits": {"api_key": unlimited, "oauth": unlimited}},
        timeout=10,
    )
    response.raise_for_status()


def print_context(server: Gunicorn, db_url: str, broker: str) -> None:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"server: gunicorn, {SERVER_WORKERS} sync workers (intake + Keap sandbox), "
        f"{server.base_url}",
        flush=True,
    )
    print(f"worker: celery prefork x{WORKER_CONCURRENCY}, queue {QUEUE}", flush=True)
    print(f"cpus: usable {usable}, shared with PostgreSQL, Redis and the load", flush=True)
    print(f"database: {mask(db_url)}; broker: {mask(broker)}", flush=True)
    print(
        f"replay: {FAILED} failed deliveries, account rate {ACCOUNT_RATE} calls/s "
        f"(BENCH_REPLAY_ACCOUNT_RATE), replay share {SHARE}; live load {LIVE_PER_S} leads/s",
        flush=True,
    )


class LiveLoad:
    """Posts one live lead every 1/rate seconds from a thread until stopped."""

    def __init__(self, base_url: str, flow_id: int, rate: float):
        self.url = f"{base_url}/api/v1/flows/{flow_id}/leads"
        self.interval = 1.0 / rate
        self.stop_event = threading.Event()
        self.sent = self.failed = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        session = requests.Session()
        next_at = time.monotonic()
        n = 0
        while not self.stop_event.is_set():
            n += 1
            body = {"first_name": "Live", "last_name": f"Lead{n}", "email": f"live{n}@example.com"}
            try:
                answer = session.post(
                    self.url, json=body, headers={"X-Api-Key": API_KEY}, timeout=10
                )
                self.sent += answer.status_code in (200, 201, 202)
                self.failed += answer.status_code not in (200, 201, 202)
            except requests.RequestException:
                self.failed += 1
            next_at += self.interval
            self.stop_event.wait(max(0.0, next_at - time.monotonic()))

    def __enter__(self) -> LiveLoad:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        self.thread.join(timeout=15)


def query(db_url: str, sql: str, params: list | None = None) -> list[tuple]:
    with psycopg.connect(libpq_url(db_url), autocommit=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def db_now(db_url: str):
    return query(db_url, "SELECT now()")[0][0]


def live_waits_ms(db_url: str, flow_id: int, since, until, *, timeout: float = 120) -> list[float]:
    """received → delivered of the live leads received in [since, until), once all
    of them have an outcome."""
    sql = (
        "SELECT EXTRACT(EPOCH FROM (d.finished_at - l.received_at)) * 1000, d.status"
        " FROM integrations_lead l JOIN integrations_delivery d ON d.lead_id = l.id"
        " WHERE l.flow_id = %s AND l.received_at >= %s AND l.received_at < %s"
    )
    deadline = time.monotonic() + timeout
    while True:
        rows = query(db_url, sql, [flow_id, since, until])
        if rows and all(status == "done" for _, status in rows):
            return sorted(float(ms) for ms, _ in rows)
        if time.monotonic() > deadline:
            raise Failed(f"live leads not delivered within {timeout:.0f}s")
        time.sleep(1)


def p99(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def measure(env: dict[str, str], base_url: str, db_url: str, seed: dict) -> int:
    live_flow = seed["live_flow_id"]
    start = db_now(db_url)
    with LiveLoad(base_url, live_flow, LIVE_PER_S):
        time.sleep(REFERENCE_SECONDS)
    reference = live_waits_ms(db_url, live_flow, start, db_now(db_url))

    started = json.loads(
        run_python(
            {**env, "BENCH_REPLAY_STEP": str(seed["replay_step_id"])},
            "-m",
            "bench.replay_seed",
            "start",
            timeout=300,
        )
    )
    replay_id = started["replay_id"]
    during_from = db_now(db_url)
    limit = time.monotonic() + max(120, 3 * FAILED / (ACCOUNT_RATE * SHARE / 2))
    with LiveLoad(base_url, live_flow, LIVE_PER_S) as load:
        while True:
            state, done, total = query(
                db_url,
                "SELECT state, finished + skipped + cancelled, total FROM integrations_replay"
                " WHERE id = %s",
                [replay_id],
            )[0]
            if state not in ("running", "cancelling"):
                break
            if time.monotonic() > limit:
                raise Failed(f"replay not finished in time: {done}/{total}")
            time.sleep(1)
        during_until = db_now(db_url)
    during = live_waits_ms(db_url, live_flow, during_from, during_until)
    return report(db_url, replay_id, reference, during, load)


def report(db_url: str, replay_id: int, reference: list[float], during: list[float], load) -> int:
    total, outcomes = query(
        db_url, "SELECT total, outcomes FROM integrations_replay WHERE id = %s", [replay_id]
    )[0]
    calls = query(
        db_url,
        "SELECT a.started_at FROM integrations_attempt a JOIN integrations_replayitem i"
        " ON a.delivery_id = i.delivery_id AND a.id > i.attempt_floor WHERE i.replay_id = %s"
        " ORDER BY a.started_at",
        [replay_id],
    )
    times = [row[0].timestamp() for row in calls]
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    achieved = len(times) / span if span else float("nan")
    allowed = ACCOUNT_RATE * SHARE
    busiest = _busiest_second(db_url, times[0], times[-1]) if times else 0
    # Every delivery the stack finished meanwhile, live and replayed: what the machine
    # drove (when it is below the allowance, the machine, not the pacing, set the rate).
    finished = (
        query(
            db_url,
            "SELECT count(*) FROM integrations_delivery"
            " WHERE finished_at BETWEEN to_timestamp(%s) AND to_timestamp(%s)",
            [times[0], times[-1]],
        )[0][0]
        if times
        else 0
    )
    ratio = achieved / allowed
    ref_p99, live_p99 = p99(reference), p99(during)
    figures = {
        "replay_deliveries": f"{total} ({json.dumps(outcomes, sort_keys=True)})",
        "replay_seconds": f"{span:.1f}",
        "replay_calls_per_s": f"{achieved:.1f}",
        "replay_allowed_calls_per_s": f"{allowed:.1f} ({SHARE} x account rate {ACCOUNT_RATE})",
        "replay_rate_ratio": f"{ratio:.2f}",
        "replay_busiest_second_calls_all": f"{busiest} (live + replay; limit {ACCOUNT_RATE})",
        "replay_stack_deliveries_per_s": f"{finished / span if span else float('nan'):.1f}"
        " (live + replay)",
        "replay_live_p99_ms": f"{live_p99:.0f}",
        "replay_live_p99_ms_reference": f"{ref_p99:.0f}",
        "replay_live_p99_factor": f"{live_p99 / ref_p99:.2f}",
        "replay_live_leads": f"{len(reference)} reference, {len(during)} during the replay"
        + (f", {load.failed} intake errors" if load.failed else ""),
    }
    for name, value in figures.items():
        print(f"{name}: {value}", flush=True)
    ok = (
        outcomes == {"success": total}
        and ratio >= TARGET_RATIO
        and live_p99 <= TARGET_LIVE_FACTOR * ref_p99
        and busiest <= ACCOUNT_RATE
    )
    if not ok:
        print("replay bench: a target was missed (see above)", flush=True)
    return 0 if ok else 1


def _busiest_second(db_url: str, first: float, last: float) -> int:
    """The most CRM calls (live and replayed) started within any one second."""
    rows = query(
        db_url,
        "SELECT EXTRACT(EPOCH FROM started_at) FROM integrations_attempt"
        " WHERE started_at BETWEEN to_timestamp(%s) AND to_timestamp(%s) ORDER BY started_at",
        [first, last],
    )
    times = [float(r[0]) for r in rows]
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= 1.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best
