"""Health counters: one upsert per finished delivery, equal to what the raw rows say."""

import random
import threading
from datetime import timedelta

import pytest
import responses
from django.db import connection, transaction
from django.utils import timezone

from integrations.delivery.engine import delivery_attempt
from integrations.health.counters import (
    counters_forget,
    counters_record,
    day_start,
    tallies_from_counters,
    tallies_from_deliveries,
    utc_day,
)
from integrations.health.figures import Figures
from integrations.health.latency import bucket_range, latency_bucket
from integrations.models import LATENCY_BOUNDS_MS, DailyCounter, Delivery, Outcome
from tests.factories import accept_lead, finished_delivery, flow_with_step

KEAP = "https://keap.test/crm"


def as_dict(rows):
    return {row.key: row.tally for row in rows}


@pytest.fixture
def step():
    return flow_with_step()[1]


@pytest.mark.django_db
def test_counters_equal_the_raw_rows_for_every_outcome_duplicates_and_latencies(step):
    rng = random.Random(7)
    now = timezone.now()
    yesterday = now - timedelta(days=1)
    cases = [
        (Outcome.SUCCESS, "", True),
        (Outcome.SUCCESS, "", False),
        (Outcome.FAILURE, "duplicate email rejected", True),
        (Outcome.FAILURE, "invalid email", None),
        (Outcome.ERROR, "timeout", None),
        (Outcome.SKIP, "no email or phone", None),
    ]
    for moment in (now, yesterday):
        for outcome, reason, duplicate in cases:
            for _ in range(rng.randint(1, 6)):
                ms = None if outcome == Outcome.SKIP else rng.randint(5, 6000)
                delivery = finished_delivery(
                    step,
                    outcome=outcome,
                    reason=reason,
                    duplicate=duplicate,
                    response_ms=ms,
                    finished_at=moment,
                )
                counters_record(delivery=delivery)

    first, last = utc_day(yesterday), utc_day(now)
    stored = as_dict(tallies_from_counters(first_day=first, last_day=last))
    actual = as_dict(
        tallies_from_deliveries(start=day_start(first), end=day_start(last + timedelta(days=1)))
    )
    assert stored == actual
    assert {key.outcome for key in stored} == set(Outcome.values)
    assert sum(t.duplicates for t in stored.values()) > 0
    timed = Delivery.objects.filter(response_ms__isnull=False)
    assert sum(t.timed for t in stored.values()) == timed.count() > 0


@pytest.mark.django_db
def test_p95_from_the_histogram_is_within_one_bucket_of_the_exact_value(step):
    rng = random.Random(3)
    times = [int(rng.lognormvariate(6, 0.6)) for _ in range(400)]
    for ms in times:
        counters_record(delivery=finished_delivery(step, outcome=Outcome.SUCCESS, response_ms=ms))
    figures = Figures.of(
        tallies_from_counters(first_day=utc_day(timezone.now()), last_day=utc_day(timezone.now()))
    )
    for quantile in (0.50, 0.95, 0.99):
        exact = sorted(times)[int(quantile * len(times)) - 1]
        estimate = figures.percentile_ms(quantile)
        assert abs(latency_bucket(round(estimate)) - latency_bucket(exact)) <= 1, (
            quantile,
            exact,
            estimate,
        )
    assert figures.avg_ms == pytest.approx(sum(times) / len(times))


def test_latency_buckets_are_inclusive_upper_bounds():
    assert latency_bucket(0) == 0
    assert latency_bucket(LATENCY_BOUNDS_MS[0]) == 0
    assert latency_bucket(LATENCY_BOUNDS_MS[0] + 1) == 1
    assert latency_bucket(10**7) == len(LATENCY_BOUNDS_MS)
    assert bucket_range(1) == (LATENCY_BOUNDS_MS[0], LATENCY_BOUNDS_MS[1])


@pytest.mark.django_db
def test_a_counter_rolls_back_with_the_outcome_it_counts(step):
    delivery = finished_delivery(step, outcome=Outcome.SUCCESS, response_ms=120)
    with pytest.raises(RuntimeError), transaction.atomic():
        counters_record(delivery=delivery)
        raise RuntimeError("the outcome's transaction fails")
    assert not DailyCounter.objects.exists()


@pytest.mark.django_db
@responses.activate
def test_the_engine_counts_a_final_outcome_and_not_a_retry(settings):
    settings.KEAP_API_BASE_URL = KEAP
    flow, step, _ = flow_with_step(action="create")
    contacts = f"{KEAP}/rest/v1/contacts"
    responses.post(contacts, status=503)
    retried = accept_lead(flow, {"email": "a@b.co"}, enqueue=False).deliveries.get()
    delivery_attempt(delivery_id=retried.pk)  # a 503: to be retried, no outcome yet
    assert not DailyCounter.objects.exists()

    responses.replace(responses.POST, contacts, json={"id": 9}, status=201)
    delivery = accept_lead(flow, {"email": "c@d.co"}, enqueue=False).deliveries.get()
    delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    counter = DailyCounter.objects.get()
    assert (counter.step_id, counter.flow_id, counter.account_id) == (
        step.pk,
        flow.pk,
        step.account_id,
    )
    assert (counter.outcome, counter.deliveries, counter.timed) == (Outcome.SUCCESS, 1, 1)
    assert counter.response_ms_sum == delivery.response_ms
    assert counter.day == delivery.finished_at.date()


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_lose_a_count(step):
    deliveries = [
        finished_delivery(step, outcome=Outcome.FAILURE, reason="invalid email", response_ms=80)
        for _ in range(40)
    ]
    errors = []

    def record(chunk):
        try:
            for delivery in chunk:
                with transaction.atomic():
                    counters_record(delivery=delivery)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=record, args=(deliveries[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    counter = DailyCounter.objects.get()
    assert (counter.deliveries, counter.timed, counter.response_ms_sum) == (40, 40, 3200)


@pytest.mark.django_db
def test_a_replayed_delivery_is_counted_once_for_its_new_outcome(step):
    delivery = finished_delivery(step, outcome=Outcome.ERROR, reason="timeout", response_ms=900)
    counters_record(delivery=delivery)
    with transaction.atomic():  # a replay clears the outcome…
        counters_forget(delivery=delivery)
        Delivery.objects.filter(pk=delivery.pk).update(outcome=Outcome.SUCCESS, reason="")
    delivery.refresh_from_db()
    counters_record(delivery=delivery)  # …and the engine records the new one
    rows = {(c.outcome, c.deliveries, c.timed) for c in DailyCounter.objects.all()}
    assert rows == {(Outcome.SUCCESS, 1, 1)}
    today = utc_day(timezone.now())
    stored = as_dict(tallies_from_counters(first_day=today, last_day=today))
    assert stored == as_dict(
        tallies_from_deliveries(start=day_start(today), end=day_start(today + timedelta(days=1)))
    )
