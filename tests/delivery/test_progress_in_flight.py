"""A progress write between two CRM calls is sent without waiting, and answered just
before the next call goes out: the database writes it while the worker takes the call's
rate-limit slot and prepares the request (integrations.delivery.rows.rows_send).

What must hold all the same: the progress is written before the next call leaves, a
worker that lost its lease still stops before that call, a failed write fails as
Django's error, and nothing else that uses the connection meanwhile trips over it.
"""

from __future__ import annotations

import json
import re

import pytest
import responses
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from integrations.delivery.engine import delivery_attempt
from integrations.delivery.rows import (
    ASYNC_COMMIT,
    Statement,
    column,
    rows_batch,
    rows_send,
    rows_settle,
    update_statement,
)
from integrations.models import Attempt, Delivery, DeliveryStatus
from tests.factories import accept_lead, flow_with_step

pytestmark = pytest.mark.django_db(transaction=True)

BASE = "https://keap.test/crm"
CONTACTS = f"{BASE}/rest/v1/contacts"
UPSERTED = {
    "id": 5,
    "date_created": "2026-01-01T00:00:00.000Z",
    "last_updated": "2026-01-01T00:00:00.000Z",
}


@pytest.fixture(autouse=True)
def keap_at_test_host(settings):
    settings.KEAP_API_BASE_URL = BASE


@pytest.fixture
def tagged_delivery() -> Delivery:
    """A Keap REST upsert followed by a tags call: one progress write between them."""
    flow, _, _ = flow_with_step(tags=[100])
    return accept_lead(flow, {"email": "ann@example.com"}, enqueue=False).deliveries.get()


def lead_removed(delivery_id: int) -> Statement:
    """A write the database refuses: a delivery's lead is required."""
    return update_statement(
        Delivery, {"lead": None}, where=f"{column(Delivery, 'id')} = %s", params=[delivery_id]
    )


def written(delivery_id: int, reason: str) -> Statement:
    return update_statement(
        Delivery, {"reason": reason}, where=f"{column(Delivery, 'id')} = %s", params=[delivery_id]
    )


@responses.activate
def test_the_contact_is_saved_on_the_delivery_before_the_tags_call_goes_out(tagged_delivery):
    seen_by_the_tags_call = []

    def tags(request):
        seen_by_the_tags_call.append(Delivery.objects.get(pk=tagged_delivery.pk).progress)
        return (200, {}, '{"100": "SUCCESS"}')

    responses.put(CONTACTS, json=UPSERTED, status=201)
    responses.add_callback(responses.POST, f"{CONTACTS}/5/tags", callback=tags)
    delivery_attempt(delivery_id=tagged_delivery.pk)

    [progress] = seen_by_the_tags_call
    assert progress["done"]["contact"] == {"id": "5", "duplicate": False}
    tagged_delivery.refresh_from_db()
    assert (tagged_delivery.outcome, tagged_delivery.contact_id) == ("success", "5")


@responses.activate
def test_a_worker_whose_lease_was_taken_over_stops_before_its_next_call(tagged_delivery):
    """The upsert's answer comes back after another worker took the delivery over: the
    progress write that follows changes nothing, and the tags call is never made."""

    def upsert_while_taken_over(request):
        Delivery.objects.filter(pk=tagged_delivery.pk).update(lease_owner="another worker")
        return (201, {}, '{"id": 5}')

    responses.add_callback(responses.PUT, CONTACTS, callback=upsert_while_taken_over)
    tags = responses.post(f"{CONTACTS}/5/tags", json={"100": "SUCCESS"})
    delivery_attempt(delivery_id=tagged_delivery.pk)

    assert tags.call_count == 0
    tagged_delivery.refresh_from_db()
    assert (tagged_delivery.status, tagged_delivery.lease_owner) == (
        DeliveryStatus.IN_PROGRESS,
        "another worker",
    )
    assert tagged_delivery.progress == {}
    assert not Attempt.objects.filter(delivery=tagged_delivery).exists()


@responses.activate
def test_the_database_backed_rate_limiter_waits_for_a_write_in_flight(tagged_delivery, settings):
    """Without Redis the limiter keeps its state in the database, on the connection
    the progress write is still in flight on: it reads that write's answer first."""
    settings.RATELIMIT_REDIS_URL = ""
    responses.put(CONTACTS, json=UPSERTED, status=201)
    responses.post(f"{CONTACTS}/5/tags", json={"100": "SUCCESS"})
    delivery_attempt(delivery_id=tagged_delivery.pk)
    tagged_delivery.refresh_from_db()
    assert (tagged_delivery.outcome, tagged_delivery.contact_id) == ("success", "5")


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("batches are sent ahead of their answers on PostgreSQL")


def test_a_sent_batch_is_answered_before_the_connection_runs_anything_else(
    postgresql, tagged_delivery
):
    counted = []

    def count(execute, sql, params, many, context):
        counted.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        sent = rows_send([written(tagged_delivery.pk, "sent first")], durable=False)
    reason = "SELECT reason FROM integrations_delivery WHERE id = %s"
    [read] = rows_batch([Statement(reason, [tagged_delivery.pk])])
    assert read.rows == [("sent first",)]
    assert [answer.rowcount for answer in sent.answers()] == [1]
    assert b"sent first" in counted[-1]  # execute wrappers see a sent batch as any query


