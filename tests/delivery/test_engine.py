"""The delivery engine in-process: claim and lease, outcomes, retries, holds, the sweeper.

The CRM is faked with `responses` at the HTTP seam; the real-worker, real-sandbox
path is in test_worker_end_to_end.py.
"""

import threading
import time
from datetime import timedelta
from unittest import mock

import pytest
import requests
import responses
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations.delivery.claim import delivery_claim
from integrations.delivery.engine import delivery_attempt
from integrations.delivery.load import delivery_claim_load, delivery_load
from integrations.delivery.rows import Statement, column, rows_batch, update_statement
from integrations.delivery.sweeper import delivery_sweep
from integrations.mapping.selectors import step_parts_raw
from integrations.models import (
    AccountStatus,
    Attempt,
    DailyCounter,
    Delivery,
    DeliveryStatus,
    LeadStatus,
    OnError,
    Step,
)
from tests.factories import accept_lead, flow_with_step, keap_account

BASE = "https://keap.test/crm"
CONTACTS = f"{BASE}/rest/v1/contacts"


@pytest.fixture(autouse=True)
def keap_at_test_host(settings):
    settings.KEAP_API_BASE_URL = BASE
    settings.DELIVERY_RETRY_SCHEDULE = "1s, 1s, 1s, 1s, 1s"


def new_delivery(step_source, fields=None) -> Delivery:
    flow, _, _ = step_source
    return accept_lead(flow, fields or {"email": "a@b.co"}, enqueue=False).deliveries.get()


@pytest.fixture
def create_step():
    return flow_with_step(action="create")


@pytest.mark.django_db
@responses.activate
def test_a_created_contact_is_a_success_with_its_id_and_attempt(create_step):
    responses.post(CONTACTS, json={"id": 77}, status=201)
    delivery = new_delivery(create_step)
    delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.outcome, delivery.contact_id, delivery.duplicate) == (
        DeliveryStatus.DONE,
        "success",
        "77",
        False,
    )
    assert delivery.response_ms is not None and delivery.attempt_count == 1
    attempt = Attempt.objects.get(delivery=delivery)
    assert (attempt.method, attempt.status_code) == ("POST", 201)
    assert "a@b.co" in attempt.request_body
    assert delivery.lead.__class__.objects.get(pk=delivery.lead_id).status == LeadStatus.DONE


@pytest.mark.django_db
@responses.activate
@pytest.mark.parametrize(
    "status, outcome, reason",
    [
        (400, "failure", "invalid request"),
        (409, "failure", "duplicate contact rejected"),
        (401, "error", "authentication rejected"),
    ],
)
def test_final_answers_are_recorded_without_retry(create_step, status, outcome, reason):
    responses.post(
        CONTACTS, json={"message": "Input could not be converted to a valid request"}, status=status
    )
    delivery = new_delivery(create_step)
    delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.outcome, delivery.reason) == (
        DeliveryStatus.DONE,
        outcome,
        reason,
    )
    assert delivery.attempt_count == 1


@pytest.mark.django_db
@responses.activate
@pytest.mark.parametrize(
    "answer",
    [
        {"status": 503, "json": {}},
        {"status": 429, "json": {}},
        {"body": requests.Timeout()},
        {"body": requests.ConnectionError()},
    ],
    ids=["5xx", "429", "timeout", "connection"],
)
def test_transient_errors_are_retried_later_with_backoff(create_step, answer):
    responses.post(CONTACTS, **answer)
    delivery = new_delivery(create_step)
    before = timezone.now()
    delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.outcome == ""
    assert delivery.next_attempt_at > before + timedelta(seconds=0.5)
    assert delivery.lease_owner == ""


@pytest.mark.django_db
@responses.activate
@pytest.mark.parametrize(
    ("answer", "in_flight"),
    [
        (requests.ReadTimeout(), True),
        (requests.ConnectionError("reset"), True),
        (requests.ConnectTimeout(), False),
    ],
    ids=["read timeout", "dropped connection", "never connected"],
)
def test_a_request_left_unanswered_is_retried_only_after_the_crm_could_finish_it(
    create_step, settings, answer, in_flight
):
    """The CRM may still be working on a request its client gave up on: the retry (and
    its look-before-create) waits twice the read timeout, whatever the schedule says."""
    settings.CRM_READ_TIMEOUT = 3.0  # the schedule's first wait is 1 s
    responses.post(CONTACTS, body=answer)
    delivery = new_delivery(create_step)
    before = timezone.now()
    delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert delivery.status == DeliveryStatus.PENDING
    assert (wait >= 6.0) is in_flight, wait


