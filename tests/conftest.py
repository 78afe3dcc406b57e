"""Every shared fixture, for every folder: the sandbox CRMs over a real socket, a
connected OAuth account, a flow with its key, and a real Celery worker process.
Helpers and factories to import are in tests/factories.py (never import a conftest)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from bench.stack import sandbox_endpoints
from bench.worker import celery_worker_argv, short_run_worker_env
from integrations.models import AccountStatus, CrmKind
from tests.factories import (
    ROOT,
    SandboxCrm,
    connect,
    flow_with_step,
    oauth_account,
    sandbox_reset,
)


@pytest.fixture(autouse=True)
def _fresh_intake_memo():
    """Intake memoises source look-ups per process; each test starts without them."""
    from integrations.intake import auth

    auth._targets.clear()


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Each test starts with no rate-limit history (the worker shares the same keys).
    The database store is emptied with the test database; Redis keys are dropped here."""
    from integrations.delivery import ratelimit_store

    if settings.RATELIMIT_REDIS_URL:
        client = ratelimit_store._redis()
        keys = list(client.scan_iter(f"{settings.RATELIMIT_KEY_PREFIX}*"))
        if keys:
            client.delete(*keys)
    ratelimit_store._seen_last.clear()


@pytest.fixture(autouse=True)
def _no_stray_wake_ups(request, monkeypatch):
    """A test that does not run the suite's worker publishes no wake-up to the real
    broker: the session's worker, started by an earlier test, would take it and work
    the delivery while this test's tables are emptied (a deadlock between the flush and
    the worker's transaction). Tests with the worker publish for real; tests that check
    publishing replace `send_task` themselves."""
    if "celery_worker" in request.fixturenames:
        return
    from leadflow.celery import app

    monkeypatch.setattr(app, "send_task", lambda *args, **kwargs: None)


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    """Production uses whitenoise's manifest storage, which needs `collectstatic`;
    tests render pages without running it."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def flow_key():
    """A flow with one Keap REST step and one source: (flow, step, api key)."""
    return flow_with_step()


@pytest.fixture
def sandbox_urls(live_server, settings):
    """Point every CRM endpoint at the built-in sandbox on the live server."""
    urls = sandbox_endpoints(live_server.url)
    for name, value in urls.items():
        setattr(settings, name, value)
    return urls


@pytest.fixture
def crm(live_server, sandbox_urls, settings):
    """The sandbox CRMs on the live server, reset, with OAuth redirects coming back to
    the live server too."""
    settings.PUBLIC_BASE_URL = live_server.url
    sandbox_reset(live_server)
    return live_server


@pytest.fixture
def keap_sandbox(crm):
    """The Keap sandbox of the live server (every CRM endpoint pointed at the
    sandboxes), free of faults before and after the test."""
    box = SandboxCrm(crm, CrmKind.KEAP)
    yield box
    box.reset()


@pytest.fixture
def highlevel_sandbox(crm):
    """The HighLevel sandbox, as `keap_sandbox`."""
    box = SandboxCrm(crm, CrmKind.HIGHLEVEL)
    yield box
    box.reset()


@pytest.fixture
def keap_worker(keap_sandbox, celery_worker):
    """The Keap sandbox and a real worker delivering to it."""
    return keap_sandbox


@pytest.fixture
def keap(crm, admin_client):
    """A Keap OAuth account connected through the sandbox's consent page."""
    account = oauth_account(name="Keap OAuth")
    connect(admin_client, account)
    account.refresh_from_db()
    assert account.status == AccountStatus.CONNECTED
    return account


def _worker_database_url() -> str:
    """The URL of the *test* database, for a worker in another process."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def worker_mail_dir(tmp_path_factory) -> Path:
    """Where the worker's emails land (Django's file backend), one file per message."""
    return tmp_path_factory.getbasetemp() / "worker-mail"


@pytest.fixture
def worker_mail(celery_worker, tmp_path_factory):
    """The text of every email the worker sends from now on (a callable)."""
    folder = worker_mail_dir(tmp_path_factory)
    before = set(folder.glob("*")) if folder.exists() else set()

    def sent() -> list[str]:
        files = set(folder.glob("*")) - before if folder.exists() else set()
        return [f.read_text() for f in sorted(files)]

    return sent


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, live_server, tmp_path_factory):
    """A real `celery worker` process on the test database and the sandbox CRMs.

    Session-scoped: started once, the first time a test asks for it. Tests using it
    must be `transaction=True` so the worker sees their rows.
    """
    from leadflow.celery import app

    with django_db_blocker.unblock():
        db_url = _worker_database_url()
    env = {
        **os.environ,
        **sandbox_endpoints(live_server.url),
        "DATABASE_URL": db_url,
        # Fast retries so retry paths finish within a test (6 attempts).
        **short_run_worker_env(
            retry_schedule="0.2s, 0.4s, 0.8s, 1s, 1s", read_timeout=2, lease_seconds=30
        ),
        # The worker's rate-limiter keys: apart from any other run's.
        "RATELIMIT_KEY_PREFIX": settings.RATELIMIT_KEY_PREFIX,
    }
    app.control.purge()
    env["EMAIL_BACKEND"] = "django.core.mail.backends.filebased.EmailBackend"
    env["EMAIL_FILE_PATH"] = str(worker_mail_dir(tmp_path_factory))
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    hostname = f"test-worker-{os.getpid()}@localhost"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            celery_worker_argv(
                queue=settings.CELERY_TASK_DEFAULT_QUEUE, hostname=hostname, concurrency=4
            ),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"celery worker exited: {log.read_text()[-3000:]}")
        if b" ready." in log.read_bytes():
            break
        time.sleep(0.2)
    else:
        proc.terminate()
        pytest.fail(f"celery worker did not start: {log.read_text()[-3000:]}")
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session", autouse=True)
def _drop_leftover_sessions(django_db_setup, django_db_blocker):
    """At the end of the run, end database sessions that the worker's children or the
    live server's threads left open, so the test database can be dropped."""
    yield
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
