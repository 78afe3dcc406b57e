"""Where the rate limiter keeps its state: Redis (one atomic Lua script per decision)
when Redis is configured, else the database (one locked row per credential).

Both keep the same small state per limit key and take the time from the store itself
(Redis TIME, the database's clock), never from a worker's clock, so workers on
different machines agree on it:

    t:<quota>  the theoretical arrival time of GCRA for a rolling quota
    w:<quota>, c:<quota>  the current window and its count for a calendar quota
    pause      the time until which nobody may call (after a 429)
    f0, t429   the rate factor right after the last 429, and when it came (AIMD)
    seen       the quota left according to the CRM's last answered headers (JSON)

Rolling quotas ("L calls per P seconds") use GCRA without burst: calls are spaced
(P + guard) / L apart, so no window of P seconds ever holds more than L of them,
whatever the CRM's window alignment, and the guard absorbs the jitter between our
clock and the moment a call reaches the CRM. Calendar quotas (Keap's daily quota
resets at 00:00 UTC) count calls in fixed windows aligned to the epoch.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from .rows import column, rows_settle, rows_update, table


@dataclass(frozen=True)
class Quota:
    """At most `limit` calls per `period` seconds. `calendar`: the window is fixed and
    aligned to the epoch (a UTC day), not rolling."""

    limit: int
    period: float
    label: str
    calendar: bool = False


@dataclass(frozen=True)
class Tuning:
    guard: float
    recovery_per_second: float
    backoff: float
    backoff_max: float
    min_factor: float

    @classmethod
    def from_settings(cls) -> Tuning:
        return cls(
            guard=settings.RATELIMIT_GUARD_SECONDS,
            recovery_per_second=settings.RATELIMIT_RECOVERY_PER_SECOND,
            backoff=settings.RATELIMIT_BACKOFF_SECONDS,
            backoff_max=settings.RATELIMIT_BACKOFF_MAX_SECONDS,
            min_factor=settings.RATELIMIT_MIN_FACTOR,
        )


def ttl_for(quotas: Sequence[Quota]) -> int:
    """How long a key's state is worth keeping: two of its longest windows."""
    return int(max([3600.0, *(q.period * 2 + 60 for q in quotas)]))


# --- The decision, in Python (the database store; the reference for the Lua below) -----


def slow_factor(state: dict[str, float], now: float, tuning: Tuning) -> float:
    """The share of the quota in use: halved by a 429, back to 1 linearly (AIMD)."""
    f0 = state.get("f0", 1.0)
    if f0 >= 1.0:
        return 1.0
    return min(1.0, f0 + (now - state.get("t429", now)) * tuning.recovery_per_second)


def decide(
    state: dict[str, float], *, now: float, quotas: Sequence[Quota], tuning: Tuning
) -> tuple[float, dict[str, float]]:
    """(seconds to wait, {}) when no slot is free now; (0.0, updates) when one is taken."""
    pause = state.get("pause", 0.0)
    if pause > now:
        return pause - now, {}
    factor = slow_factor(state, now, tuning)
    wait, updates = 0.0, {}
    for quota in quotas:
        if quota.calendar:
            window = float(math.floor(now / quota.period))
            count = state.get(f"c:{quota.label}", 0.0)
            if state.get(f"w:{quota.label}") != window:
                count = 0.0
            if count >= quota.limit:
                wait = max(wait, (window + 1) * quota.period - now)
            updates[f"w:{quota.label}"], updates[f"c:{quota.label}"] = window, count + 1
        else:
            tat = state.get(f"t:{quota.label}", 0.0)
            if tat > now:
                wait = max(wait, tat - now)
            interval = (quota.period + tuning.guard) / (quota.limit * factor)
            updates[f"t:{quota.label}"] = max(tat, now) + interval
    return (wait, {}) if wait > 0 else (0.0, updates)


def penalise(
    state: dict[str, float], *, now: float, retry_after: float | None, tuning: Tuning
) -> tuple[float, dict[str, float]]:
    """After a 429: pause everyone until Retry-After (or a backoff that doubles with each
    halving of the rate), and halve the rate, once per second of 429s however many
    calls were in flight. Returns (seconds paused from now, updates)."""
    f0, t429 = state.get("f0", 1.0), state.get("t429", 0.0)
    if now - t429 >= 1.0:
        f0 = max(tuning.min_factor, slow_factor(state, now, tuning) / 2)
        t429 = now
    delay = retry_after if retry_after is not None else min(tuning.backoff_max, tuning.backoff / f0)
    pause = max(state.get("pause", 0.0), now + delay)
    return pause - now, {"f0": f0, "t429": t429, "pause": pause}


