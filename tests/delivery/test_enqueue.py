"""Wake-ups after commit: due deliveries are announced in batches, delayed retries alone."""

import time
from unittest import mock

import pytest
from django.db import transaction

from integrations.delivery import enqueue
from integrations.delivery.sweeper import delivery_sweep
from integrations.models import Delivery
from integrations.tasks import deliver_batch
from tests.factories import accept_lead, flow_with_step, wait_until


@pytest.mark.django_db(transaction=True)
def test_deliveries_committed_together_share_one_wake_up_message(settings):
    settings.DELIVERY_WAKEUP_WINDOW_SECONDS = 0.05
    with mock.patch("leadflow.celery.app.send_task") as publish:
        with transaction.atomic():
            for delivery_id in (11, 12, 13):
                enqueue.delivery_enqueue_on_commit(delivery_id=delivery_id)
            assert publish.call_count == 0  # nothing before commit
        deadline = time.monotonic() + 5
        while publish.call_count == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
    publish.assert_called_once_with(
        "integrations.tasks.deliver_batch", args=[[11, 12, 13]], countdown=None
    )


@pytest.mark.django_db(transaction=True)
def test_a_delayed_retry_is_published_alone_with_its_countdown():
    with mock.patch("leadflow.celery.app.send_task") as publish:
        enqueue.delivery_enqueue_on_commit(delivery_id=7, countdown=30)
    publish.assert_called_once_with("integrations.tasks.deliver", args=[7], countdown=30)


def test_a_batch_is_fanned_out_so_its_deliveries_run_in_parallel():
    with (
        mock.patch("leadflow.celery.app.send_task") as fan_out,
        mock.patch("integrations.tasks.delivery_attempt") as attempt,
    ):
        deliver_batch([1, 2, 3])
    assert [c.kwargs["args"] for c in fan_out.call_args_list] == [[2], [3]]
    attempt.assert_called_once_with(delivery_id=1)


@pytest.mark.django_db(transaction=True)
def test_a_broker_outage_loses_no_delivery_the_sweeper_enqueues_it_later(settings, caplog):
    """The lead and its delivery are committed before the wake-up is published: when the
    broker refuses the message, the delivery stays pending and due, and the next sweep
    publishes it again."""
    settings.DELIVERY_WAKEUP_WINDOW_SECONDS = 0.01
    flow, step, _ = flow_with_step()
    with mock.patch("leadflow.celery.app.send_task", side_effect=OSError("down")):
        lead = accept_lead(flow, {"email": "ann@example.com"})
        delivery = lead.deliveries.get()
        # The failed wake-up is logged and the delivery marked for the next sweep.
        wait_until(
            lambda: Delivery.objects.filter(pk=delivery.pk, woken_at__isnull=True).exists(),
            timeout=5,
            interval=0.01,
        )
    assert f"could not enqueue deliveries [{delivery.pk}]" in caplog.text
    delivery.refresh_from_db()
    assert (delivery.step, delivery.status, delivery.attempt_count) == (step, "pending", 0)
    with mock.patch("leadflow.celery.app.send_task") as publish:
        assert delivery_sweep() == [delivery.pk]
    publish.assert_called_once_with(enqueue.DELIVER, args=[delivery.pk], countdown=None)