@pytest.mark.django_db
@responses.activate
def test_the_last_allowed_try_records_the_final_error(create_step, settings):
    settings.DELIVERY_RETRY_SCHEDULE = "1s"  # two attempts
    responses.post(CONTACTS, status=503, json={})
    responses.get(CONTACTS, json={"contacts": []})
    delivery = new_delivery(create_step)
    for _ in range(2):
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.outcome, delivery.reason, delivery.attempt_count) == (
        DeliveryStatus.DONE,
        "error",
        "CRM server error (503)",
        2,
    )
    tries = Attempt.objects.filter(delivery=delivery, method="POST").values_list(
        "number", flat=True
    )
    assert sorted(tries) == [1, 2]


@pytest.mark.django_db
@responses.activate
def test_a_retry_of_a_create_adopts_the_contact_the_first_try_made(create_step):
    responses.post(CONTACTS, body=requests.Timeout())
    delivery = new_delivery(create_step)
    delivery_attempt(delivery_id=delivery.pk)
    responses.replace(responses.POST, CONTACTS, json={"id": 999}, status=201)
    responses.get(CONTACTS, json={"contacts": [{"id": 31, "given_name": "", "family_name": ""}]})
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.outcome, delivery.contact_id) == ("success", "31")
    posts = [c for c in responses.calls if c.request.method == "POST"]
    assert len(posts) == 1  # only the first, timed-out try


@pytest.mark.django_db
def test_a_lead_without_email_or_phone_is_skipped_without_a_request(create_step):
    delivery = new_delivery(create_step, {"first_name": "Ann"})
    with responses.RequestsMock() as mocked:  # any request would fail the test
        delivery_attempt(delivery_id=delivery.pk)
        assert len(mocked.calls) == 0
    delivery.refresh_from_db()
    assert (delivery.outcome, delivery.reason) == ("skip", "email or phone required")


@pytest.mark.django_db
def test_an_account_needing_reconnect_holds_its_deliveries(create_step):
    _, step, _ = create_step
    step.account.status = AccountStatus.NEEDS_RECONNECT
    step.account.save()
    delivery = new_delivery(create_step)
    delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.outcome, delivery.reason) == (
        DeliveryStatus.HELD,
        "",
        "account needs reconnect",
    )
    assert delivery.attempt_count == 0  # waiting for a reconnect is not a try


@pytest.mark.django_db
@responses.activate
def test_the_next_step_gets_its_delivery_and_a_stop_step_stops_the_flow(create_step):
    flow, step, _ = create_step
    second = Step.objects.create(
        flow=flow,
        position=2,
        name="Second",
        account=keap_account(name="k2"),
        recipient="keap_rest",
        action="create",
    )
    responses.post(CONTACTS, json={"id": 1}, status=201)
    delivery = new_delivery(create_step)
    delivery_attempt(delivery_id=delivery.pk)
    assert Delivery.objects.filter(lead=delivery.lead, step=second, status="pending").exists()

    step.on_error = OnError.STOP
    step.save()
    responses.replace(responses.POST, CONTACTS, json={}, status=400)
    stopped = new_delivery(create_step)
    delivery_attempt(delivery_id=stopped.pk)
    assert not Delivery.objects.filter(lead=stopped.lead, step=second).exists()
    stopped.lead.refresh_from_db()
    assert stopped.lead.status == LeadStatus.DONE


@pytest.mark.django_db
def test_a_claim_is_exclusive_until_the_lease_runs_out(create_step):
    delivery = new_delivery(create_step)
    now = timezone.now()
    assert delivery_claim(delivery_id=delivery.pk, owner="a", now=now)
    assert not delivery_claim(delivery_id=delivery.pk, owner="b", now=now)
    later = now + timedelta(seconds=10_000)
    assert delivery_claim(delivery_id=delivery.pk, owner="b", now=later)


@pytest.mark.django_db(transaction=True)
def test_claim_and_load_take_the_lease_and_read_the_step_configuration():
    """The engine claims and loads in one batch (one round trip on PostgreSQL), with the
    step's configuration rows as the cache compares them."""
    configured = flow_with_step(mappings=[("utm_source", "_Source")], tags=[103])
    delivery = new_delivery(configured)
    now = timezone.now()
    loaded = delivery_claim_load(delivery_id=delivery.pk, owner="a", now=now)
    assert loaded is not None
    assert delivery_claim_load(delivery_id=delivery.pk, owner="b", now=now) is None
    assert (loaded.delivery.pk, loaded.delivery.lease_owner) == (delivery.pk, "a")
    assert loaded.delivery.step.flow.pk == configured[0].pk
    assert [row[0] for row in loaded.config_parts] == ["m", "t"]  # the mapping, the tag
    assert loaded.config_parts == step_parts_raw(step_id=loaded.delivery.step_id)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.lease_owner, delivery.attempt_count) == (
        DeliveryStatus.IN_PROGRESS,
        "a",
        1,
    )


