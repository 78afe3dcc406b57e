"""A worker process's database connection lives as a web process's does: kept from one
task to the next for CONN_MAX_AGE, replaced when it failed, outlived that age, was
left inside a transaction or was dropped by the server; Celery's Django fixup, which
the worker installs, no longer closes it around every task."""

import time

import pytest
from celery import signals
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection, connections, transaction

from integrations.tasks import deliver
from leadflow.celery import app


@pytest.fixture
def worker_fixup():
    """What a worker process installs at start (celery.fixups.django)."""
    fixup = DjangoWorkerFixup(app).install()
    yield fixup
    signals.beat_embedded_init.disconnect(fixup.close_database)
    signals.task_prerun.disconnect(fixup.on_task_prerun)
    signals.task_postrun.disconnect(fixup.on_task_postrun)
    signals.worker_process_init.disconnect(fixup.on_worker_process_init)


@pytest.fixture
def kept_for_a_minute():
    """CONN_MAX_AGE of 60 s, as the Procfile's processes run (SQLite's default is 0)."""
    before = connection.settings_dict["CONN_MAX_AGE"]
    connection.settings_dict["CONN_MAX_AGE"] = 60
    connection.close()  # the next connection takes the age
    yield
    connection.settings_dict["CONN_MAX_AGE"] = before
    connection.close()


def as_task(body, *, eager=False):
    """Run `body` between the signals a worker sends around a task."""
    deliver.push_request(is_eager=eager)
    try:
        signals.task_prerun.send(sender=deliver, task_id="t", task=deliver, args=(), kwargs={})
        try:
            return body()
        finally:
            signals.task_postrun.send(
                sender=deliver, task_id="t", task=deliver, args=(), kwargs={}, retval=None
            )
    finally:
        deliver.pop_request()


def db_connection():
    """The driver's connection a query runs on (a new one after a reconnect)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.connection


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("worker_fixup", "kept_for_a_minute")
def test_a_worker_keeps_its_database_connection_from_one_task_to_the_next():
    first = as_task(db_connection)
    assert as_task(db_connection) is first
    assert as_task(db_connection) is first


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("worker_fixup", "kept_for_a_minute")
def test_a_connection_older_than_conn_max_age_is_replaced_at_the_next_task():
    first = as_task(db_connection)
    connection.close_at = time.monotonic() - 1  # as if opened CONN_MAX_AGE ago
    assert as_task(db_connection) is not first


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("worker_fixup", "kept_for_a_minute")
def test_a_connection_a_task_left_inside_a_transaction_is_closed_after_it():
    def leaves_a_transaction_open():
        connection.set_autocommit(False)
        return db_connection()

    first = as_task(leaves_a_transaction_open)
    assert connection.connection is None
    assert as_task(db_connection) is not first
    assert connection.get_autocommit()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("worker_fixup", "kept_for_a_minute")
@pytest.mark.skipif(connection.vendor != "postgresql", reason="a server to drop it")
def test_a_connection_the_server_dropped_between_tasks_is_replaced_not_used():
    first = as_task(db_connection)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        [(pid,)] = cursor.fetchall()
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()
    assert as_task(db_connection) is not first  # the health check replaced it


@pytest.mark.django_db
@pytest.mark.usefixtures("worker_fixup")
def test_an_eager_task_leaves_its_callers_transaction_and_connection_alone():
    with transaction.atomic():
        before = db_connection()
        assert as_task(db_connection, eager=True) is before
        assert connection.in_atomic_block
