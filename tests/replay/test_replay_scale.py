"""A replay of 100,000 deliveries is recorded in batches and can be cancelled."""

import time

import pytest
from django.db import connection

from integrations.models import Delivery, ItemState, Replay, ReplayItem
from integrations.replay.services import ReplayRequest, replay_cancel, replay_create
from tests.factories import flow_with_step

pytestmark = pytest.mark.django_db

N = 100_000


def many_failures(step, n: int) -> None:
    """n leads with a failed delivery each, written by PostgreSQL itself."""
    source = step.flow.sources.get()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO integrations_lead (id, flow_id, source_id, payload, fields, email,"
            " status, received_at)"
            " SELECT gen_random_uuid(), %s, %s, '{}', '{}', '', 'done', now()"
            " FROM generate_series(1, %s)",
            [step.flow_id, source.pk, n],
        )
        cursor.execute(
            "INSERT INTO integrations_delivery (lead_id, step_id, status, outcome, reason,"
            " contact_id, attempt_count, next_attempt_at, lease_owner, created_at,"
            " finished_at)"
            " SELECT id, %s, 'done', 'failure', 'rejected', '', 1, now(), '', now(), now()"
            " FROM integrations_lead WHERE flow_id = %s",
            [step.pk, step.flow_id],
        )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="bulk rows via generate_series")
def test_a_replay_of_100000_deliveries_is_recorded_and_cancelled(admin_user):
    _, step, _ = flow_with_step()
    many_failures(step, N)

    began = time.monotonic()
    replay = replay_create(
        user=admin_user,
        request=ReplayRequest(kind="filter", deliveries=Delivery.objects.filter(step=step)),
    )
    created_in = time.monotonic() - began

    assert replay.total == N == ReplayItem.objects.filter(replay=replay).count()
    assert replay.pacing == {str(step.account_id): {}}
    assert created_in < 60, created_in
    assert replay_cancel(replay_id=replay.pk, user=admin_user) == N
    replay = Replay.objects.get(pk=replay.pk)
    assert replay.cancelled == N and replay.left == 0
    assert not ReplayItem.objects.filter(replay=replay, state=ItemState.QUEUED).exists()
