"""The rate limiter: shared by every process, on the store's clock, paused by a 429.

Every test runs against both stores: Redis (when the suite has a Redis broker) and the
database (the embedded setup's store, here on the suite's database).
"""

from __future__ import annotations

import multiprocessing
import time
import uuid
from unittest import mock

import pytest
from django.db import connections

from integrations.crm.base import Throttled
from integrations.delivery import ratelimit_store
from integrations.delivery.ratelimit import (
    QuotaGate,
    account_limit_key,
    account_quotas,
    ratelimit_reserve,
    ratelimit_status,
)
from integrations.delivery.ratelimit_store import Quota
from integrations.models import AuthType, CrmKind
from tests.factories import keap_account

pytestmark = pytest.mark.django_db(transaction=True)

STORES = ["redis", "database"]


@pytest.fixture(params=STORES)
def store(request, settings):
    if request.param == "database":
        settings.RATELIMIT_REDIS_URL = ""
    elif not settings.RATELIMIT_REDIS_URL:
        pytest.skip("no Redis configured")
    settings.RATELIMIT_GUARD_SECONDS = 0.0
    return request.param


def _hammer(key: str, quotas: list[Quota], until: float, out) -> None:
    """Child process: take every slot it can until `until`; report how many."""
    connections.close_all()  # never share the parent's database socket
    taken = 0
    while time.time() < until:
        wait = ratelimit_reserve(key=key, limits=quotas)
        if wait == 0:
            taken += 1
        else:
            time.sleep(min(wait, 0.005))
    connections.close_all()
    out.put(taken)


def test_processes_together_never_take_more_than_the_quota(store):
    per_second, seconds, workers = 10, 3.0, 4
    quotas = [Quota(per_second, 1.0, "second")]
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    until = time.time() + seconds
    children = [
        ctx.Process(target=_hammer, args=("shared", quotas, until, out)) for _ in range(workers)
    ]
    for child in children:
        child.start()
    counts = [out.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=10)
    # Calls are spaced 1/10 s apart from the first: at most 31 fit in 3 s, whoever asks.
    assert sum(counts) <= per_second * seconds + 1
    assert sum(counts) >= per_second * seconds * 0.8  # and the quota is used, not wasted
    assert sum(1 for c in counts if c > 0) >= 2  # the slots went to several processes


def test_reservations_go_on_when_redis_forgets_its_scripts_or_drops_the_connection(settings):
    """A restarted Redis has neither the limiter's script nor this process's
    connection: the next reservation loads the one and opens the other, and still counts
    against the quota."""
    if not settings.RATELIMIT_REDIS_URL:
        pytest.skip("no Redis configured")
    settings.RATELIMIT_GUARD_SECONDS = 0.0
    quotas, key = [Quota(3, 86_400.0, "day", calendar=True)], f"restarted-{uuid.uuid4()}"
    assert ratelimit_reserve(key=key, limits=quotas) == 0.0
    client = ratelimit_store._redis()
    client.script_flush()
    assert ratelimit_reserve(key=key, limits=quotas) == 0.0
    client.client_kill_filter(_id=client.client_id())
    assert ratelimit_reserve(key=key, limits=quotas) == 0.0
    assert ratelimit_reserve(key=key, limits=quotas) > 0  # three taken, none lost


def test_a_daily_quota_counts_calls_and_waits_for_the_next_utc_day(store):
    quotas = [Quota(3, 86_400.0, "day", calendar=True)]
    assert [ratelimit_reserve(key="daily", limits=quotas) for _ in range(3)] == [0.0] * 3
    wait = ratelimit_reserve(key="daily", limits=quotas)
    now = ratelimit_store.store_now()
    assert wait == pytest.approx(86_400 - now % 86_400, abs=2)


def test_every_quota_must_have_room_or_none_is_spent(store):
    quotas = [Quota(100, 1.0, "second"), Quota(2, 60.0, "minute")]
    assert ratelimit_reserve(key="both", limits=quotas) == 0.0
    state_after_first, _ = ratelimit_store.store_read(key="both")
    wait = ratelimit_reserve(key="both", limits=quotas)
    assert wait == pytest.approx(30, abs=0.5)  # the minute quota spaces calls 30 s apart
    # The refused call took no slot of the per-second quota either.
    state, _ = ratelimit_store.store_read(key="both")
    assert state["t:second"] == state_after_first["t:second"]


