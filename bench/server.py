"""Running the project as in production: Django commands and a gunicorn server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench import Failed

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run_python(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run `python <args>` (manage.py, or -m module) from the project root with `env`;
    return its stdout."""
    try:
        result = subprocess.run(
            [sys.executable, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise Failed(f"{' '.join(args)} took over {timeout:.0f}s") from None
    if result.returncode != 0:
        raise Failed(f"{' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """`with Gunicorn(env, workers=4, log=path) as server:` serves the project on
    127.0.0.1:<free port> and always stops it on exit."""

    def __init__(self, env: dict[str, str], *, workers: int, log: Path):
        self.env, self.workers, self.log = env, workers, log
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    @property
    def command(self) -> list[str]:
        return [
            str(BIN / "gunicorn"),
            "leadflow.wsgi",
            "-w",
            str(self.workers),
            "-k",
            "sync",
            "-b",
            f"127.0.0.1:{self.port}",
            "--access-logfile",
            "/dev/null",
            "--log-level",
            "warning",
        ]

    def __enter__(self) -> Gunicorn:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Failed(f"gunicorn exited {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2) as resp:
                    health = json.load(resp)
            except (urllib.error.URLError, OSError, ValueError):
                time.sleep(0.2)
                continue
            if health.get("broker") != "ok":
                raise Failed(f"the server cannot reach the broker: /healthz says {health}")
            return
        raise Failed(f"gunicorn did not answer /healthz in {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM the master (workers finish their request and exit); SIGKILL the
        process group it leads if it is still there after 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"
