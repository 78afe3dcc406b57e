"""The rate limiter's state when it lives in the database (the embedded setup without
Redis): one row per CRM credential, locked for each decision."""

from __future__ import annotations

from django.db import models


class RateLimitState(models.Model):
    """See integrations.delivery.ratelimit_store for what `state` holds."""

    key = models.CharField(max_length=200, unique=True)
    state = models.JSONField(default=dict)

    def __str__(self) -> str:
        return self.key