def test_a_sent_batch_that_fails_raises_django_s_error_and_leaves_the_connection_usable(
    postgresql, tagged_delivery
):
    breaks = lead_removed(tagged_delivery.pk)
    sent = rows_send([written(tagged_delivery.pk, "undone"), breaks])
    with pytest.raises(IntegrityError):  # the lead is required
        rows_settle()
    with pytest.raises(IntegrityError):  # and whoever waits for the answers is told too
        sent.answers()
    tagged_delivery.refresh_from_db()  # the ORM works on the same connection
    assert tagged_delivery.reason == ""  # the batch was undone as a whole


def test_inside_a_transaction_a_batch_runs_at_once(tagged_delivery):
    """In a transaction (and on SQLite) nothing is left in flight: the batch runs before
    rows_send returns, and fails there."""
    breaks = lead_removed(tagged_delivery.pk)
    with pytest.raises(IntegrityError), transaction.atomic():
        rows_send([breaks])
    with transaction.atomic():
        sent = rows_send([written(tagged_delivery.pk, "at once")])
        assert Delivery.objects.get(pk=tagged_delivery.pk).reason == "at once"
    assert [answer.rowcount for answer in sent.answers()] == [1]


def test_a_wait_for_answers_cut_short_leaves_a_connection_that_works(
    postgresql, tagged_delivery, monkeypatch
):
    """A time limit (or any interruption) while the answers are read: the connection is
    closed rather than left with answers unread, and the next query reconnects."""
    sent = rows_send([written(tagged_delivery.pk, "cut short")])

    def interrupted(pgconn):
        raise KeyboardInterrupt

    monkeypatch.setattr("integrations.delivery.rows._results", interrupted)
    with pytest.raises(KeyboardInterrupt):
        rows_settle()
    monkeypatch.undo()
    with pytest.raises(KeyboardInterrupt):
        sent.answers()
    assert connection.connection is None
    assert Delivery.objects.filter(pk=tagged_delivery.pk).exists()


def test_a_batch_in_a_transaction_is_undone_with_it(tagged_delivery):
    """Inside a transaction a batch is part of it (psycopg's cursor begins it), not a
    transaction of its own: it is rolled back with the rest."""

    class Undo(Exception):
        pass

    rows_batch([written(tagged_delivery.pk, "")])  # prepared already: nothing else begins it
    with pytest.raises(Undo), transaction.atomic():
        rows_batch([written(tagged_delivery.pk, "undone with the transaction")])
        raise Undo
    tagged_delivery.refresh_from_db()
    assert tagged_delivery.reason == ""


def test_a_batch_that_fails_raises_django_s_error_and_leaves_the_connection_usable(
    tagged_delivery,
):
    breaks = lead_removed(tagged_delivery.pk)
    with pytest.raises(IntegrityError):
        rows_batch([written(tagged_delivery.pk, "undone"), breaks])
    tagged_delivery.refresh_from_db()
    assert tagged_delivery.reason == ""


def test_batches_are_in_django_s_query_log(postgresql, tagged_delivery):
    with CaptureQueriesContext(connection) as log:
        rows_batch([written(tagged_delivery.pk, "logged")])
        rows_send([written(tagged_delivery.pk, "logged too")]).answers()
    logged = [q["sql"] for q in log.captured_queries if not q["sql"].startswith("PREPARE")]
    assert len(logged) == 2
    assert "'logged'" in logged[0] and "'logged too'" in logged[1]


@responses.activate
def test_a_sent_mark_commits_durably_and_a_completed_result_does_not(postgresql):
    """A note is not repeated blindly: a retry looks for it first, but only because
    its sent mark says that an earlier try may have added it. The write that carries
    the mark commits durably (answered before the note goes out), so the mark survives
    even a crash of the database server; a completed result, whose loss costs no more
    than an idempotent call made again, commits asynchronously."""
    flow, _, _ = flow_with_step(tags=[100])
    delivery = accept_lead(
        flow, {"email": "ann@example.com", "comments": "Hi"}, enqueue=False
    ).deliveries.get()
    responses.put(CONTACTS, json=UPSERTED, status=201)
    responses.post(f"{BASE}/rest/v1/notes", json={"id": 9})
    responses.post(f"{CONTACTS}/5/tags", json={"100": "SUCCESS"})
    with CaptureQueriesContext(connection) as log:
        delivery_attempt(delivery_id=delivery.pk)

    progress_writes = [
        (commit_of(sql), sorted(state["done"]), state["sent"])
        for sql in (q["sql"] for q in log.captured_queries)
        for state in map(json.loads, re.findall(r"'(\{\"done\".*?\})'::jsonb", sql))
    ]
    assert progress_writes == [
        ("durable", ["contact"], ["note"]),  # answered before the note goes out
        ("async", ["contact", "note"], []),
        ("durable", ["contact", "note", "tags"], []),  # with the outcome
    ]


def commit_of(batch: str) -> str:
    return "async" if batch.startswith(ASYNC_COMMIT) else "durable"