# --- Redis -------------------------------------------------------------------------------

_LUA_STATE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local raw = redis.call('HGETALL', KEYS[1])
local s = {}
for i = 1, #raw, 2 do s[raw[i]] = raw[i + 1] end
local function num(name, default)
  local v = s[name]
  if v then return tonumber(v) end
  return default
end
local function factor(recovery)
  local f0 = num('f0', 1)
  if f0 >= 1 then return 1 end
  return math.min(1, f0 + (now - num('t429', now)) * recovery)
end
"""

# ARGV[1]: one string of words (see _reserve_spec): guard, recovery, ttl, n, then
# label, limit, period, calendar (0/1) per quota. One argument rather than twenty: the
# client encodes each argument of every call, and the spec of a key never changes.
_LUA_RESERVE = (
    _LUA_STATE
    + """
local pause = num('pause', 0)
if pause > now then return tostring(pause - now) end
local spec = {}
for word in string.gmatch(ARGV[1], '%S+') do table.insert(spec, word) end
local guard, ttl, n = tonumber(spec[1]), tonumber(spec[3]), tonumber(spec[4])
local f = factor(tonumber(spec[2]))
local wait = 0
local updates = {}
for i = 0, n - 1 do
  local label, limit = spec[5 + i * 4], tonumber(spec[6 + i * 4])
  local period, calendar = tonumber(spec[7 + i * 4]), spec[8 + i * 4] == '1'
  if calendar then
    local window = math.floor(now / period)
    local count = 0
    if num('w:' .. label, -1) == window then count = num('c:' .. label, 0) end
    if count >= limit then wait = math.max(wait, (window + 1) * period - now) end
    table.insert(updates, 'w:' .. label)
    table.insert(updates, string.format('%d', window))
    table.insert(updates, 'c:' .. label)
    table.insert(updates, string.format('%d', count + 1))
  else
    local tat = num('t:' .. label, 0)
    if tat > now then wait = math.max(wait, tat - now) end
    table.insert(updates, 't:' .. label)
    local next_tat = math.max(tat, now) + (period + guard) / (limit * f)
    table.insert(updates, string.format('%.6f', next_tat))
  end
end
if wait > 0 then return string.format('%.6f', wait) end
if #updates > 0 then redis.call('HSET', KEYS[1], unpack(updates)) end
redis.call('EXPIRE', KEYS[1], ttl)
return '0'
"""
)

# ARGV: retry_after (negative: none), recovery, backoff, backoff_max, min_factor, ttl.
_LUA_PENALISE = (
    _LUA_STATE
    + """
local f0, t429 = num('f0', 1), num('t429', 0)
if now - t429 >= 1 then
  f0 = math.max(tonumber(ARGV[5]), factor(tonumber(ARGV[2])) / 2)
  t429 = now
end
local delay = tonumber(ARGV[1])
if delay < 0 then delay = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) / f0) end
local pause = math.max(num('pause', 0), now + delay)
redis.call('HSET', KEYS[1], 'f0', string.format('%.6f', f0), 't429', string.format('%.6f', t429),
  'pause', string.format('%.6f', pause))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
