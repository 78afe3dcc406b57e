"""Load generators: wrk for throughput, hey for latency at a fixed offered rate.

Both POST the same realistic lead (the 17 standard fields) with the same headers.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bench import Failed

LEAD = {
    "first_name": "Margaret",
    "middle_name": "Anne",
    "last_name": "Fitzgerald-Olsen",
    "suffix": "Jr.",
    "email": "Margaret.Fitzgerald-Olsen@example.com",
    "phone_1": "(415) 555-0134",
    "phone_2": "+1 415 555 0199",
    "phone_3": "415.555.0177",
    "address_1": "1234 Market Street",
    "address_2": "Suite 500",
    "city": "San Francisco",
    "state": "CA",
    "postal_code": "94103",
    "website": "https://www.example.com/margaret",
    "comments": "Interested in the premium plan; please call after 3pm Pacific. "
    "Found us through the spring webinar.",
    "title": "Director of Operations",
    "dob": "1984-07-21",
}

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def lead_body() -> str:
    return json.dumps(LEAD)


def write_wrk_script(path: Path, *, api_key: str) -> Path:
    """A wrk Lua script that POSTs the lead as JSON with the API key."""
    path.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = [==[{lead_body()}]==]\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["X-Api-Key"] = "{api_key}"\n'
    )
    return path


@dataclass
class WrkResult:
    requests: int
    seconds: float
    req_per_s: float
    non_2xx_3xx: int
    socket_errors: dict[str, int]
    latency_ms: dict[str, float]  # "50%" -> ms
    output: str

    @property
    def ok(self) -> int:
        """Responses with a status below 400 (wrk counts only those above 399)."""
        return self.requests - self.non_2xx_3xx

    @property
    def errors(self) -> int:
        return sum(self.socket_errors.values())


def run_wrk(url: str, script: Path, *, threads: int, connections: int, seconds: int) -> WrkResult:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    out = _run(cmd, timeout=seconds + 30)
    return parse_wrk(out)


def parse_wrk(out: str) -> WrkResult:
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not total or not rate:
        raise Failed(f"could not read wrk's output:\n{out}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = dict(
        zip(
            ("connect", "read", "write", "timeout"),
            map(int, sock.groups()) if sock else (0, 0, 0, 0),
            strict=True,
        )
    )
    latency = {
        pct: float(value) * _UNITS[unit]
        for pct, value, unit in re.findall(r"^\s+(\d+%)\s+([\d.]+)(us|ms|s|m|h)\s*$", out, re.M)
    }
    seconds = float(total.group(2)) * _UNITS.get(total.group(3), 1000.0) / 1000.0
    return WrkResult(
        int(total.group(1)),
        seconds,
        float(rate.group(1)),
        int(non_2xx.group(1)) if non_2xx else 0,
        errors,
        latency,
        out,
    )


@dataclass
class HeyResult:
    req_per_s: float
    latency_ms: dict[int, float]  # percentile -> ms
    statuses: dict[int, int]
    errors: dict[str, int] = field(default_factory=dict)
    output: str = ""

    @property
    def ok(self) -> int:
        return sum(n for code, n in self.statuses.items() if 200 <= code < 300)

    @property
    def not_ok(self) -> int:
        return sum(n for code, n in self.statuses.items() if not 200 <= code < 300)


def run_hey(
    url: str, body: Path, *, api_key: str, seconds: int, workers: int, per_worker_qps: int
) -> HeyResult:
    """hey's -q is per worker: the offered rate is workers × per_worker_qps."""
    cmd = [
        "hey",
        "-z",
        f"{seconds}s",
        "-c",
        str(workers),
        "-q",
        str(per_worker_qps),
        "-m",
        "POST",
        "-T",
        "application/json",
        "-H",
        f"X-Api-Key: {api_key}",
        "-D",
        str(body),
        url,
    ]
    return parse_hey(_run(cmd, timeout=seconds + 30))


def parse_hey(out: str) -> HeyResult:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not rate:
        raise Failed(f"could not read hey's output:\n{out}")
    latency = {
        int(p): float(s) * 1000.0 for p, s in re.findall(r"^\s+(\d+)% in ([\d.]+) secs", out, re.M)
    }
    statuses = {
        int(c): int(n) for c, n in re.findall(r"^\s+\[(\d{3})\]\s+(\d+) responses", out, re.M)
    }
    errors: dict[str, int] = {}
    if "Error distribution:" in out:
        tail = out.split("Error distribution:", 1)[1]
        errors = {
            msg.strip(): int(n) for n, msg in re.findall(r"^\s+\[(\d+)\]\s+(.*)$", tail, re.M)
        }
    return HeyResult(float(rate.group(1)), latency, statuses, errors, out)


def _run(cmd: list[str], *, timeout: float) -> str:
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failed(f"{cmd[0]} took over {timeout:.0f}s") from None
    if result.returncode != 0:
        raise Failed(f"{cmd[0]} exited {result.returncode}:\n{result.stderr[-2000:]}")
    return result.stdout
