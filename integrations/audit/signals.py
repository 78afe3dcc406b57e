"""Admin changes reach the audit log through Django's own LogEntry (one receiver;
the logic lives in integrations.audit.services)."""

from __future__ import annotations

from django.contrib.admin.models import LogEntry
from django.db.models.signals import post_save
from django.dispatch import receiver

from .services import audit_from_admin_log


@receiver(post_save, sender=LogEntry, dispatch_uid="integrations.audit.admin_log")
def _admin_change_logged(sender, instance: LogEntry, created: bool, **kwargs) -> None:
    if created:
        audit_from_admin_log(entry=instance)
