"""The HighLevel sandbox remembers its committed location (every API request needs it)
and reads it again after a reset, a change of its settings or a flush."""

from __future__ import annotations

import pytest
from django.core.management.sql import emit_post_migrate_signal
from django.db import transaction

from integrations.sandbox.highlevel import faults, seed
from integrations.sandbox.highlevel.models import Location

from .test_highlevel_control import LOCATION, api, control

pytestmark = pytest.mark.django_db


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """The sandbox seeded and its on-commit memo run, as outside a test transaction."""
    with django_capture_on_commit_callbacks(execute=True):
        location = seed.ensure_seeded()
    return location


def test_a_committed_location_is_served_without_a_query(committed, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert seed.ensure_seeded().pk == committed.pk


def test_a_seeding_not_yet_committed_is_not_remembered(django_assert_num_queries):
    with transaction.atomic():
        seed.ensure_seeded()  # its on-commit never runs inside the test's transaction
    with django_assert_num_queries(1):
        seed.ensure_seeded()


def test_the_sandbox_reset_reads_the_location_again(committed, django_assert_num_queries):
    faults.reset()
    with django_assert_num_queries(1):
        seed.ensure_seeded()


def test_a_flush_reads_the_location_again(committed, django_assert_num_queries):
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")  # as flush does
    with django_assert_num_queries(1):
        seed.ensure_seeded()


def test_a_location_setting_changed_by_control_is_seen_at_once(
    client, committed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        control(client, "location", {"allow_duplicates": True})
        body = {"locationId": LOCATION, "email": "twice@example.com"}
        assert [api(client, "POST", "contacts/", body).status_code for _ in range(2)] == [201, 201]
        control(client, "location", {"allow_duplicates": False})
        answer = api(client, "POST", "contacts/", body)
    assert answer.status_code == 400
    assert answer.json()["meta"]["matchingField"] == "email"
    assert Location.objects.get(pk=LOCATION).allow_duplicates is False
