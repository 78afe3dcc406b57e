"""Waking workers, after commit, so a worker never looks for a row that is not there.

Deliveries due now are announced in small batches: ids committed within a few
milliseconds of each other in one process travel in one `deliver_batch` message,
published by a background thread. On the intake hot path that turns the Celery
publish (about half a millisecond of CPU per message) into a list append; the
worker that receives a batch fans it out again, one `deliver` task per delivery.

Nothing depends on a wake-up arriving: the delivery row is committed first, and if
the process dies before its thread publishes, or the broker is down, the sweeper
enqueues the delivery once it is overdue.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from functools import partial
from types import ModuleType

from django.conf import settings
from django.db import transaction

log = logging.getLogger(__name__)


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
                _publish(partial(_tasks().deliver_batch.apply_async, (ids,)), ids)


_waker = _Waker()


def _tasks() -> ModuleType:
    from integrations import tasks

    return tasks


def _publish(send: Callable[[], object], ids: list[int]) -> None:
    try:
        send()
    except Exception:  # noqa: BLE001 - the broker being down loses nothing:
        # the rows are committed and the sweeper will enqueue them again.
        log.warning("could not enqueue deliveries %s; the sweeper will retry", ids)


def delivery_enqueue_on_commit(*, delivery_id: int, countdown: float = 0) -> None:
    """After the current transaction commits, wake a worker for this delivery (now,
    batched with its neighbours; or after `countdown` seconds, on its own)."""
    if countdown:
        transaction.on_commit(
            lambda: _publish(
                partial(_tasks().deliver.apply_async, (delivery_id,), countdown=countdown),
                [delivery_id],
            )
        )
    else:
        transaction.on_commit(lambda: _waker.add(delivery_id))
