"""A whole LeadFlow for the delivery benchmarks: the production server (gunicorn) with
the built-in sandbox CRMs, real Celery worker processes, the demo flows, and helpers to
post leads and read what happened from the database.

Everything is the run's own: a database named after the caller's (`<name>_bench`), the
caller's broker with a queue of the bench's own, and the caller's Redis database for
the rate limiter and the sandbox's rate windows (keys prefixed with the run).
"""

from __future__ import annotations

import functools
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import requests

from bench import Failed
from bench.backends import ensure_database, libpq_url
from bench.server import Gunicorn, run_python

API_KEY = "lf_bench_delivery_key_not_a_secret_0123456789"
# The sandbox CRMs' demo credentials (leadflow.settings.SANDBOX_*; public test values).
SANDBOX_KEAP_API_KEY = "KeapAK-sandbox-demo-key"
SANDBOX_HIGHLEVEL_TOKEN = "pit-sandbox-demo-token"
SANDBOX_HIGHLEVEL_LOCATION_ID = "sandboxLocation00001"


def bench_database_url(database_url: str) -> str:
    """postgres://.../leadflow_x -> postgres://.../leadflow_x_bench (created if missing)."""
    name = urlsplit(database_url).path.lstrip("/") or "leadflow"
    return ensure_database(database_url, f"{name}_bench")


def stack_env(database_url: str, broker_url: str, queue: str) -> dict[str, str]:
    """Production settings, the sandbox CRMs on, the run's own queue and key prefixes."""
    run = uuid.uuid4().hex[:8]
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "leadflow.settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789abcdef",
        "FIELD_ENCRYPTION_KEYS": "bench-only-field-encryption-key",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SANDBOX_ENABLED": "true",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "CELERY_QUEUE": queue,
        # The sandbox counts its rate windows in the cache: one cache for every process.
        "CACHE_URL": broker_url if broker_url.startswith("redis") else "locmemcache://bench",
        "RATELIMIT_KEY_PREFIX": f"leadflow-bench-{run}:rl:",
        "LOG_LEVEL": "WARNING",
        "DEMO_API_KEY": API_KEY,
    }


@contextmanager
def served(env: dict[str, str], log_dir: Path, *, workers: int = 3):
    """The production server on a free port; env gains PUBLIC_BASE_URL (the sandbox)."""
    server = Gunicorn(env, workers=workers, log=log_dir / "gunicorn.log")
    env["PUBLIC_BASE_URL"] = server.base_url
    server.env = env
    # A loaded machine may take a while to start several workers.
    server.wait_healthy = functools.partial(Gunicorn.wait_healthy, server, timeout=120)
    with server:
        yield server


def sandbox_endpoints(server_url: str) -> dict[str, str]:
    """Every CRM endpoint setting, pointed at the built-in sandbox of `server_url`."""
    base = f"{server_url}/sandbox"
    return {
        "KEAP_API_BASE_URL": f"{base}/keap/crm",
        "KEAP_TOKEN_URL": f"{base}/keap/token",
        "KEAP_AUTHORIZE_URL": f"{base}/keap/app/oauth/authorize",
        "HIGHLEVEL_API_BASE_URL": f"{base}/highlevel",
        "HIGHLEVEL_TOKEN_URL": f"{base}/highlevel/oauth/token",
        "HIGHLEVEL_AUTHORIZE_URL": f"{base}/highlevel/oauth/chooselocation",
    }


def sandbox_warm_up(base_url: str, *, workers: int) -> None:
    """Have every gunicorn worker of the sandbox served at `base_url` answer a few
    upserts (Keap REST and HighLevel, with the demo credentials, of one warm-up contact)
    before a measurement: a worker's first call loads the sandbox's code and the CRM's
    schemas and opens its database connection (over half a second), and the sandbox
    counts a call against its quota only when a worker takes it, so a slow first answer
    is counted late, bunched with the calls made after it. The sandbox's quotas are off
    meanwhile: set them afterwards (`sandbox_limits`, which starts fresh windows)."""
    sandbox_limits(base_url, **SANDBOX_OFF)
    keap = (
        f"{base_url}/sandbox/keap/crm/rest/v1/contacts",
        {"X-Keap-API-Key": SANDBOX_KEAP_API_KEY},
        {
            "email_addresses": [{"email": "warm-up@example.com", "field": "EMAIL1"}],
            "duplicate_option": "Email",
        },
    )
    highlevel = (
        f"{base_url}/sandbox/highlevel/contacts/upsert",
        {"Authorization": f"Bearer {SANDBOX_HIGHLEVEL_TOKEN}", "Version": "2021-07-28"},
        {"locationId": SANDBOX_HIGHLEVEL_LOCATION_ID, "email": "warm-up@example.com"},
    )

    def call(i: int) -> None:
        url, headers, body = (keap, highlevel)[i % 2]
        method = requests.put if i % 2 == 0 else requests.post
        method(url, headers=headers, json=body, timeout=30).raise_for_status()

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(call, range(workers * 6)))


