"""The _control switches: queued faults, limit overrides, token expiry, and the
counters behind _control/stats. State is one ControlState row, so a test run that
truncates tables starts with no faults and zeroed counters.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from .. import fault_modes
from .models import (
    AccessToken,
    AuthorizationCode,
    CallCounter,
    Company,
    Contact,
    ControlState,
    RefreshToken,
    new_epoch,
)

# §4: per-credential limits. OAuth quotas are per client (across tenants), PAT/SAK per key.
DEFAULTS: dict[str, Any] = {
    "rate_limits": {
        "api_key": {"spike": 10, "minute": 240, "day": 30_000},
        "oauth": {"spike": 25, "minute": 1_500, "day": 150_000},
    },
    "retry_after": None,  # seconds; Keap documents no Retry-After (§4), so none by default
    "token_ttl": 86_400,  # expires_in of new access tokens (§1.1)
}
TARGETS = ("api", "rest", "xmlrpc", "token", "any")


class ControlError(ValueError):
    pass


def state() -> ControlState:
    row, _ = ControlState.objects.get_or_create(pk=1)
    return row


def config(row: ControlState) -> dict[str, Any]:
    """The effective settings: defaults overlaid with what _control set."""
    limits = {
        kind: {**values, **row.config.get("rate_limits", {}).get(kind, {})}
        for kind, values in DEFAULTS["rate_limits"].items()
    }
    merged = {**DEFAULTS, **row.config}
    merged["rate_limits"] = limits
    return merged


def count(key: str) -> None:
    """Add one to a named counter (safe under concurrent requests)."""
    if CallCounter.objects.filter(key=key).update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            CallCounter.objects.create(key=key, count=1)
    except IntegrityError:  # another request created it first
        CallCounter.objects.filter(key=key).update(count=F("count") + 1)


def take_fault(row: ControlState, target: str, subject: str = "", method: str = "") -> dict | None:
    """Consume one use of the first queued fault that applies to this request: its
    `target`, and the rule's `path` (a substring of `subject`: the path after keap/,
    plus the XML-RPC method name) and `method`, and then its `probability`."""
    if not row.faults:
        return None
    with transaction.atomic():
        locked = ControlState.objects.select_for_update().get(pk=row.pk)
        for rule in locked.faults:
            if not _applies(rule, target, subject, method) or not fault_modes.strikes(rule):
                continue
            rule["count"] -= 1
            locked.faults = [r for r in locked.faults if r["count"] > 0]
            locked.save(update_fields=["faults"])
            count("event:faults_injected")
            return rule
    return None


def _applies(rule: dict, target: str, subject: str, method: str) -> bool:
    targeted = rule["target"] in (target, "any") or (
        rule["target"] == "api" and target in ("rest", "xmlrpc")
    )
    return (
        targeted
        and (rule.get("path") or "") in subject
        and (not rule.get("method") or rule["method"] == method)
    )


def apply(payload: dict) -> dict:
    """POST _control/faults. Keys may be combined; see the module README in urls.py."""
    if not isinstance(payload, dict):
        raise ControlError("expected a JSON object")
    if payload.get("wipe_data"):
        Contact.objects.all().delete()
        Company.objects.all().delete()
        for model in (AccessToken, RefreshToken, AuthorizationCode):
            model.objects.all().delete()
    if payload.get("reset"):
        ControlState.objects.filter(pk=1).delete()
        CallCounter.objects.all().delete()
        RefreshToken.objects.update(presented=0)
    row = state()
    if payload.get("expire_tokens"):
        AccessToken.objects.filter(expires_at__gt=timezone.now()).update(expires_at=timezone.now())
    for key in ("rate_limits", "retry_after", "token_ttl"):
        if key in payload:
            row.config[key] = _checked_config(key, payload[key], row.config.get(key))
    if any(key in payload for key in (*_RULE_KEYS, "count", "path", "method")):
        row.faults.append(_checked_rule(payload))
    if payload.get("reset_rate_windows"):
        row.epoch = new_epoch()
    row.save()
    return describe(row)


_RULE_KEYS = ("status", "latency_ms", *fault_modes.KEYS)


def _checked_rule(payload: dict) -> dict:
    rule = {
        "status": payload.get("status"),
        "latency_ms": payload.get("latency_ms", 0),
        "count": payload.get("count", 1),
        "target": payload.get("target", "api"),
        "body": payload.get("body"),
        "retry_after": payload.get("retry_after"),
        "path": str(payload.get("path") or ""),
        "method": str(payload.get("method") or "").upper(),
    }
    try:
        rule.update(fault_modes.checked(payload))
    except fault_modes.FaultModeError as error:
        raise ControlError(str(error)) from None
    if not fault_modes.has_effect(rule):
        raise ControlError("a fault needs a status, latency_ms, jitter_ms, drop or malformed")
    if rule["status"] is not None and not (
        isinstance(rule["status"], int) and 100 <= rule["status"] <= 599
    ):
        raise ControlError("status must be an HTTP status code")
    if not isinstance(rule["latency_ms"], int) or not 0 <= rule["latency_ms"] <= 120_000:
        raise ControlError("latency_ms must be 0..120000")
    if rule["created"] and rule["target"] == "token":
        raise ControlError("created applies to API calls, not the token endpoint")
    if not isinstance(rule["count"], int) or rule["count"] < 1:
        raise ControlError("count must be a positive integer")
    if rule["target"] not in TARGETS:
        raise ControlError(f"target must be one of {', '.join(TARGETS)}")
    return rule


def _checked_config(key: str, value: Any, current: Any) -> Any:
    if key == "rate_limits":
        if not isinstance(value, dict) or not set(value) <= {"api_key", "oauth"}:
            raise ControlError("rate_limits takes {'api_key': {...}, 'oauth': {...}}")
        merged = dict(current or {})
        for kind, limits in value.items():
            if not isinstance(limits, dict) or not set(limits) <= {"spike", "minute", "day"}:
                raise ControlError("each limit set takes spike, minute, day")
            if not all(isinstance(v, int) and v > 0 for v in limits.values()):
                raise ControlError("limits are positive integers")
            merged[kind] = {**merged.get(kind, {}), **limits}
        return merged
    if value is not None and not (isinstance(value, int) and value >= 0):
        raise ControlError(f"{key} must be a non-negative integer or null")
    return value


def describe(row: ControlState) -> dict:
    return {"faults": row.faults, "config": config(row)}


def stats() -> dict:
    """GET _control/stats: counters since the last reset (or table truncation)."""
    counters = dict(CallCounter.objects.values_list("key", "count"))
    tokens = RefreshToken.objects.order_by("created")
    return {
        "oauth": {
            "authorization_codes_issued": counters.get("event:codes_issued", 0),
            "code_exchanges": counters.get("event:code_exchanges", 0),
            "refresh_grants": counters.get("event:refresh_grants", 0),
            "rejected_refresh_tokens": state().rejected_refresh,
            "refresh_token_presentations": tokens.aggregate(n=Sum("presented"))["n"] or 0,
            "refresh_tokens": {
                t.token: {"presented": t.presented, "used": t.used_at is not None} for t in tokens
            },
        },
        "oauth_calls": _section(counters, "oauth:"),
        "api_calls": _section(counters, "api:"),
        "xmlrpc_calls": _section(counters, "xmlrpc:"),
        "responses": _section(counters, "status:"),
    }


def _section(counters: dict[str, int], prefix: str) -> dict[str, int]:
    return {k[len(prefix) :]: v for k, v in sorted(counters.items()) if k.startswith(prefix)}


def reject_refresh() -> None:
    state()
    ControlState.objects.filter(pk=1).update(rejected_refresh=F("rejected_refresh") + 1)
