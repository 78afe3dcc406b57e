"""A Celery worker process for the benchmarks that deliver, and the command and
short-run settings the chaos run and the tests' worker share."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench import Failed
from bench.server import ROOT


def celery_worker_argv(
    *, queue: str, hostname: str, concurrency: int, loglevel: str = "INFO", heartbeat: bool = True
) -> list[str]:
    """The `celery worker` command the benches and the tests run: this Python, prefork,
    no start-up mingle or gossip (one worker per run), one queue."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "leadflow",
        "worker",
        f"--loglevel={loglevel}",
        f"--concurrency={concurrency}",
        "--pool=prefork",
        "--without-mingle",
        "--without-gossip",
        *([] if heartbeat else ["--without-heartbeat"]),
        f"--hostname={hostname}",
        f"--queues={queue}",
    ]


def short_run_worker_env(
    *, retry_schedule: str, read_timeout: float, lease_seconds: int
) -> dict[str, str]:
    """A worker's settings for a run of seconds or minutes (a test, the chaos run):
    retries quick enough to end within it, a CRM read timeout the sandbox's hangs
    exceed, and a lease a killed worker's deliveries come back from soon."""
    return {
        "DELIVERY_RETRY_SCHEDULE": retry_schedule,
        "CRM_READ_TIMEOUT": f"{read_timeout:g}",
        "DELIVERY_LEASE_SECONDS": str(lease_seconds),
    }


class CeleryWorker:
    """`with CeleryWorker(env, queue=..., concurrency=8, log=path):` runs a prefork
    worker on `queue` and always stops it on exit."""

    def __init__(self, env: dict[str, str], *, queue: str, concurrency: int, log: Path):
        self.env, self.queue, self.concurrency, self.log = env, queue, concurrency, log
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> CeleryWorker:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                celery_worker_argv(
                    queue=self.queue,
                    hostname=f"bench-{os.getpid()}@localhost",
                    concurrency=self.concurrency,
                ),
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while b" ready." not in self.log.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise Failed(f"celery worker did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.3)
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        stop(self.proc)


def stop(proc: subprocess.Popen | None, *, timeout: float = 20) -> None:
    """Stop a process started in its own session, and its children: SIGTERM, then
    SIGKILL after `timeout` seconds."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
