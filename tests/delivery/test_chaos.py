"""The chaos run, shortened: tens of leads while worker processes are SIGKILLed every
few seconds, the run's own Redis is restarted midway and the Keap sandbox answers at
random with 5xx and hangs (some after saving the contact). Every accepted lead ends
with an outcome, and the sandbox holds exactly one contact per lead.

Runs real processes (gunicorn, Celery workers, redis-server) on a database of its own
next to the test database's server: see bench/chaos.py (`make bench ONLY=chaos`).
"""

from __future__ import annotations

import os
import shutil
from urllib.parse import urlsplit

import pytest

from bench.chaos import ChaosConfig, chaos_run

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
    pytest.mark.skipif(
        urlsplit(os.environ.get("DATABASE_URL", "")).scheme not in ("postgres", "postgresql"),
        reason="needs PostgreSQL",
    ),
]


def test_no_lead_is_lost_or_doubled_when_workers_die_and_redis_restarts():
    result = chaos_run(
        ChaosConfig(
            leads=40,
            workers=2,
            kill_every=2.5,
            post_threads=4,
            settle_seconds=90,
            db_suffix="chaos_test",
        ),
        quiet=True,
    )
    assert result.accepted == 40 and result.rejected == 0  # intake never failed
    assert result.kills >= 2 and result.redis_restarts == 1
    assert (result.lost, result.finished) == (0, 40)
    assert result.duplicate_contacts == 0 and result.missing_contacts == 0
