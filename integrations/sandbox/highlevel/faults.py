"""Switchable faults, tunable limits and the counters behind _control/stats.

State lives in django.core.cache, so it survives the table truncation between tests
(reset it with POST _control/faults {"reset": true}). The sandbox runs in one process:
a lock makes each read-modify-write atomic between the live server's threads.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

from django.core.cache import cache

from .. import fault_modes

_LOCK = threading.RLock()
_FAULTS = "sandbox_highlevel:faults"
_STATS = "sandbox_highlevel:stats"
_CONFIG = "sandbox_highlevel:config"
FOREVER = None  # cache timeout: locmem would otherwise drop state after 300 s

DEFAULT_CONFIG: dict[str, Any] = {
    # §6.4: burst 100 requests per 10 s and 200,000 per day, per app per location.
    "burst_max": 100,
    "burst_interval_ms": 10_000,
    "daily_max": 200_000,
    # §6.4: HighLevel documents no Retry-After on its 429; off unless configured.
    "retry_after": None,
    # §6.2: access tokens live ~24 h.
    "access_token_ttl": 86_399,
}


class FaultSpecError(ValueError):
    """A _control request that cannot be a fault or a setting."""


@dataclass
class Fault:
    """One armed fault, consumed by the next `count` matching requests."""

    status: int | None = None
    count: int = 1
    latency_ms: int = 0
    # §7.3.4 "422 yet created": process the request, then answer with `status`.
    created: bool = False
    path: str = ""  # only requests whose path (after /sandbox/highlevel/) contains this
    method: str = ""  # only this HTTP method, when set
    target: str = "api"  # "api" (everything but OAuth) | "token" (oauth/token)
    retry_after: int | None = None  # a Retry-After header on the faulted response
    # Shared with the Keap sandbox: see integrations.sandbox.fault_modes.
    jitter_ms: int = 0
    probability: float = 1.0
    drop: bool = False
    malformed: bool = False

    @classmethod
    def from_json(cls, spec: dict[str, Any]) -> Fault:
        try:
            modes = fault_modes.checked(spec)
        except fault_modes.FaultModeError as exc:
            raise FaultSpecError(str(exc)) from None
        fault = cls(
            status=_optional_int(spec, "status"),
            count=_optional_int(spec, "count") or 1,
            latency_ms=_optional_int(spec, "latency_ms") or 0,
            path=str(spec.get("path") or ""),
            method=str(spec.get("method") or "").upper(),
            target=str(spec.get("target") or "api"),
            retry_after=_optional_int(spec, "retry_after"),
            **modes,
        )
        if not fault_modes.has_effect(asdict(fault)):
            raise FaultSpecError("a fault needs a status, latency_ms, jitter_ms, drop or malformed")
        if fault.status is not None and not 400 <= fault.status <= 599:
            raise FaultSpecError("status must be 400-599")
        if fault.target not in ("api", "token"):
            raise FaultSpecError("target must be api or token")
        if fault.created and fault.target == "token":
            raise FaultSpecError("created applies to API calls, not the token endpoint")
        return fault

    def matches(self, *, target: str, path: str, method: str) -> bool:
        return (
            self.target == target
            and self.path in path
            and (not self.method or self.method == method)
        )


def _optional_int(spec: dict[str, Any], key: str) -> int | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FaultSpecError(f"{key} must be a non-negative integer")
    return value


def arm(fault: Fault) -> None:
    with _LOCK:
        faults = cache.get(_FAULTS) or []
        faults.append(asdict(fault))
        cache.set(_FAULTS, faults, FOREVER)


def take(*, target: str, path: str, method: str) -> Fault | None:
    """The first armed fault matching this request, with one use consumed."""
    with _LOCK:
        faults = cache.get(_FAULTS) or []
        for n, raw in enumerate(faults):
            fault = Fault(**raw)
            if fault.matches(target=target, path=path, method=method) and fault_modes.strikes(raw):
                if fault.count <= 1:
                    faults.pop(n)
                else:
                    faults[n]["count"] = fault.count - 1
                cache.set(_FAULTS, faults, FOREVER)
                bump("faults_injected")
                return fault
    return None


def armed() -> list[dict[str, Any]]:
    return cache.get(_FAULTS) or []


def config() -> dict[str, Any]:
    return {**DEFAULT_CONFIG, **(cache.get(_CONFIG) or {})}


def configure(changes: dict[str, Any]) -> dict[str, Any]:
    """Change limits / token lifetime; unknown keys are refused."""
    unknown = set(changes) - set(DEFAULT_CONFIG)
    if unknown:
        raise FaultSpecError(f"unknown setting: {sorted(unknown)[0]}")
    for key in changes:
        if key != "retry_after" or changes[key] is not None:
            _optional_int(changes, key)
    with _LOCK:
        merged = {**(cache.get(_CONFIG) or {}), **changes}
        cache.set(_CONFIG, merged, FOREVER)
    return config()


def bump(name: str, by: int = 1) -> None:
    with _LOCK:
        stats = cache.get(_STATS) or {}
        stats[name] = stats.get(name, 0) + by
        cache.set(_STATS, stats, FOREVER)


def stats() -> dict[str, int]:
    return dict(cache.get(_STATS) or {})


def reset() -> None:
    """Disarm every fault, restore the default limits, zero the counters and windows."""
    # The rate windows are part of "everything back to normal", and the location is
    # read again from the database.
    from . import ratelimit, seed

    with _LOCK:
        cache.delete_many([_FAULTS, _STATS, _CONFIG])
    ratelimit.reset()
    seed.forget()
