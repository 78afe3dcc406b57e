"""The Keap sandbox's own tables: contacts and what hangs off them, OAuth grants, and
the control switches.

Self-contained on purpose: nothing here imports product code, and product code never
imports this (it talks to the sandbox over HTTP). The read-only catalog (tags, custom
fields, campaigns, lead sources, users) is code, in seed.py; only companies, which
contacts create, are a table (seeded lazily by seed.ensure_companies()).

Every table is truncated by the test runner, which is a feature: control switches,
stats and refresh-token counters start clean in each test.
"""

from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone


class Company(models.Model):
    # Ids are assigned by store.company_for_name() (seeds keep fixed ids 55, 56).
    id = models.BigIntegerField(primary_key=True)
    name = models.CharField(max_length=255, unique=True)

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """One contact. `data` holds the REST-shaped record (see store.py for its layout);
    the columns below are lower-cased copies kept for duplicate matching."""

    data = models.JSONField(default=dict)
    company = models.ForeignKey(Company, null=True, blank=True, on_delete=models.SET_NULL)
    email1 = models.CharField(max_length=254, blank=True, default="", db_index=True)
    email2 = models.CharField(max_length=254, blank=True, default="", db_index=True)
    email3 = models.CharField(max_length=254, blank=True, default="", db_index=True)
    given_name_lc = models.CharField(max_length=255, blank=True, default="")
    family_name_lc = models.CharField(max_length=255, blank=True, default="")
    date_created = models.DateTimeField(default=timezone.now)
    last_updated = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Contact {self.pk}"


class TagApplication(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="tag_rows")
    tag_id = models.BigIntegerField()
    date_applied = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "tag_id"], name="sbk_tag_once")]

    def __str__(self) -> str:
        return f"tag {self.tag_id} on contact {self.contact_id}"


class Enrollment(models.Model):
    """A contact on a REST campaign sequence (kind=campaign) or on a legacy follow-up
    sequence started over XML-RPC (kind=followup, campaign_id=0)."""

    CAMPAIGN, FOLLOWUP = "campaign", "followup"
    ACTIVE, PAUSED, REMOVED = "active", "paused", "removed"

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="enrollments")
    kind = models.CharField(max_length=10)
    campaign_id = models.BigIntegerField(default=0)
    sequence_id = models.BigIntegerField()
    status = models.CharField(max_length=10, default=ACTIVE)
    step_index = models.IntegerField(default=0)  # the next step of a follow-up sequence
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "kind", "campaign_id", "sequence_id"], name="sbk_enrol_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.campaign_id}/{self.sequence_id} for contact {self.contact_id}"


class Note(models.Model):
    """A REST v1 Note record (POST /v1/notes). Not the ContactNotes field: that one is
    `Contact.data["notes"]`."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="note_rows")
    title = models.CharField(max_length=255, blank=True, default="")
    body = models.TextField(blank=True, default="")
    type = models.CharField(max_length=20, blank=True, default="")
    user_id = models.BigIntegerField(null=True, blank=True)
    date_created = models.DateTimeField(default=timezone.now)
    last_updated = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.title or f"Note {self.pk}"


def new_token() -> str:
    return secrets.token_urlsafe(24)


class AuthorizationCode(models.Model):
    code = models.CharField(primary_key=True, max_length=64, default=new_token)
    client_id = models.CharField(max_length=255)
    redirect_uri = models.TextField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"code for {self.client_id}"


class AccessToken(models.Model):
    token = models.CharField(primary_key=True, max_length=64, default=new_token)
    client_id = models.CharField(max_length=255)
    expires_at = models.DateTimeField()
    created = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"access token for {self.client_id}"


class RefreshToken(models.Model):
    """Single-use: `used_at` is set by the one refresh that consumes it. `presented`
    counts every time a client sent it, so tests can assert "exactly one refresh"."""

    token = models.CharField(primary_key=True, max_length=64, default=new_token)
    client_id = models.CharField(max_length=255)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    presented = models.IntegerField(default=0)
    created = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"refresh token for {self.client_id}"


def new_epoch() -> str:
    return secrets.token_hex(6)


class ControlState(models.Model):
    """The singleton (pk=1) behind _control: queued faults, limit overrides, counters.

    `epoch` prefixes the rate-limit cache keys: a fresh row (after a test truncated the
    table, or a reset) starts with fresh rate windows.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    epoch = models.CharField(max_length=16, default=new_epoch)
    faults = models.JSONField(default=list)
    config = models.JSONField(default=dict)
    rejected_refresh = models.IntegerField(default=0)

    def __str__(self) -> str:
        return "sandbox control state"


class CallCounter(models.Model):
    """One counter per `<section>:<key>`, e.g. `api:POST crm/rest/v1/contacts`."""

    key = models.CharField(max_length=255, unique=True)
    count = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"
