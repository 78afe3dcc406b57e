"""The rate-limit benchmark: bursts of leads through the demo flows of one Keap API-key
account and one HighLevel location, against the sandbox with its quotas on, delivered by
real Celery workers sharing the limiter in Redis.

Both the sandbox's and the accounts' limits are set together (10 calls/s by default) so each
phase takes seconds, not minutes; a last phase lowers the per-minute quota until it
binds, to show the per-minute window holding too. Figures come from the Attempt rows
(one per HTTP call, with its start time and status) and the sandbox's own counters:

    keap_key_rate_ratio       achieved calls/s over the quota in force (target >= 0.9)
    highlevel_rate_ratio      the same for HighLevel (target >= 0.95)
    keap_minute_rate_ratio    a Keap phase where the per-minute quota binds (half the
                              per-second rate): calls/s over that quota's rate
    http_429_count            429s the sandbox answered in all phases (target 0)
    keap_rest_calls_per_lead, highlevel_calls_per_lead   successful calls per lead
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path

from bench import Failed
from bench.backends import mask, require_backends
from bench.stack import (
    BIG,
    bench_database_url,
    post_leads,
    query,
    sandbox_endpoints,
    sandbox_limits,
    sandbox_warm_up,
    seed,
    served,
    stack_env,
    wait_for,
)
from bench.worker import CeleryWorker

# Calls/s for the sandbox and the accounts alike (BENCH_RATELIMIT_RATE): high enough that
# each phase is short, low enough that the machine's CPU (the sandbox's, mostly) keeps up,
# or the ratios measure the machine rather than the limiter.
RATE = int(os.environ.get("BENCH_RATELIMIT_RATE", "10"))
PHASE_SECONDS = 20
MINUTE_QUOTA = RATE * 60 // 2  # the minute quota binds at half the per-second rate
KEAP_CALLS_PER_LEAD, HIGHLEVEL_CALLS_PER_LEAD = 3, 2  # the demo steps, new contacts
KEAP_LEADS = RATE * PHASE_SECONDS // KEAP_CALLS_PER_LEAD
HIGHLEVEL_LEADS = RATE * PHASE_SECONDS // HIGHLEVEL_CALLS_PER_LEAD
MINUTE_LEADS = MINUTE_QUOTA // 60 * PHASE_SECONDS // KEAP_CALLS_PER_LEAD
WORKER_CONCURRENCY = 8
SERVER_WORKERS, INTAKE_WORKERS = 8, 4  # gunicorn's for the sandbox CRMs, for intake

CALLS_SQL = """
SELECT count(*), min(a.started_at), max(a.started_at),
       count(*) FILTER (WHERE a.status_code = 429),
       count(*) FILTER (WHERE a.status_code < 400)
