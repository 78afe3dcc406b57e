"""The replay's pacing: what a tick may release, on time and late, and what counts as
the account's queue."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import Delivery, DeliveryStatus
from integrations.replay.pacing import Pacing, outstanding, pacing_refill
from tests.factories import accept_lead, flow_with_step

RATE = 16.0  # the replay's share of an account allowing 20 calls/s


def refilled(*, after: float, tokens: float = 0.0) -> float:
    pacing = Pacing(tokens=tokens, at=1000.0, calls=10, deliveries=10)  # 1 call each
    return pacing_refill(pacing=pacing, rate=RATE, now=1000.0 + after).tokens


def test_a_tick_on_time_earns_its_interval_and_holds_no_more_than_a_tick(settings):
    settings.REPLAY_TICK_SECONDS = 0.25
    assert refilled(after=0.25) == pytest.approx(4.0)
    assert refilled(after=0.1, tokens=3.5) == pytest.approx(4.0)  # capped at one tick


def test_a_late_tick_is_credited_its_whole_interval_up_to_a_second(settings):
    settings.REPLAY_TICK_SECONDS = 0.25
    assert refilled(after=0.8) == pytest.approx(12.8)
    assert refilled(after=5.0) == pytest.approx(16.0)  # a long pause: one second's worth


def test_the_first_refill_fills_one_tick(settings):
    settings.REPLAY_TICK_SECONDS = 0.25
    first = pacing_refill(pacing=Pacing(calls=10, deliveries=10), rate=RATE, now=1000.0)
    assert first.tokens == pytest.approx(4.0)


@pytest.mark.django_db
def test_the_accounts_queue_is_its_due_deliveries_no_worker_has_taken():
    flow, step, _ = flow_with_step()
    due, taken, later = (accept_lead(flow, enqueue=False).deliveries.get() for _ in range(3))
    Delivery.objects.filter(pk=taken.pk).update(status=DeliveryStatus.IN_PROGRESS)
    Delivery.objects.filter(pk=later.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    assert outstanding(account_id=step.account_id, now=timezone.now(), limit=10) == 1
