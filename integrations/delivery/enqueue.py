"""Waking workers. Called inside the transaction that wrote the rows: the message is
published only after commit, so a worker never looks for a row that is not there."""

from __future__ import annotations

import logging

from django.db import transaction

log = logging.getLogger(__name__)


def delivery_enqueue_on_commit(*, delivery_id: int, countdown: float = 0) -> None:
    def publish() -> None:
        from integrations.tasks import deliver

        try:
            deliver.apply_async((delivery_id,), countdown=countdown or None)
        except Exception:  # noqa: BLE001 - the broker being down loses nothing:
            # the row is committed and the sweeper will enqueue it again.
            log.warning("could not enqueue delivery %s; the sweeper will retry", delivery_id)

    transaction.on_commit(publish)
