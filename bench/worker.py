"""A Celery worker process for the benchmarks that deliver."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench import Failed
from bench.server import ROOT


class CeleryWorker:
    """`with CeleryWorker(env, queue=..., concurrency=8, log=path):` runs a prefork
    worker on `queue` and always stops it on exit."""

    def __init__(self, env: dict[str, str], *, queue: str, concurrency: int, log: Path):
        self.env, self.queue, self.concurrency, self.log = env, queue, concurrency, log
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> CeleryWorker:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "leadflow",
                    "worker",
                    "--loglevel=INFO",
                    f"--concurrency={self.concurrency}",
                    "--pool=prefork",
                    "--without-mingle",
                    "--without-gossip",
                    f"--hostname=bench-{os.getpid()}@localhost",
                    f"--queues={self.queue}",
                ],
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
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
