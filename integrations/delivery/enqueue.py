"""The one way to wake workers: every publish goes through here, by task name, after
commit, so a worker never looks for a row that is not there and nothing below
`integrations.tasks` imports it back.

Deliveries due now are announced in small batches: ids committed within a few
milliseconds of each other in one process travel in one `deliver_batch` message,
published by a background thread. On the intake hot path that turns the Celery
publish (about half a millisecond of CPU per message) into a list append; the
worker that receives a batch fans it out again, one `deliver` message per delivery.

Nothing depends on a wake-up arriving: the delivery row is committed first, and if
the process dies before its thread publishes, or the broker is down, the sweeper
sends the delivery once its last wake-up (`Delivery.woken_at`) is old enough to have
been lost rather than merely queued.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.db import transaction

from leadflow.celery import app

log = logging.getLogger(__name__)

DELIVER = "integrations.tasks.deliver"
DELIVER_BATCH = "integrations.tasks.deliver_batch"


def _send(name: str, args: list[object], *, countdown: float | None = None) -> bool:
    """Publish one message. The broker being down loses nothing (the rows are committed
    and the sweeper sends them later): log and return False."""
    try:
        app.send_task(name, args=args, countdown=countdown)
    except Exception:  # noqa: BLE001 - any broker failure: the sweeper will retry
        log.warning("could not enqueue deliveries %s; the sweeper will retry", args[0])
        _mark_not_woken(args[0])
        return False
    return True


def _mark_not_woken(ids: object) -> None:
    """A wake-up that was never published is lost for sure: let the next sweep send it
    rather than wait for DELIVERY_WAKEUP_LOST_AFTER_SECONDS."""
    from integrations.models import Delivery

    id_list = ids if isinstance(ids, list) else [ids]
    try:
        Delivery.objects.filter(pk__in=id_list).update(woken_at=None)
    except Exception:  # noqa: BLE001 - the database may be down too: the bound applies
        log.warning("could not mark deliveries %s for the sweeper", id_list)


class _Waker:
    """Per-process batching publisher of `deliver_batch` messages."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        # A forked child gets fresh state: the parent's thread does not exist there.
        self._lock = threading.Lock()
        self._pending: list[int] = []
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, delivery_id: int) -> None:
        with self._lock:
            self._pending.append(delivery_id)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="leadflow-waker", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(settings.DELIVERY_WAKEUP_WINDOW_SECONDS)  # let a batch gather
            with self._lock:
                self._wake.clear()
                ids, self._pending = self._pending, []
            if ids:
                _send(DELIVER_BATCH, [ids])


_waker = _Waker()


def delivery_enqueue_on_commit(*, delivery_id: int, countdown: float = 0) -> None:
    """After the current transaction commits, wake a worker for this delivery (now,
    batched with its neighbours; or after `countdown` seconds, on its own)."""
    if countdown:
        transaction.on_commit(lambda: _send(DELIVER, [delivery_id], countdown=countdown))
    else:
        transaction.on_commit(lambda: _waker.add(delivery_id))


def wake_up_time(*, at: datetime, now: datetime) -> datetime | None:
    """When the wake-up of a delivery due at `at` will be due: `at` when it is near enough
    for a broker countdown (send it with delivery_enqueue_on_commit), None when it is
    not (the sweeper sends the delivery once it is due). The value for `woken_at`."""
    if (at - now).total_seconds() > settings.DELIVERY_WAKEUP_MAX_COUNTDOWN_SECONDS:
        return None
    return at


def deliveries_enqueue(*, delivery_ids: Sequence[int]) -> bool:
    """Wake workers for these deliveries now, one message each (a batch's fan-out, the
    sweeper). Returns False when the broker could not take them."""
    return all(_send(DELIVER, [delivery_id]) for delivery_id in delivery_ids)


__all__ = [
    "DELIVER",
    "DELIVER_BATCH",
    "deliveries_enqueue",
    "delivery_enqueue_on_commit",
    "wake_up_time",
]
