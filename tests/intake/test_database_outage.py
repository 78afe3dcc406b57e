"""PostgreSQL stops under a running intake: every API request is answered 503 JSON at
once (never Django's HTML error page, never a hang), /healthz says so, and intake
answers 202 again as soon as the database is back."""

import os
import subprocess
import sys
import time

import pytest
import requests
from django.db import connection

from tests.factories import ROOT, flow_with_step, wait_until
from tests.tcp_proxy import TcpProxy, free_port

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL"),
]


@pytest.fixture
def database_proxy():
    db = connection.settings_dict
    proxy = TcpProxy((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))).start()
    yield proxy
    proxy.cut()


@pytest.fixture
def intake_server(database_proxy, tmp_path):
    """The app under gunicorn, reaching the test database only through the proxy."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{auth}@127.0.0.1:{database_proxy.port}/{db['NAME']}",
        "CELERY_BROKER_URL": "memory://",  # wake-ups go nowhere: no worker in this test
        "DB_CONN_MAX_AGE": "60",  # as in production: a pooled connection dies mid-life
    }
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "leadflow.wsgi",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                "1",
                "--timeout",
                "30",
                "--graceful-timeout",
                "2",
            ],  # fmt: skip
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(url) or proc.poll() is not None, timeout=30)
        assert proc.poll() is None, log.read_text()[-2000:]
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _answers(url: str) -> bool:
    try:
        requests.get(f"{url}/api/v1/openapi.json", timeout=5)
        return True
    except requests.RequestException:
        return False


def test_a_stopped_database_gets_503_json_fast_then_202_when_it_is_back(
    database_proxy, intake_server
):
    flow, _, key = flow_with_step()
    other, _, fresh_key = flow_with_step(flow_name="Not yet looked up")
    other_leads = f"{intake_server}/api/v1/flows/{other.pk}/leads"
    leads = f"{intake_server}/api/v1/flows/{flow.pk}/leads"
    lead = {"email": "ann@example.com"}
    first = requests.post(leads, json=lead, headers={"X-Api-Key": key}, timeout=10)
    assert first.status_code == 202, first.text  # the source is now memoised, a connection open
    lead_url = intake_server + first.json()["url"]

    database_proxy.cut()
    requests_while_down = [
        ("POST", leads, {"X-Api-Key": key}),  # memoised source: the insert fails
        ("POST", leads, {"X-Api-Key": key}),
        ("POST", other_leads, {"X-Api-Key": fresh_key}),
        ("POST", leads, {"X-Api-Key": "lf_wrong"}),  # the source look-up fails
        ("POST", f"{intake_server}/api/v1/flows/999999/leads", {}),
        ("GET", lead_url, {"X-Api-Key": key}),
        ("GET", f"{intake_server}/healthz", {}),
    ]
    for method, url, headers in requests_while_down:
        started = time.monotonic()
        response = requests.request(method, url, json=lead, headers=headers, timeout=10)
        elapsed = time.monotonic() - started
        assert response.status_code == 503, (url, response.status_code, response.text[:300])
        assert response.headers["Content-Type"] == "application/json"
        assert response.json().get("error", "unavailable") == "unavailable"
        assert response.json().get("database", "error") == "error"  # /healthz's own body
        assert elapsed < 1.5, (url, elapsed)

    database_proxy.restore()
    again = requests.post(leads, json=lead, headers={"X-Api-Key": key}, timeout=10)
    assert again.status_code == 202, again.text
    fresh = requests.post(other_leads, json=lead, headers={"X-Api-Key": fresh_key}, timeout=10)
    assert fresh.status_code == 202, fresh.text
    assert requests.get(f"{intake_server}/healthz", timeout=10).json()["database"] == "ok"