FROM integrations_attempt a
JOIN integrations_delivery d ON d.id = a.delivery_id
JOIN integrations_lead l ON l.id = d.lead_id
WHERE l.email LIKE %s
"""


def run() -> int:
    database_url, broker_url = require_backends()
    db_url = bench_database_url(database_url)
    env = stack_env(db_url, broker_url, queue=f"leadflow-bench-rl-{uuid.uuid4().hex[:6]}")
    limits = {"rate_limit_per_second": RATE, "rate_limit_per_minute": RATE * 60}
    ids = seed(
        env,
        limits={
            "keap": {**limits, "rate_limit_per_day": BIG},
            "highlevel": {**limits, "rate_limit_per_day": BIG},
        },
    )
    print(f"database: {mask(db_url)}\nbroker: {mask(broker_url)}, queue {env['CELERY_QUEUE']}")
    print(f"workers: 1 x prefork {WORKER_CONCURRENCY}; quotas: {RATE}/s sandbox and accounts")
    with tempfile.TemporaryDirectory(prefix="leadflow-bench-rl-") as tmp:
        logs = {name: Path(tmp) / name for name in ("crm", "intake")}
        for folder in logs.values():
            folder.mkdir()
        # The sandbox CRMs get a server of their own, as a real CRM is a service of its
        # own: a call must not wait behind the burst's intake requests for a gunicorn
        # worker, or the sandbox counts it late, bunched with the next ones, and
        # answers 429 to what the limiter spaced correctly.
        with (
            served(dict(env), logs["crm"], workers=SERVER_WORKERS) as crm,
            served(env, logs["intake"], workers=INTAKE_WORKERS) as server,
        ):
            worker_env = {**env, **sandbox_endpoints(crm.base_url)}
            log = Path(tmp) / "worker.log"
            with CeleryWorker(
                worker_env, queue=env["CELERY_QUEUE"], concurrency=WORKER_CONCURRENCY, log=log
            ):
                sandbox_warm_up(crm.base_url, workers=SERVER_WORKERS)
                results = phases(server.base_url, crm.base_url, db_url, env, ids)
    return report(results)


def phases(
    base_url: str, crm_url: str, db_url: str, env: dict[str, str], ids: dict[str, int]
) -> dict:
    run = uuid.uuid4().hex[:6]
    sandbox_limits(
        crm_url,
        keap={"spike": RATE, "minute": RATE * 60, "day": BIG},
        highlevel={"burst_max": RATE * 10, "burst_interval_ms": 10_000, "daily_max": BIG},
    )
    keap = burst(base_url, db_url, ids["keap"], KEAP_LEADS, f"rl-keap-{run}")
    highlevel = burst(base_url, db_url, ids["highlevel"], HIGHLEVEL_LEADS, f"rl-hl-{run}")
    # The per-minute quota binds: 600/min in the sandbox and on the account.
    seed(env, limits={"keap": {"rate_limit_per_minute": MINUTE_QUOTA}})
    sandbox_limits(
        crm_url,
        keap={"spike": RATE, "minute": MINUTE_QUOTA, "day": BIG},
        highlevel={"burst_max": RATE * 10},
    )
    minute = burst(base_url, db_url, ids["keap"], MINUTE_LEADS, f"rl-min-{run}")
    return {"keap": keap, "highlevel": highlevel, "minute": minute}


def burst(base_url: str, db_url: str, flow_id: int, count: int, prefix: str) -> dict:
    started = time.monotonic()
    post_leads(base_url, flow_id, count, prefix)

    def finished() -> bool:
        [(done,)] = query(
            db_url,
            "SELECT count(*) FROM integrations_delivery d JOIN integrations_lead l"
            " ON l.id = d.lead_id WHERE l.email LIKE %s AND d.status = 'done'",
            (f"{prefix}.%",),
        )
        return done >= count

    wait_for(finished, timeout=240, what=f"{count} deliveries of {prefix}")
    [(calls, first, last, limited, ok)] = query(db_url, CALLS_SQL, (f"{prefix}.%",))
    [(successes,)] = query(
        db_url,
        "SELECT count(*) FROM integrations_delivery d JOIN integrations_lead l"
        " ON l.id = d.lead_id WHERE l.email LIKE %s AND d.outcome = 'success'",
        (f"{prefix}.%",),
    )
    span = (last - first).total_seconds()
    [(call_ms,)] = query(
        db_url,
        "SELECT avg(a.duration_ms) FROM integrations_attempt a JOIN integrations_delivery d"
        " ON d.id = a.delivery_id JOIN integrations_lead l ON l.id = d.lead_id"
        " WHERE l.email LIKE %s",
        (f"{prefix}.%",),
    )
    print(f"# {prefix}: mean call {float(call_ms or 0):.0f} ms (the sandbox under load)")
    print(
        f"# {prefix}: {count} leads, {successes} success, {calls} calls in {span:.1f}s "
        f"({(calls - 1) / span:.1f}/s), {limited} x 429; wall {time.monotonic() - started:.1f}s",
        flush=True,
    )
    if successes < count:
        raise Failed(f"{prefix}: only {successes} of {count} leads succeeded")
    return {"calls": calls, "span": span, "limited": limited, "ok": ok, "leads": count}


def report(results: dict) -> int:
    keap, highlevel, minute = results["keap"], results["highlevel"], results["minute"]

    def rate(phase: dict) -> float:
        return (phase["calls"] - 1) / phase["span"]

    figures = {
        "keap_key_rate_ratio": rate(keap) / RATE,
        "highlevel_rate_ratio": rate(highlevel) / RATE,
        "keap_minute_rate_ratio": rate(minute) / (MINUTE_QUOTA / 60),
        "http_429_count": keap["limited"] + highlevel["limited"] + minute["limited"],
        "keap_rest_calls_per_lead": keap["ok"] / keap["leads"],
        "highlevel_calls_per_lead": highlevel["ok"] / highlevel["leads"],
    }
    for name, value in figures.items():
        print(f"{name}: {value:.3f}" if isinstance(value, float) else f"{name}: {value}")
    ok = (
        figures["keap_key_rate_ratio"] >= 0.9
        and figures["highlevel_rate_ratio"] >= 0.95
        and figures["http_429_count"] == 0
    )
    return 0 if ok else 1
