"""One tick of a replay, in this process (no worker): what a release writes, what it
publishes, and what the next tick collects."""

import contextlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations.models import DailyCounter, Delivery, ItemState, Outcome, ReplayItem
from integrations.replay import wake
from integrations.replay.services import ReplayRequest, replay_create
from integrations.replay.tick import replay_tick
from tests.factories import failed_delivery, flow_with_step, keap_account

pytestmark = pytest.mark.django_db


def failures(n: int, *, rate: int = 400):
    """n failed deliveries of one step whose account allows `rate` calls/s (enough for
    one tick to release them all)."""
    account = keap_account(rate_limit_per_second=rate, rate_limit_per_minute=60 * rate)
    flow, step, _ = flow_with_step(account=account)
    for k in range(n):
        failed_delivery(flow, {"first_name": "T", "email": f"tick{k}@example.com"})
    return step


def replay_of(step):
    return replay_create(
        user=None,
        request=ReplayRequest(kind="filter", deliveries=Delivery.objects.filter(step=step)),
    )


@pytest.fixture
def published(monkeypatch):
    """The wake-ups the ticks publish: (delivery id, options) per message."""
    sent: list[tuple[int, dict]] = []
    monkeypatch.setattr(wake.app, "producer_or_acquire", lambda: contextlib.nullcontext())
    monkeypatch.setattr(
        wake.app,
        "send_task",
        lambda name, args, producer=None, **options: sent.append((args[0], options)),
    )
    return sent


def test_a_release_resets_the_deliveries_keeps_their_old_run_and_uncounts_it(
    published, django_capture_on_commit_callbacks
):
    step = failures(3)
    assert DailyCounter.objects.get(outcome=Outcome.FAILURE).deliveries == 3
    replay = replay_of(step)

    with django_capture_on_commit_callbacks(execute=True):
        assert replay_tick(replay_id=replay.pk).released == 3

    for item in ReplayItem.objects.filter(replay=replay):
        assert item.state == ItemState.RELEASED
        assert (item.previous_outcome, item.previous_attempt_count) == (Outcome.FAILURE, 1)
        assert item.previous_finished_at is not None and item.released_at is not None
    deliveries = Delivery.objects.filter(step=step)
    assert {(d.status, d.outcome, d.attempt_count) for d in deliveries} == {("pending", "", 0)}
    assert all(d.woken_at == d.next_attempt_at for d in deliveries)
    assert not DailyCounter.objects.filter(outcome=Outcome.FAILURE).exists()
    assert sorted(i for i, _ in published) == sorted(d.pk for d in deliveries)


def test_a_tick_costs_the_same_statements_for_3_deliveries_as_for_15(published):
    counts = []
    for n in (3, 15):
        replay = replay_of(failures(n))
        with CaptureQueriesContext(connection) as queries:
            assert replay_tick(replay_id=replay.pk).released == n
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_replayed_deliveries_are_published_behind_live_leads_on_redis(published, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
    assert wake.replay_wake(delivery_ids=[7, 8])
    assert published == [(7, {"priority": 9}), (8, {"priority": 9})]


def test_other_brokers_get_no_priority_they_might_read_the_other_way(published, settings):
    settings.CELERY_BROKER_URL = "amqp://guest@127.0.0.1//"
    assert wake.replay_wake(delivery_ids=[7])
    assert published == [(7, {})]


def test_a_wake_up_the_broker_refused_is_left_to_the_sweeper_at_once(monkeypatch):
    step = failures(1)
    delivery = Delivery.objects.get(step=step)

    def refuse(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(wake.app, "producer_or_acquire", refuse)
    assert not wake.replay_wake(delivery_ids=[delivery.pk])
    delivery.refresh_from_db()
    assert delivery.woken_at is None


def test_the_next_tick_copies_each_new_run_into_its_item(published):
    step = failures(4)
    replay = replay_of(step)
    replay_tick(replay_id=replay.pk)
    Delivery.objects.filter(step=step).update(
        status="done", outcome=Outcome.SUCCESS, reason="", finished_at=timezone.now()
    )

    result = replay_tick(replay_id=replay.pk)

    assert (result.harvested, result.active) == (4, False)
    replay.refresh_from_db()
    assert (replay.state, replay.finished, replay.outcomes) == ("finished", 4, {"success": 4})
    items = ReplayItem.objects.filter(replay=replay)
    assert {(i.state, i.outcome, i.finished_at is not None) for i in items} == {
        (ItemState.DONE, Outcome.SUCCESS, True)
    }