@pytest.mark.django_db
def test_a_loaded_delivery_is_what_the_orm_would_load(create_step):
    """The engine builds the delivery, its lead, step, flow, account and source from
    its own SELECT: each is the ORM's instance, field for field (secrets decrypted),
    saved state included, and the lead's raw payload loads only when asked."""
    delivery = new_delivery(create_step, {"email": "a@b.co", "first_name": "Ada"})
    loaded = delivery_load(delivery_id=delivery.pk)
    assert loaded is not None
    orm = Delivery.objects.select_related("lead__source", "step__flow", "step__account").get(
        pk=delivery.pk
    )
    with CaptureQueriesContext(connection) as reads:  # all attached: no query
        pairs = [
            (loaded.delivery, orm),
            (loaded.delivery.lead, orm.lead),
            (loaded.delivery.lead.source, orm.lead.source),
            (loaded.delivery.step, orm.step),
            (loaded.delivery.step.flow, orm.step.flow),
            (loaded.delivery.step.account, orm.step.account),
        ]
    assert reads.captured_queries == []
    for made, expected in pairs:
        for field in type(expected)._meta.concrete_fields:
            if field.attname == "payload":
                continue
            assert getattr(made, field.attname) == getattr(expected, field.attname), field
        assert (made._state.adding, made._state.db) == (False, "default")
    assert loaded.delivery.step.account.api_key == orm.step.account.api_key != ""
    lead = loaded.delivery.lead
    assert lead.get_deferred_fields() == {"payload"}
    assert lead.payload == orm.lead.payload
    lead.status = "done"
    lead.save(update_fields=["status"])  # saved as an instance the ORM loaded would be
    assert Delivery.objects.get(pk=delivery.pk).lead.status == "done"


def prepared_statements() -> dict[str, str]:
    """The statements this session's connection holds prepared (PostgreSQL), by name."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, statement FROM pg_prepared_statements")
        return dict(cursor.fetchall())


@pytest.mark.django_db
@responses.activate
def test_the_engines_statements_are_planned_once_per_connection_the_orms_never(create_step):
    """PostgreSQL plans the claim, the load and the outcome's writes once per connection
    (prepared statements); a second delivery prepares nothing new, and the ORM's own
    queries are never prepared."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    responses.post(CONTACTS, json={"id": 77}, status=201)
    first, second = new_delivery(create_step), new_delivery(create_step)
    delivery_attempt(delivery_id=first.pk)
    after_one = prepared_statements()
    delivery_attempt(delivery_id=second.pk)
    for _ in range(10):
        Delivery.objects.filter(pk=first.pk, outcome="success").exists()

    texts = list(after_one.values())
    claim = [t for t in texts if 'AS UPDATE "integrations_delivery" SET "status"' in t]
    assert len(claim) == 1 and "$1" in claim[0]  # values bound on the server
    assert any('AS INSERT INTO "integrations_attempt"' in t for t in texts)
    assert all(name.startswith("leadflow_") for name in after_one)
    assert prepared_statements() == after_one
    second.refresh_from_db()
    assert (second.outcome, second.contact_id) == ("success", "77")


@pytest.mark.django_db
@responses.activate
def test_with_prepared_statements_off_the_engine_prepares_nothing(create_step, settings):
    """DATABASE_PREPARED_STATEMENTS=false (behind a pooler that cannot keep them):
    deliveries work, with nothing prepared."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    settings.DATABASE_PREPARED_STATEMENTS = False
    responses.post(CONTACTS, json={"id": 77}, status=201)
    delivery = new_delivery(create_step)
    before = prepared_statements()  # the session may hold some from earlier tests
    delivery_attempt(delivery_id=delivery.pk)
    assert prepared_statements() == before
    delivery.refresh_from_db()
    assert (delivery.outcome, delivery.contact_id) == ("success", "77")


@pytest.mark.django_db(transaction=True)
def test_writes_between_crm_calls_commit_asynchronously_and_only_they():
    """The claim and the progress between calls go out behind SET LOCAL
    synchronous_commit TO OFF, in their batch; the next batch is durable again."""
    if connection.vendor != "postgresql":
        pytest.skip("asynchronous commit is PostgreSQL's")
    setting = Statement("SELECT current_setting('synchronous_commit')", [])
    assert rows_batch([setting], durable=False)[0].rows == [("off",)]
    assert rows_batch([setting])[0].rows == [("on",)]


@pytest.mark.django_db(transaction=True)
def test_a_batch_commits_whole_or_not_at_all(create_step):
    """A statement that fails fails its whole batch: the writes before it are undone,
    and the error is Django's, as from a cursor."""
    delivery = new_delivery(create_step)
    write = update_statement(
        Delivery,
        {"reason": "written"},
        where=f"{column(Delivery, 'id')} = %s",
        params=[delivery.pk],
    )
    breaks = update_statement(
        Delivery, {"lead": None}, where=f"{column(Delivery, 'id')} = %s", params=[delivery.pk]
    )
    with pytest.raises(IntegrityError):  # the lead is required
        rows_batch([write, breaks])
    delivery.refresh_from_db()
    assert delivery.reason == ""
    assert rows_batch([write])[0].rowcount == 1
    delivery.refresh_from_db()
    assert delivery.reason == "written"