def test_time_comes_from_the_store_not_the_workers_clock(store):
    quotas = [Quota(2, 1.0, "second")]
    assert ratelimit_reserve(key="clock", limits=quotas) == 0.0
    skewed = time.time() + 3600  # this worker's clock is an hour fast
    with mock.patch("time.time", return_value=skewed):
        wait = ratelimit_reserve(key="clock", limits=quotas)
    assert 0.3 < wait <= 0.5  # still half a second: the store's clock decided


def test_a_429_pauses_the_credential_and_halves_its_rate(store, settings):
    settings.RATELIMIT_BACKOFF_SECONDS = 1.0
    gate = QuotaGate(key="limited", quotas=[Quota(10, 1.0, "second")])
    with pytest.raises(Throttled) as throttled:
        gate.after_call(status=429, headers={})
    assert throttled.value.reason == "rate limited by CRM (429)"
    status = ratelimit_status(key="limited")
    assert 1.5 < status.paused_for <= 2.0  # backoff 1 s / rate share 0.5
    assert status.rate_factor == pytest.approx(0.5, abs=0.01)
    # Every other caller of the credential waits out the pause too.
    assert ratelimit_reserve(key="limited", limits=gate.quotas) > 1.4


def test_retry_after_sets_the_pause(store):
    gate = QuotaGate(key="told", quotas=[Quota(10, 1.0, "second")])
    with pytest.raises(Throttled):
        gate.after_call(status=429, headers={"Retry-After": "7"})
    assert 6.5 < ratelimit_status(key="told").paused_for <= 7.0


def test_a_slot_further_than_a_second_away_throttles_instead_of_sleeping(store):
    gate = QuotaGate(key="busy", quotas=[Quota(1, 5.0, "5s")], max_wait=1.0)
    gate.before_call()
    started = time.monotonic()
    with pytest.raises(Throttled) as throttled:
        gate.before_call()
    assert time.monotonic() - started < 0.5  # no long sleep holding the delivery
    from django.utils import timezone

    ahead = (throttled.value.retry_at - timezone.now()).total_seconds()
    assert 4 < ahead <= 10  # the slot's wait, spread by up to as long again


def test_a_short_wait_is_slept_through(store):
    gate = QuotaGate(key="short", quotas=[Quota(5, 1.0, "second")])
    started = time.monotonic()
    for _ in range(3):
        gate.before_call()
    assert 0.35 < time.monotonic() - started < 1.0  # 0.2 s apart, no Throttled


def test_quota_headers_are_kept_for_the_account_page(store):
    gate = QuotaGate(key="headers", quotas=[Quota(10, 1.0, "second")])
    gate.after_call(
        status=200,
        headers={
            "x-keap-product-throttle-limit": "240",
            "x-keap-product-throttle-available": "231",
            "x-keap-product-throttle-time-unit": "minute",
            "x-keap-product-quota-limit": "30000",
            "x-keap-product-quota-available": "29000",
            "x-keap-product-quota-time-unit": "day",
        },
    )
    seen = {(q.window, q.limit, q.remaining) for q in ratelimit_status(key="headers").seen}
    assert seen == {("minute", 240, 231), ("day", 30000, 29000)}


def test_published_quotas_are_the_defaults_and_each_account_may_change_them():
    key_account = keap_account()
    assert {(q.label, q.limit, q.period) for q in account_quotas(key_account)} == {
        ("second", 10, 1.0),
        ("minute", 240, 60.0),
        ("day", 30_000, 86_400.0),
    }
    oauth = keap_account(name="OAuth", auth_type=AuthType.OAUTH)
    assert {(q.label, q.limit) for q in account_quotas(oauth)} == {
        ("second", 25),
        ("minute", 1_500),
        ("day", 150_000),
    }
    highlevel = keap_account(name="HL", crm=CrmKind.HIGHLEVEL, external_id="loc1")
    assert {(q.label, q.limit, q.period) for q in account_quotas(highlevel)} == {
        ("10s", 100, 10.0),
        ("day", 200_000, 86_400.0),
    }
    key_account.rate_limit_per_second, key_account.rate_limit_per_minute = 50, 3000
    assert {(q.label, q.limit) for q in account_quotas(key_account)} >= {
        ("second", 50),
        ("minute", 3000),
    }


