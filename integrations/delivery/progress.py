"""A delivery's record of completed CRM operations, kept on the delivery row.

Each save is one UPDATE in autocommit mode, made between two CRM calls and never
inside a transaction that spans one, and only while this worker holds the lease: a
worker whose lease ran out (another took the delivery over) stops before its next
call instead of racing the new owner.
"""

from __future__ import annotations

from typing import Any

from integrations.crm.base import CrmError
from integrations.crm.operations import Operations
from integrations.models import Delivery, DeliveryStatus


def delivery_operations(*, delivery: Delivery, owner: str) -> Operations:
    """The delivery's operations as earlier tries left them, saving each change."""

    def save(state: dict[str, Any]) -> None:
        kept = Delivery.objects.filter(
            pk=delivery.pk, lease_owner=owner, status=DeliveryStatus.IN_PROGRESS
        ).update(progress=state)
        if not kept:
            raise CrmError("lease lost", retryable=True)
        delivery.progress = state

    return Operations(delivery.progress, save=save)
