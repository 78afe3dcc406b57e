"""The chaos run: leads posted while worker processes are killed with SIGKILL every few
seconds, the run's own Redis is restarted midway, and the Keap sandbox answers at
random with 5xx, with 5xx after saving, and with hangs past the client's timeout.

Acceptance: every accepted lead (202 from intake) ends with an outcome, and the
sandbox holds exactly one contact per distinct lead. The step is a plain Keap REST
create (POST /v1/contacts never dedupes), the hardest case for doubles: only the
engine's saved operations and look-before-create stand between a retry and a twin.

Everything runs on 127.0.0.1: gunicorn (intake and the sandbox), N Celery workers, a
sweeper loop (the beat's job, every 5 s), `redis-server --port <free> --save ''`, and
a database of its own next to DATABASE_URL's. Prints `chaos_accepted`,
`chaos_finished`, `chaos_lost`, `chaos_duplicate_contacts` and a few more figures.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bench import Failed, Refused
from bench.backends import POSTGRES_SCHEMES, ensure_database, libpq_url, truncate
from bench.server import ROOT, Gunicorn, free_port, run_python
from bench.worker import celery_worker_argv, short_run_worker_env

API_KEY = "lf_chaos_only_key_not_a_secret_0123456789abcdef"
QUEUE = "leadflow-chaos"
# Worker kills stop once this share of the leads is left unfinished.
KILL_UNTIL_LEFT = 0.05
CLIENT_TIMEOUT = 1.0  # CRM read timeout of the workers: the sandbox's hangs exceed it
# Random faults on every sandbox API call: the first rule that strikes answers.
FAULTS = (
    {"status": 503, "created": True, "path": "contacts", "method": "POST", "probability": 0.05},
    {
        "latency_ms": 2500,
        "created": True,
        "path": "contacts",
        "method": "POST",
        "probability": 0.03,
    },
    {"status": 502, "probability": 0.06},
    {"latency_ms": 1500, "probability": 0.02},
)


@dataclass
class ChaosConfig:
    leads: int = 1000
    workers: int = 3
    concurrency: int = 3
    kill_every: float = 3.0
    post_threads: int = 6
    settle_seconds: float = 600.0
    db_suffix: str = "chaos"


@dataclass
class ChaosResult:
    accepted: int = 0
    rejected: int = 0
    finished: int = 0
    lost: int = 0
    duplicate_contacts: int = 0
    missing_contacts: int = 0
    kills: int = 0
    redis_restarts: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def lines(self) -> dict[str, object]:
        return {
            "chaos_accepted": self.accepted,
            "chaos_rejected": self.rejected,
            "chaos_finished": self.finished,
            "chaos_lost": self.lost,
            "chaos_duplicate_contacts": self.duplicate_contacts,
            "chaos_missing_contacts": self.missing_contacts,
            "chaos_worker_kills": self.kills,
            "chaos_redis_restarts": self.redis_restarts,
            "chaos_outcomes": json.dumps(self.outcomes, sort_keys=True),
            "chaos_seconds": f"{self.seconds:.1f}",
        }


class Redis:
    """A redis-server of the run's own, on a free port, without persistence."""

    def __init__(self, workdir: Path):
        if shutil.which("redis-server") is None:
            raise Refused("redis-server is not installed (apt-get install redis-server)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if _port_open(self.port):
                return
            time.sleep(0.05)
        raise Failed("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def chaos_env(database_url: str, broker_url: str, base_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "leadflow.settings",
        "DEBUG": "false",
        "SECRET_KEY": "chaos-only-secret-key-not-for-production-0123456789abcdef",
        "FIELD_ENCRYPTION_KEYS": "chaos-only-field-encryption-key",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SANDBOX_ENABLED": "true",
        "PUBLIC_BASE_URL": base_url,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "CELERY_QUEUE": QUEUE,
        "LOG_LEVEL": "WARNING",
        "CHAOS_API_KEY": API_KEY,
        # Quick retries, many of them (26 tries): the faults are frequent, the run is
        # short. A killed worker's lease runs out soon; a live one finishes well within it.
        **short_run_worker_env(
            retry_schedule=",".join(["0.3s", "0.6s", "1s"] + ["2s"] * 22),
            read_timeout=CLIENT_TIMEOUT,
            lease_seconds=12,
        ),
        "CRM_CONNECT_TIMEOUT": "1",
        "CHAOS_SWEEP_SECONDS": "15",  # as often as the beat sweeps
        # Restarting the run's Redis (which keeps nothing on disk) loses the queued
        # wake-ups on purpose; the sweeper takes them as lost after this long (120 s in
        # production, longer than this short run waits).
        "DELIVERY_WAKEUP_LOST_AFTER_SECONDS": "15",
    }


class Workers:
    """N `celery worker` process groups; `kill_one()` SIGKILLs a random group (the
    whole machine dying mid-call, children and all) and starts it again."""

    def __init__(self, env: dict[str, str], *, count: int, concurrency: int, log: Path):
        self.env, self.count, self.concurrency, self.log = env, count, concurrency, log
        self.procs: list[subprocess.Popen] = []

    def _start(self, n: int) -> subprocess.Popen:
        with open(self.log, "ab") as out:
            return subprocess.Popen(
                celery_worker_argv(
                    queue=QUEUE,
                    hostname=f"chaos{n}-{time.monotonic_ns()}@localhost",
                    concurrency=self.concurrency,
                    loglevel="WARNING",
                    heartbeat=False,
                ),
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start(self) -> None:
        self.procs = [self._start(n) for n in range(self.count)]

    def kill_one(self) -> None:
        n = random.randrange(len(self.procs))
        _killpg(self.procs[n])
        self.procs[n] = self._start(n)

    def stop(self) -> None:
        for proc in self.procs:
            _killpg(proc)


class Sweeper:
    """The beat's sweep (integrations.delivery.sweeper), every few seconds, in its own process."""

    def __init__(self, env: dict[str, str], log: Path):
        self.env, self.log = env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bench.chaos_sweeper"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        if self.proc is not None:
            _killpg(self.proc)


class ChaosServer(Gunicorn):
    """Gunicorn on a port chosen beforehand (the sandbox's URLs name it), given longer
    to come up on a loaded machine."""

    def __init__(self, env: dict[str, str], *, port: int, log: Path):
        super().__init__(env, workers=4, log=log)
        self.port, self.base_url = port, f"http://127.0.0.1:{port}"

    @property
    def command(self) -> list[str]:
        # Threads: the sandbox's injected hangs must not starve the intake of workers.
        return [*super().command, "-k", "gthread", "--threads", "16"]

    def wait_healthy(self, timeout: float = 120) -> None:
        super().wait_healthy(timeout)


def _killpg(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


def chaos_run(config: ChaosConfig, *, quiet: bool = False) -> ChaosResult:
    """Run one chaos scenario end to end; always stops what it started."""
    database_url = os.environ.get("DATABASE_URL", "")
    if urlsplit(database_url).scheme not in POSTGRES_SCHEMES:
        raise Refused("DATABASE_URL must point at PostgreSQL")
    base = urlsplit(database_url).path.strip("/") or "leadflow"
    db_url = ensure_database(database_url, f"{base}_{config.db_suffix}")
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    result = ChaosResult()
    with tempfile.TemporaryDirectory(prefix="leadflow-chaos-") as tmp:
        tmpdir = Path(tmp)
        redis = Redis(tmpdir)
        redis.start()
        port = free_port()
        env = chaos_env(db_url, redis.url, f"http://127.0.0.1:{port}")
        run_python(env, "manage.py", "migrate", "--noinput", "-v", "0", timeout=300)
        _reset(db_url)
        seed = json.loads(run_python(env, "-m", "bench.chaos_seed").strip().splitlines()[-1])
        workers = Workers(
            env, count=config.workers, concurrency=config.concurrency, log=tmpdir / "workers.log"
        )
        sweeper = Sweeper(env, tmpdir / "sweeper.log")
        server = ChaosServer(env, port=port, log=tmpdir / "gunicorn.log")
        try:
            with server:
                _arm_faults(server.base_url)
                workers.start()
                sweeper.start()
                started = time.monotonic()
                result = _drive(config, server.base_url, seed, redis, workers, db_url, say)
                result.seconds = time.monotonic() - started
        finally:
            sweeper.stop()
            workers.stop()
            redis.stop()
        _count(db_url, seed, result)
    return result


def _reset(db_url: str) -> None:
    import psycopg

    with psycopg.connect(libpq_url(db_url), autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND"
                " (tablename LIKE 'integrations_%' OR tablename LIKE 'sandbox_%')"
                " AND tablename NOT LIKE '%account%'"
            )
        ]
    if tables:
        truncate(db_url, tables)


def _arm_faults(base_url: str) -> None:
    control = f"{base_url}/sandbox/keap/_control/faults"
    _post(control, {"reset": True, "wipe_data": True})
    _post(
        control,
        {"rate_limits": {"api_key": {"spike": 100_000, "minute": 1_000_000, "day": 10_000_000}}},
    )
    for rule in FAULTS:
        _post(control, {**rule, "count": 1_000_000_000})


def _post(url: str, body: dict, headers: dict | None = None, timeout: float = 10) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return 0


def _drive(config, base_url, seed, redis, workers, db_url, say) -> ChaosResult:
    """Post the leads (Redis restarted halfway), kill workers all along, then wait for
    every accepted lead to finish."""
    result = ChaosResult()
    intake = f"{base_url}/api/v1/flows/{seed['flow_id']}/leads"
    stop_killing = threading.Event()

    def killer() -> None:
        while not stop_killing.wait(config.kill_every * random.uniform(0.6, 1.4)):
            workers.kill_one()
            result.kills += 1

    posted = [0]
    restart_at = config.leads // 2
    lock = threading.Lock()

    def post(n: int) -> int:
        with lock:
            posted[0] += 1
            if posted[0] == restart_at:
                redis.stop()
                result.redis_restarts += 1
                threading.Timer(2.0, redis.start).start()
        body = {
            "first_name": "Chaos",
            "last_name": f"Lead{n}",
            "email": f"chaos{n}@example.com",
            "comments": f"lead {n}",
        }
        return _post(intake, body, {"X-Api-Key": API_KEY})

    kill_thread = threading.Thread(target=killer, daemon=True)
    kill_thread.start()
    with ThreadPoolExecutor(config.post_threads) as pool:
        statuses = list(pool.map(post, range(config.leads)))
    result.accepted = statuses.count(202)
    result.rejected = len(statuses) - result.accepted
    say(f"# posted {config.leads}: {result.accepted} accepted; killing workers until most end")
    # The kills go on while the leads are delivered, not only while they are posted:
    # for a few kill periods at least, and until all but the last few have ended (then
    # the run settles).
    kills_until = time.monotonic() + min(10.0, config.kill_every * 3)
    deadline = time.monotonic() + config.settle_seconds
    while time.monotonic() < deadline:
        unfinished = _unfinished(db_url)
        if unfinished <= config.leads * KILL_UNTIL_LEFT and time.monotonic() >= kills_until:
            stop_killing.set()  # the killer stops at its next wait (joined below)
        if unfinished == 0:
            break
        say(f"# waiting for {unfinished} leads")
        time.sleep(1 if config.leads < 100 else 3)
    stop_killing.set()
    kill_thread.join()
    return result


def _unfinished(db_url: str) -> int:
    import psycopg

    with psycopg.connect(libpq_url(db_url), autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM integrations_lead WHERE status <> 'done'"
        ).fetchone()[0]


def _count(db_url: str, seed: dict, result: ChaosResult) -> None:
    import psycopg

    with psycopg.connect(libpq_url(db_url), autocommit=True) as conn:
        leads = conn.execute("SELECT count(*) FROM integrations_lead").fetchone()[0]
        finished = conn.execute(
            "SELECT count(*) FROM integrations_lead l WHERE l.status = 'done' AND NOT EXISTS"
            " (SELECT 1 FROM integrations_delivery d WHERE d.lead_id = l.id AND d.outcome = '')"
        ).fetchone()[0]
        outcomes = dict(
            conn.execute(
                "SELECT outcome, count(*) FROM integrations_delivery GROUP BY outcome"
            ).fetchall()
        )
        per_email = conn.execute(
            f"SELECT email1, count(*) FROM {seed['contact_table']} GROUP BY email1"  # noqa: S608
        ).fetchall()
        succeeded = conn.execute(
            "SELECT count(DISTINCT l.email) FROM integrations_lead l JOIN integrations_delivery d"
            " ON d.lead_id = l.id WHERE d.outcome = 'success'"
        ).fetchone()[0]
    if leads != result.accepted:
        print(f"# note: {leads} leads stored, {result.accepted} accepted", flush=True)
    result.finished = finished
    result.lost = result.accepted - finished
    result.outcomes = {k or "none": v for k, v in outcomes.items()}
    result.duplicate_contacts = sum(n - 1 for _, n in per_email if n > 1)
    result.missing_contacts = max(0, succeeded - len(per_email))


def run() -> int:
    result = chaos_run(ChaosConfig())
    for name, value in result.lines().items():
        print(f"{name}: {value}", flush=True)
    ok = result.lost == 0 and result.duplicate_contacts == 0 and result.rejected == 0
    return 0 if ok else 1