def test_accounts_sharing_a_credential_share_its_limit():
    one, two = keap_account(name="One"), keap_account(name="Two")
    other = keap_account(name="Other", api_key="KeapAK-another-key")
    assert account_limit_key(one) == account_limit_key(two) != account_limit_key(other)
    assert "KeapAK" not in account_limit_key(one)  # keys are digests, never the secret


def test_the_quota_left_is_kept_at_most_once_a_second_per_key(store):
    gate = QuotaGate(key="often", quotas=[Quota(10, 1.0, "second")])

    def answered(available: str) -> None:
        gate.after_call(
            status=200,
            headers={
                "x-keap-product-throttle-limit": "240",
                "x-keap-product-throttle-available": available,
            },
        )

    answered("231")
    answered("230")  # a moment later: not kept
    [seen] = ratelimit_status(key="often").seen
    assert seen.remaining == 231


def test_the_calls_preparation_runs_once_while_the_store_decides(store):
    """The gate runs the request's preparation (`meanwhile`) with the first
    reservation, never again when a short wait makes it ask once more."""
    gate = QuotaGate(key=f"prepared-{uuid.uuid4()}", quotas=[Quota(5, 1.0, "second")])
    prepared = []
    gate.before_call(meanwhile=lambda: prepared.append("first"))
    gate.before_call(meanwhile=lambda: prepared.append("second"))  # waits 0.2 s, asks again
    assert prepared == ["first", "second"]


def test_with_redis_the_preparation_runs_between_the_command_and_its_answer(settings):
    if not settings.RATELIMIT_REDIS_URL:
        pytest.skip("no Redis configured")
    import redis

    events = []
    send, read = redis.Connection.send_packed_command, redis.Connection.read_response

    def sent(self, *args, **kwargs):
        events.append("sent")
        return send(self, *args, **kwargs)

    def answered(self, *args, **kwargs):
        events.append("answered")
        return read(self, *args, **kwargs)

    quotas = [Quota(100, 1.0, "second")]
    ratelimit_reserve(key="overlap", limits=quotas)  # the script is loaded
    with (
        mock.patch.object(redis.Connection, "send_packed_command", sent),
        mock.patch.object(redis.Connection, "read_response", answered),
    ):
        ratelimit_reserve(key="overlap", limits=quotas, meanwhile=lambda: events.append("prep"))
    assert events == ["sent", "prep", "answered"]


def test_a_preparation_that_fails_spends_the_slot_and_leaves_the_store_usable(store):
    quotas, key = [Quota(2, 86_400.0, "day", calendar=True)], f"failed-{uuid.uuid4()}"

    def fails():
        raise ValueError("the request could not be prepared")

    with pytest.raises(ValueError, match="could not be prepared"):
        ratelimit_reserve(key=key, limits=quotas, meanwhile=fails)
    taken = sum(ratelimit_reserve(key=key, limits=quotas) == 0.0 for _ in range(3))
    # Redis took the slot while the preparation ran (wasted, never one too many); the
    # database is asked after it, so nothing was taken. Either way the store answers.
    assert taken == (1 if store == "redis" else 2)


def test_the_preparation_runs_once_when_redis_forgot_its_script(settings):
    if not settings.RATELIMIT_REDIS_URL:
        pytest.skip("no Redis configured")
    quotas, key = [Quota(3, 86_400.0, "day", calendar=True)], f"forgot-{uuid.uuid4()}"
    ratelimit_reserve(key=key, limits=quotas)
    ratelimit_store._redis().script_flush()
    prepared = []
    assert ratelimit_reserve(key=key, limits=quotas, meanwhile=lambda: prepared.append(1)) == 0
    assert prepared == [1]
