"""CRM accounts: one connection to one CRM tenant, with its credentials."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from integrations.crm.registry import crm_choices
from integrations.secrets import EncryptedTextField

# One member per CRM in the registry (KEAP = "keap", ...): a fourth CRM adds its
# choice by its registry entry alone.
CrmKind = models.TextChoices(  # type: ignore[call-overload]
    "CrmKind", [(kind.upper(), (kind, label)) for kind, label in crm_choices()]
)


class AuthType(models.TextChoices):
    OAUTH = "oauth", "OAuth2 (connect in the browser)"
    API_KEY = "api_key", "API key (Keap PAT / SAK, HighLevel private integration token)"


class AccountStatus(models.TextChoices):
    NOT_CONNECTED = "not_connected", "Not connected"
    CONNECTED = "connected", "Connected"
    NEEDS_RECONNECT = "needs_reconnect", "Needs reconnect"


class Account(models.Model):
    name = models.CharField(max_length=120)
    crm = models.CharField(max_length=20, choices=CrmKind.choices)
    auth_type = models.CharField(max_length=10, choices=AuthType.choices, default=AuthType.OAUTH)
    status = models.CharField(
        max_length=20, choices=AccountStatus.choices, default=AccountStatus.NOT_CONNECTED
    )
    # Secrets: encrypted at rest (integrations.secrets), never shown in the admin.
    api_key = EncryptedTextField(blank=True, default="")
    access_token = EncryptedTextField(blank=True, default="")
    refresh_token = EncryptedTextField(blank=True, default="")
    token_expires_at = models.DateTimeField(null=True, blank=True)
    # Bumped on every successful refresh, so concurrent refreshers can tell that the
    # token they hold has already been replaced.
    token_generation = models.PositiveIntegerField(default=0)
    # HighLevel sub-account (location) id; Keap's tenant host from the token scope.
    external_id = models.CharField(max_length=120, blank=True, default="")
    # Catalogue fetched by "Test connection": custom fields, tags, sequences, ...
    catalogue = models.JSONField(default=dict, blank=True)
    catalogue_refreshed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True, default="")
    phone_region = models.CharField(
        max_length=2,
        blank=True,
        default="US",
        help_text="Country (ISO alpha-2) for phone numbers written without one; empty: US",
    )
    # Calls this account's credential may make (integrations.delivery.ratelimit); empty:
    # the CRM's published quota. HighLevel counts 10-second windows: per second x 10.
    rate_limit_per_second = models.PositiveIntegerField(
        null=True, blank=True, help_text="Calls per second; empty: the CRM's published quota"
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Calls per minute; empty: the CRM's published quota"
    )
    rate_limit_per_day = models.PositiveIntegerField(
        null=True, blank=True, help_text="Calls per UTC day; empty: the CRM's published quota"
    )
    # Auto-pause (integrations.delivery.autopause): set when every delivery has failed for
    # a while; deliveries are held until someone presses Resume.
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(max_length=200, blank=True, default="")
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    autopause_after_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Pause when every delivery has failed for this long; empty: the default "
        "(DELIVERY_AUTOPAUSE_AFTER_SECONDS), 0: never",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_crm_display()})"

    @property
    def is_usable(self) -> bool:
        if self.auth_type == AuthType.API_KEY:
            return bool(self.api_key)
        return self.status == AccountStatus.CONNECTED and bool(self.access_token)
