"""Crash and outage safety, the parts that are configuration and timing: one message
at a time per worker process, acknowledged only after the work (so a killed worker's
message is delivered again), and a broker that hangs never holds up intake."""

from __future__ import annotations

import threading
import time
from unittest import mock

import pytest
from django.conf import settings

from integrations.models import Lead
from tests.factories import flow_with_step


def test_a_worker_takes_one_message_at_a_time_and_acknowledges_it_after_the_work():
    from leadflow.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


@pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis"), reason="Redis transport options"
)
def test_every_publish_to_redis_is_bounded_in_time():
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    assert options["socket_timeout"] <= 5 and options["socket_connect_timeout"] <= 2
    assert settings.CELERY_BROKER_CONNECTION_TIMEOUT <= 2


@pytest.mark.django_db(transaction=True)
def test_intake_answers_at_once_while_the_broker_hangs(client, settings):
    """Wake-ups are published off the request's path: a broker that accepts the
    connection and never answers holds no request, and the wake-ups still go out when
    it answers again."""
    settings.DELIVERY_WAKEUP_WINDOW_SECONDS = 0.01
    flow, _, key = flow_with_step()
    released = threading.Event()
    published: list[int] = []

    def hang(name, args, **kwargs):
        released.wait(60)
        published.extend(args[0])

    # Every publish goes through the app's send_task (integrations.delivery.enqueue):
    # none reaches the real broker, so the suite's worker does not deliver these leads
    # while the test's tables are emptied.
    with mock.patch("integrations.delivery.enqueue.app.send_task", side_effect=hang):
        started = time.monotonic()
        for n in range(5):
            response = client.post(
                f"/api/v1/flows/{flow.pk}/leads",
                {"email": f"hang{n}@example.com"},
                content_type="application/json",
                headers={"X-Api-Key": key},
            )
            assert response.status_code == 202
        elapsed = time.monotonic() - started
        released.set()
        deadline = time.monotonic() + 10
        while len(published) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert elapsed < 20  # a publish on the request's path would hold each one 60 s
    stored = Lead.objects.filter(flow=flow)
    assert stored.count() == 5
    assert sorted(published) == sorted(stored.values_list("deliveries__id", flat=True))