return string.format('%.6f', pause - now)
"""
)

_LUA_NOW = "local t = redis.call('TIME') return t[1] .. '.' .. string.format('%06d', t[2])"


def _redis() -> Any:
    """This process's client of the limiter's Redis."""
    return _client(os.getpid(), settings.RATELIMIT_REDIS_URL)


@cache
def _client(pid: int, url: str) -> Any:
    import redis

    # One connection per process, kept (a third of a call's CPU goes to taking a
    # connection from a pool and giving it back; redis-py reconnects it after an error
    # and serialises threads on it). Per process id: a child of a fork opens its own.
    return redis.Redis.from_url(url, socket_timeout=2, single_connection_client=True)


def _scripts() -> tuple[Any, Any, Any]:
    return _registered(os.getpid(), settings.RATELIMIT_REDIS_URL)


@cache
def _registered(pid: int, url: str) -> tuple[Any, Any, Any]:
    client = _client(pid, url)
    return (
        client.register_script(_LUA_RESERVE),
        client.register_script(_LUA_PENALISE),
        client.register_script(_LUA_NOW),
    )


def _evalsha_at_once(script: Any, key: str, spec: str, meanwhile: Callable[[], None]) -> Any:
    """Run the reserve script on the client's one connection with its command encoded
    once per key (the same bytes at every call): a third of the CPU of going through
    the client's command path, which encodes the command, retries and records metrics
    at every call. `meanwhile` runs between sending the command and reading its answer,
    so its work overlaps Redis's round trip; it must not use this client (its
    connection is busy) and runs at most once. None when that did not work out (no
    connection, a restarted Redis that lost the script): the caller then goes the
    client's own way. (A connection lost after the script ran takes two slots for one
    call, and so does a `meanwhile` that raises: a slot wasted, never one too many.)"""
    import redis

    client = script.registered_client
    lock = getattr(client, "single_connection_lock", None)  # redis-py >= 5.1
    if lock is None:
        return None
    command = _packed(client, script.sha, key, spec)
    with lock:
        connection = client.connection
        try:
            connection.send_packed_command(command, check_health=False)
        except (redis.ConnectionError, redis.TimeoutError):
            connection.disconnect()
            return None
        try:
            meanwhile()
        except BaseException:
            with contextlib.suppress(redis.RedisError):  # `meanwhile`'s error is the one
                _answer(connection)  # read all the same: nothing is left unread
            raise
        return _answer(connection)


def _answer(connection: Any) -> Any:
    """The answer to the command sent on `connection` (see `_evalsha_at_once`)."""
    import redis

    try:
        return connection.read_response()
    except redis.exceptions.NoScriptError:
        return None
    except (redis.ConnectionError, redis.TimeoutError):
        connection.disconnect()
        return None


@lru_cache(maxsize=4096)
def _packed(client: Any, sha: str, key: str, spec: str) -> list[bytes]:
    packed: list[bytes] = client.connection.pack_command("EVALSHA", sha, 1, key, spec)
    return packed


def _redis_key(key: str) -> str:
    return str(settings.RATELIMIT_KEY_PREFIX) + key


def _uses_redis() -> bool:
    return bool(settings.RATELIMIT_REDIS_URL)


# --- The database ------------------------------------------------------------------------

_DB_NOW = {
    "postgresql": "SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8",
    "sqlite": "SELECT (julianday('now') - 2440587.5) * 86400.0",
}


def _db_now() -> float:
    with connection.cursor() as cursor:
        cursor.execute(_DB_NOW.get(connection.vendor, _DB_NOW["postgresql"]))
        return float(cursor.fetchone()[0])


@cache
def _db_select_sql(vendor: str) -> str:
    from integrations.models import RateLimitState

    now = _DB_NOW.get(vendor, _DB_NOW["postgresql"]).removeprefix("SELECT ")
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    return (
        f"SELECT {column(RateLimitState, 'state')}, {now} FROM {table(RateLimitState)}"  # noqa: S608
        f" WHERE {column(RateLimitState, 'key')} = %s{lock}"
    )


def _db_update(key: str, change: Any) -> float:
    """Run `change(state, now) -> (result, updates)` on the key's row under its lock (a
    row lock on PostgreSQL; SQLite's IMMEDIATE transactions serialise writers).

    Plain SQL, one SELECT (the state and the clock) and one UPDATE: this runs before
    every CRM call (see integrations.delivery.rows)."""
    from integrations.models import RateLimitState

    rows_settle()  # a delivery's progress write may be in flight (see .rows.rows_send)
    for _ in range(3):
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(_db_select_sql(connection.vendor), [key])
                    found = cursor.fetchone()
                if found is None:
                    RateLimitState.objects.create(key=key, state={})
                    state, now = {}, _db_now()
                else:
                    raw, now = found
                    state = json.loads(raw) if isinstance(raw, str | bytes) else raw
                result, updates = change(state, float(now))
                if updates:
                    rows_update(
                        RateLimitState,
                        {"state": {**state, **updates}},
                        where=f"{column(RateLimitState, 'key')} = %s",
                        params=[key],
                    )
                return float(result)
        except IntegrityError:  # two workers created the row at once: the other won
            continue
    raise RuntimeError(f"rate limit row {key!r} could not be created")


# --- The store's API -------------------------------------------------------------------


def store_reserve(
    *,
    key: str,
    quotas: Sequence[Quota],
    tuning: Tuning,
    meanwhile: Callable[[], None] | None = None,
) -> float:
    """Take one slot of every quota, or none. Returns 0.0, or the seconds to wait.

    `meanwhile` (the call's own preparation) runs once before this returns: with Redis,
    while the script runs (see `_evalsha_at_once`); with the database, first."""
    pending = [meanwhile] if meanwhile is not None else []

    def run_meanwhile() -> None:  # once, whichever way the reservation goes
        while pending:
            pending.pop()()

    if _uses_redis():
        spec, script = _reserve_spec(tuple(quotas), tuning), _scripts()[0]
        redis_key = _redis_key(key)
        answer = _evalsha_at_once(script, redis_key, spec, run_meanwhile)
        run_meanwhile()
        if answer is None:  # the client's own way: it reconnects and loads the script
            answer = script(keys=[redis_key], args=[spec])
        return float(answer)
    run_meanwhile()
    return _db_update(key, lambda state, now: decide(state, now=now, quotas=quotas, tuning=tuning))


@cache
def _reserve_spec(quotas: tuple[Quota, ...], tuning: Tuning) -> str:
    """The reserve script's argument for these quotas (labels have no spaces)."""
    words: list[Any] = [tuning.guard, tuning.recovery_per_second, ttl_for(quotas), len(quotas)]
    for q in quotas:
        words += [q.label, q.limit, repr(float(q.period)), "1" if q.calendar else "0"]
    return " ".join(repr(w) if isinstance(w, float) else str(w) for w in words)


def store_penalise(*, key: str, retry_after: float | None, tuning: Tuning) -> float:
    """Record a 429. Returns the seconds everyone must wait from now."""
    if _uses_redis():
        args = [
            -1 if retry_after is None else retry_after,
            tuning.recovery_per_second,
            tuning.backoff,
            tuning.backoff_max,
            tuning.min_factor,
            86_400 * 2,
        ]
        return float(_scripts()[1](keys=[_redis_key(key)], args=args))
    return _db_update(
        key, lambda state, now: penalise(state, now=now, retry_after=retry_after, tuning=tuning)
    )


def store_now() -> float:
    """The store's clock, in epoch seconds."""
    if _uses_redis():
        return float(_scripts()[2]())
    return _db_now()


def store_read(*, key: str) -> tuple[dict[str, Any], float]:
    """The key's raw state (numbers as floats, `seen` as parsed JSON) and the store's now."""
    if _uses_redis():
        pipe = _redis().pipeline()
        pipe.hgetall(_redis_key(key))
        pipe.time()
        raw, (secs, micros) = pipe.execute()
        state: dict[str, Any] = {}
        for name, value in raw.items():
            name, value = name.decode(), value.decode()
            state[name] = json.loads(value) if name == "seen" else float(value)
        return state, secs + micros / 1e6
    from integrations.models import RateLimitState

    row = RateLimitState.objects.filter(key=key).first()
    return (dict(row.state) if row else {}), _db_now()


_seen_lock = threading.Lock()
_seen_last: dict[str, float] = {}


def store_seen_due(*, key: str, now: float, every: float = 1.0) -> bool:
    """Whether the quota left that the CRM reports is to be kept now: at most once a
    second per process and key (it is for people to read, not for decisions). True
    marks the key as kept at `now`."""
    with _seen_lock:
        if now - _seen_last.get(key, 0.0) < every:
            return False
        _seen_last[key] = now
        return True


def store_seen(*, key: str, seen: dict[str, Any]) -> None:
    """Keep the quota left that the CRM reported (see `store_seen_due`)."""
    if _uses_redis():
        _redis().hset(_redis_key(key), "seen", json.dumps(seen))
        return
    _db_update(key, lambda state, now: (0.0, {"seen": seen}))


def store_clear(*, key: str) -> None:
    """Forget a key's pause and slow-down (Resume in the admin, tests)."""
    if _uses_redis():
        _redis().hdel(_redis_key(key), "pause", "f0", "t429")
        return
    from integrations.models import RateLimitState

    with transaction.atomic():
        row = RateLimitState.objects.select_for_update().filter(key=key).first()
        if row is not None:
            row.state = {k: v for k, v in row.state.items() if k not in ("pause", "f0", "t429")}
            row.save(update_fields=["state"])


__all__ = [
    "Quota",
    "Tuning",
    "decide",
    "penalise",
    "store_clear",
    "store_now",
    "store_penalise",
    "store_read",
    "store_reserve",
    "store_seen",
    "store_seen_due",
]
