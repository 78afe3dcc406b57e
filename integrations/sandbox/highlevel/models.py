"""The HighLevel sandbox's own tables: one sub-account (location) and what lives in it.

Self-contained on purpose: nothing here imports product code, and product code never
imports this (it talks to the sandbox over HTTP). Seeded lazily by seed.ensure_seeded().
"""

from __future__ import annotations

import secrets
import string

from django.db import models
from django.utils.timezone import now

_ID_ALPHABET = string.ascii_letters + string.digits


def new_id() -> str:
    """HighLevel ids are 20-character alphanumeric strings (wire spec §6.1)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(20))


class Location(models.Model):
    """A sub-account. `allow_duplicates` is the location's "Allow Duplicate Contact"
    setting (§7.3.1); switch it with POST _control/location."""

    id = models.CharField(primary_key=True, max_length=20)
    company_id = models.CharField(max_length=20)
    name = models.CharField(max_length=100)
    country = models.CharField(max_length=2, default="US")
    timezone = models.CharField(max_length=64, default="America/Chicago")
    allow_duplicates = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    id = models.CharField(primary_key=True, max_length=20, default=new_id)
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="contacts")
    first_name = models.CharField(max_length=255, blank=True, default="")
    last_name = models.CharField(max_length=255, blank=True, default="")
    name = models.CharField(max_length=512, blank=True, default="")
    email = models.CharField(max_length=320, blank=True, default="")
    # Lower-cased copy: HighLevel matches duplicates on `emailLowerCase`.
    email_lower = models.CharField(max_length=320, blank=True, default="", db_index=True)
    phone = models.CharField(max_length=32, blank=True, default="", db_index=True)  # E.164
    gender = models.CharField(max_length=20, blank=True, default="")
    address1 = models.CharField(max_length=512, blank=True, default="")
    city = models.CharField(max_length=255, blank=True, default="")
    state = models.CharField(max_length=255, blank=True, default="")
    postal_code = models.CharField(max_length=32, blank=True, default="")
    country = models.CharField(max_length=2, blank=True, default="")
    website = models.CharField(max_length=1024, blank=True, default="")
    timezone = models.CharField(max_length=64, blank=True, default="")
    source = models.CharField(max_length=255, blank=True, default="")
    company_name = models.CharField(max_length=255, blank=True, default="")
    assigned_to = models.CharField(max_length=20, blank=True, default="")
    date_of_birth = models.DateField(null=True, blank=True)
    dnd = models.BooleanField(default=False)
    dnd_settings = models.JSONField(default=dict, blank=True)
    inbound_dnd_settings = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)  # field id -> value
    # Enrolments, for _control/contacts: [{"id", "eventStartTime", "addedAt"}].
    workflows = models.JSONField(default=list, blank=True)
    campaigns = models.JSONField(default=list, blank=True)
    date_added = models.DateTimeField(default=now)
    date_updated = models.DateTimeField(default=now)

    class Meta:
        ordering = ["date_added", "id"]
        # The duplicate check (store.find_match) looks a contact up by location and
        # email, then by location and phone: without these SQLite walks the location's
        # index, i.e. every contact, for each create and upsert.
        indexes = [
            models.Index(fields=["location", "email_lower"], name="sbx_hl_contact_loc_email"),
            models.Index(fields=["location", "phone"], name="sbx_hl_contact_loc_phone"),
        ]

    def __str__(self) -> str:
        return self.name or self.email or self.id


class CustomField(models.Model):
    id = models.CharField(primary_key=True, max_length=20)
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="custom_fields")
    name = models.CharField(max_length=100)
    field_key = models.CharField(max_length=100)  # "contact.lead_score"
    data_type = models.CharField(max_length=30)  # TEXT, NUMERICAL, MULTIPLE_OPTIONS, ...
    position = models.PositiveIntegerField(default=0)
    picklist_options = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return self.field_key


class Workflow(models.Model):
    id = models.CharField(primary_key=True, max_length=36)  # the API returns UUIDs
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="workflows")
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=20, default="published")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Campaign(models.Model):
    id = models.CharField(primary_key=True, max_length=20)
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=20, default="published")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(models.Model):
    id = models.CharField(primary_key=True, max_length=20)
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="users")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.CharField(max_length=320)
    phone = models.CharField(max_length=32, blank=True, default="")
    role = models.CharField(max_length=20, default="user")  # admin | user

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.email


class AuthorizationCode(models.Model):
    """Issued by the consent page; single use, short lived."""

    code = models.CharField(primary_key=True, max_length=64)
    client_id = models.CharField(max_length=200)
    redirect_uri = models.CharField(max_length=2000)
    location = models.ForeignKey(Location, on_delete=models.CASCADE)
    scope = models.CharField(max_length=2000, blank=True, default="")
    created_at = models.DateTimeField(default=now)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"code for {self.client_id}"


class OAuthToken(models.Model):
    """One access/refresh pair. Sandbox fakes, stored in clear on purpose."""

    access_token = models.CharField(max_length=128, unique=True)
    refresh_token = models.CharField(max_length=128, unique=True)
    refresh_token_id = models.CharField(max_length=24)
    client_id = models.CharField(max_length=200)
    location = models.ForeignKey(Location, on_delete=models.CASCADE)
    user_id = models.CharField(max_length=20)
    scope = models.CharField(max_length=2000, blank=True, default="")
    access_expires_at = models.DateTimeField()
    # Set when the refresh token is spent: refresh tokens rotate and are single-use
    # (§6.2 "valid 1 year or until used").
    refreshed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)

    def __str__(self) -> str:
        return f"token {self.refresh_token_id} for {self.client_id}"
