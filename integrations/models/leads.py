"""Leads as received, and their normalised fields."""

from __future__ import annotations

import os
import time
import uuid

from django.db import models
from django.utils import timezone

from .flows import Flow, Source


def time_ordered_uuid() -> uuid.UUID:
    """A UUIDv7-shaped id (48-bit millisecond timestamp, then random bits).

    Public, unguessable lead ids that still append to the primary-key index in time
    order, which keeps inserts cheap at millions of rows.
    """
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | rand
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return uuid.UUID(int=value)


class LeadStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Processing"
    DONE = "done", "Done"


class Lead(models.Model):
    id = models.UUIDField(primary_key=True, default=time_ordered_uuid, editable=False)
    # No single-column FK indexes: the composite indexes below lead with these columns
    # (every index is one more write per lead on the intake hot path).
    flow = models.ForeignKey(Flow, on_delete=models.PROTECT, related_name="leads", db_index=False)
    source = models.ForeignKey(
        Source, on_delete=models.PROTECT, related_name="leads", db_index=False
    )
    payload = models.JSONField(help_text="The body as received")
    fields = models.JSONField(help_text="Normalised fields the mappings read")
    email = models.CharField(max_length=254, blank=True, default="")
    status = models.CharField(max_length=12, choices=LeadStatus.choices, default=LeadStatus.QUEUED)
    # NULL, not "", when absent: the partial unique index below skips NULLs.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    received_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Where the flow stopped before its last step, and why (a filter, or a recipient
    # step that stops the flow unless it succeeds); and the lead this one was routed
    # from by a filter (integrations.delivery.filters). Intake writes none of these.
    stopped_at = models.ForeignKey(
        "Step", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    stop_reason = models.CharField(max_length=200, blank=True, default="", db_default="")
    routed_from = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="routed_to",
        db_index=False,
    )

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["flow", "-received_at"], name="lead_flow_received"),
            # Staff look leads up by email (exact match: no LIKE index needed).
            models.Index(fields=["email"], name="lead_email"),
            # The list's status filter: leads still in flight (a few), not the done ones.
            models.Index(fields=["id"], name="lead_in_flight", condition=~models.Q(status="done")),
            # The leads a lead was routed to (partial: costs intake nothing).
            models.Index(
                fields=["routed_from"],
                name="lead_routed_from",
                condition=models.Q(routed_from__isnull=False),
            ),
        ]
        constraints = [
            # A repeat of an Idempotency-Key from the same source finds the first lead.
            # Keys are cleared after 24 h (expire_idempotency_keys), freeing them again.
            # Partial: leads without a key cost this index nothing.
            models.UniqueConstraint(
                fields=["source", "idempotency_key"],
                name="lead_source_idempotency_key",
                condition=models.Q(idempotency_key__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return str(self.id)

    @property
    def api_path(self) -> str:
        return f"/api/v1/leads/{self.id}"
