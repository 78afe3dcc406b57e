"""The audit log: who changed configuration, replayed, erased or reconnected, and when.

Entries hold names, ids and counts only: never a secret, never lead data.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditAction(models.TextChoices):
    CONFIG = "config", "Configuration change"
    ROLES = "roles", "Roles and users"
    REPLAY = "replay", "Replay"
    ERASURE = "erasure", "Erasure"
    RECONNECT = "reconnect", "Reconnect"
    RETENTION = "retention", "Retention purge"


class AuditEntry(models.Model):
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Kept when the user is deleted; "system" for periodic tasks.
    actor_name = models.CharField(max_length=150, blank=True, default="")
    action = models.CharField(max_length=12, choices=AuditAction.choices)
    object_type = models.CharField(max_length=60, blank=True, default="")
    object_id = models.CharField(max_length=64, blank=True, default="")
    summary = models.CharField(max_length=300)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["-at"], name="audit_at")]
        permissions = [("erase_person", "Can erase a person's data")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name}: {self.summary}"