@pytest.mark.parametrize("later_step", [False, True], ids=["last step", "a step follows"])
@pytest.mark.django_db(transaction=True)
@responses.activate
def test_a_worker_whose_lease_was_taken_over_records_nothing(create_step, later_step):
    """While this worker waited on the CRM its lease ran out and another worker took the
    delivery: this worker's outcome, attempts and counts are all dropped, and no next
    step is started, whether the outcome went out in one round trip (the flow's last
    step, on PostgreSQL) or in a transaction that also advances the flow."""
    if later_step:
        flow, step, _ = create_step
        Step.objects.create(
            flow=flow, name="Next", position=2, account=step.account, recipient=step.recipient
        )
    delivery = new_delivery(create_step)

    def taken_over_meanwhile(request):
        Delivery.objects.filter(pk=delivery.pk).update(lease_owner="another worker")
        return (201, {}, '{"id": 5}')

    responses.add_callback(responses.POST, CONTACTS, callback=taken_over_meanwhile)
    returned = delivery_attempt(delivery_id=delivery.pk)
    assert len(responses.calls) == 1
    assert returned is not None
    assert (returned.status, returned.lease_owner, returned.outcome) == (
        DeliveryStatus.IN_PROGRESS,
        "another worker",
        "",
    )
    assert not Attempt.objects.filter(delivery=delivery).exists()
    assert not DailyCounter.objects.exists()
    assert list(Delivery.objects.filter(lead=delivery.lead)) == [delivery]
    delivery.lead.refresh_from_db()
    assert delivery.lead.status != LeadStatus.DONE


@pytest.mark.django_db(transaction=True)
def test_two_workers_on_one_delivery_make_one_crm_call(create_step):
    delivery = new_delivery(create_step)
    calls = []

    def slow_create(request):
        calls.append(request)
        time.sleep(0.3)
        return (201, {}, '{"id": 5}')

    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.POST, CONTACTS, callback=slow_create)

        def work():
            try:
                delivery_attempt(delivery_id=delivery.pk)
            finally:
                connection.close()

        threads = [threading.Thread(target=work) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(calls) == 1
    delivery.refresh_from_db()
    assert (delivery.outcome, delivery.attempt_count) == ("success", 1)


@pytest.mark.django_db
def test_the_sweeper_wakes_only_deliveries_whose_wake_up_was_lost(create_step, settings):
    settings.DELIVERY_WAKEUP_LOST_AFTER_SECONDS = 120
    now = timezone.now()
    lost = new_delivery(create_step)  # due, last woken long ago
    never_woken = new_delivery(create_step)  # due, its publish failed
    queued = new_delivery(create_step)  # due, woken a moment ago: still in the queue
    abandoned = new_delivery(create_step)
    later = new_delivery(create_step)
    done = new_delivery(create_step)
    long_ago = now - timedelta(minutes=5)
    Delivery.objects.filter(pk=lost.pk).update(next_attempt_at=long_ago, woken_at=long_ago)
    Delivery.objects.filter(pk=never_woken.pk).update(next_attempt_at=now, woken_at=None)
    Delivery.objects.filter(pk=queued.pk).update(
        next_attempt_at=long_ago, woken_at=now - timedelta(seconds=60)
    )
    Delivery.objects.filter(pk=abandoned.pk).update(
        status="in_progress",
        lease_expires_at=now - timedelta(minutes=1),
        woken_at=now - timedelta(minutes=2),  # woken, claimed, then its worker died
    )
    Delivery.objects.filter(pk=later.pk).update(
        next_attempt_at=now + timedelta(minutes=5), woken_at=None
    )
    Delivery.objects.filter(pk=done.pk).update(
        status="done", next_attempt_at=now - timedelta(hours=1), woken_at=None
    )
    expected = sorted([lost.pk, never_woken.pk, abandoned.pk])
    with mock.patch("leadflow.celery.app.send_task") as publish:
        swept = delivery_sweep(now=now)
    assert sorted(swept) == expected
    assert sorted(c.kwargs["args"][0] for c in publish.call_args_list) == expected
    # Each is now recorded as woken, so the next sweep leaves them to their message.
    with mock.patch("leadflow.celery.app.send_task"):
        assert delivery_sweep(now=now + timedelta(seconds=15)) == []
