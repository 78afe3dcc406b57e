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
    flow = models.ForeignKey(Flow, on_delete=models.PROTECT, related_name="leads")
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="leads")
    payload = models.JSONField(help_text="The body as received")
    fields = models.JSONField(help_text="Normalised fields the mappings read")
    email = models.CharField(max_length=254, blank=True, default="", db_index=True)
    status = models.CharField(max_length=12, choices=LeadStatus.choices, default=LeadStatus.QUEUED)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["flow", "-received_at"]),
            models.Index(fields=["status", "received_at"]),
        ]
        constraints = [
            # A repeat of an Idempotency-Key from the same source finds the first lead.
            # Keys are cleared after 24 h (expire_idempotency_keys), freeing them again.
            models.UniqueConstraint(
                fields=["source", "idempotency_key"], name="lead_source_idempotency_key"
            )
        ]

    def __str__(self) -> str:
        return str(self.id)

    @property
    def api_path(self) -> str:
        return f"/api/v1/leads/{self.id}"
