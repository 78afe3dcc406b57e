"""The Celery app. The broker only wakes workers; the database is the source of truth."""

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")

app = Celery("leadflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
@signals.task_postrun.connect
def database_connections_as_per_request(sender: Any = None, **_kwargs: Any) -> None:
    """Before and after each task, what Django does around each request
    (`close_old_connections`): close a database connection that failed, was left in a
    transaction or outlived CONN_MAX_AGE, and keep the others; CONN_HEALTH_CHECKS then
    pings a kept connection before a task first uses it, so one left broken (a task
    interrupted mid-query) is replaced rather than used.

    Celery's Django fixup would instead close every connection around every task (see
    CELERY_DB_REUSE_MAX in the settings), costing each delivery a new PostgreSQL
    backend, its authentication and the engine's prepared statements. Eager tasks
    (run inside the caller, a test's transaction perhaps) are left alone, as the fixup
    leaves them."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
