"""Wake-ups after commit: due deliveries are announced in batches, delayed retries alone."""

import time
from unittest import mock

import pytest
from django.db import transaction

from integrations.delivery import enqueue
from integrations.tasks import deliver_batch


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
def test_a_broker_outage_loses_no_delivery_it_only_logs(settings, caplog):
    settings.DELIVERY_WAKEUP_WINDOW_SECONDS = 0.01
    with mock.patch("leadflow.celery.app.send_task", side_effect=OSError("down")):
        enqueue.delivery_enqueue_on_commit(delivery_id=99)
        deadline = time.monotonic() + 5
        while "sweeper will retry" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.01)
    assert "could not enqueue deliveries [99]" in caplog.text