def seed(env: dict[str, str], *, limits: dict[str, dict[str, int | None]]) -> dict[str, int]:
    """Migrate, run demo_seed, set the demo accounts' limits ({"keap": {...}, "highlevel":
    {...}}: rate_limit_per_second/minute/day). Returns {"keap": flow id, "highlevel": ...}.
    Only the demo's flows and accounts are read and changed: the database is shared with
    the intake benchmark, whose own flow and account it leaves alone."""
    run_python(env, "manage.py", "migrate", "--noinput", "-v", "0", timeout=300)
    run_python(env, "manage.py", "demo_seed")
    code = (
        "import django, json, sys; django.setup()\n"
        "from integrations.management.commands.demo_seed import DEMO_FLOWS\n"
        "from integrations.models import Account, Flow, Recipient, Step\n"
        "limits = json.loads(sys.argv[1])\n"
        "demo = {recipient: name for name, recipient, _ in DEMO_FLOWS}\n"
        "steps = Step.objects.filter(flow__name__in=demo.values())\n"
        "for crm, fields in limits.items():\n"
        "    Account.objects.filter(crm=crm, pk__in=steps.values('account')).update(**fields)\n"
        "flows = {r: Flow.objects.get(name=demo[r]).pk for r in"
        " (Recipient.KEAP_REST, Recipient.HIGHLEVEL)}\n"
        "print(json.dumps({'keap': flows['keap_rest'], 'highlevel': flows['highlevel']}))\n"
    )
    import json

    out = run_python(env, "-c", code, json.dumps(limits))
    return json.loads(out.strip().splitlines()[-1])


BIG = 10_000_000
SANDBOX_OFF = {  # the sandbox's quotas lifted (sandbox_limits)
    "keap": {"spike": BIG, "minute": BIG, "day": BIG},
    "highlevel": {"burst_max": BIG, "burst_interval_ms": 10_000, "daily_max": BIG},
}


def sandbox_limits(base_url: str, *, keap: dict[str, int], highlevel: dict[str, int]) -> None:
    """Set the sandbox's quotas (Keap API keys; HighLevel's burst and daily) and start
    fresh rate windows."""
    requests.post(
        f"{base_url}/sandbox/keap/_control/faults",
        json={"reset": True, "rate_limits": {"api_key": keap}, "reset_rate_windows": True},
        timeout=10,
    ).raise_for_status()
    requests.post(
        f"{base_url}/sandbox/highlevel/_control/faults",
        json={"reset": True, "config": highlevel},
        timeout=10,
    ).raise_for_status()


def lead(i: int, prefix: str) -> dict[str, object]:
    return {
        "first_name": "Bench",
        "last_name": f"Lead{i}",
        "email": f"{prefix}.{i}@example.com",
        "phone_1": "(415) 555-0134",
        "lead_score": str(50 + i % 50),
        "comments": "Posted by the delivery benchmark.",
    }


def post_leads(
    base_url: str, flow_id: int, count: int, prefix: str, *, api_key: str = API_KEY
) -> list[str]:
    """POST `count` distinct leads at once (16 connections). Returns the lead ids."""
    url = f"{base_url}/api/v1/flows/{flow_id}/leads"

    def post(i: int) -> str:
        response = requests.post(
            url, json=lead(i, prefix), headers={"X-Api-Key": api_key}, timeout=30
        )
        if response.status_code not in (200, 201, 202):
            raise Failed(f"intake answered {response.status_code}: {response.text[:300]}")
        return response.json()["id"]

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(post, range(count)))


def query(database_url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def wait_for(check, *, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise Failed(f"{what} did not happen within {timeout:.0f}s")


def python() -> str:
    return sys.executable
