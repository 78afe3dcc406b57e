"""Flows, their inbound sources, and their ordered steps."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from .accounts import Account, CrmKind


class Flow(models.Model):
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, default="")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def intake_path(self) -> str:
        return f"/api/v1/flows/{self.pk}/leads"


class Source(models.Model):
    """A lead source posting into a flow, with its own API key.

    Only the key's SHA-256 digest is stored (indexed): the key itself is shown once,
    when it is created. One key may serve several flows (a vendor posting to each),
    hence unique per (digest, flow); the intake URL names the flow.
    """

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="sources")
    name = models.CharField(max_length=120)
    key_digest = models.CharField(max_length=64, editable=False)
    key_hint = models.CharField(max_length=12, editable=False, help_text="First characters")
    active = models.BooleanField(default=True)
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Leads per minute this source may post; empty: no limit"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["flow", "name"]
        constraints = [
            # Also the lookup index: digest first, so the status endpoint's
            # digest-only lookup uses it too.
            models.UniqueConstraint(fields=["key_digest", "flow"], name="source_key_per_flow")
        ]

    def __str__(self) -> str:
        return f"{self.name} → {self.flow}"


class StepKind(models.TextChoices):
    RECIPIENT = "recipient", "Recipient"
    FILTER = "filter", "Filter"


class Recipient(models.TextChoices):
    KEAP_REST = "keap_rest", "Keap REST v1"
    KEAP_XMLRPC = "keap_xmlrpc", "Keap XML-RPC ContactService"
    HIGHLEVEL = "highlevel", "HighLevel contacts"


RECIPIENT_CRM: dict[str, CrmKind] = {
    Recipient.KEAP_REST: CrmKind.KEAP,
    Recipient.KEAP_XMLRPC: CrmKind.KEAP,
    Recipient.HIGHLEVEL: CrmKind.HIGHLEVEL,
}


class Action(models.TextChoices):
    CREATE = "create", "Create contact"
    CREATE_OR_UPDATE = "create_or_update", "Create, or update the existing contact"


class DuplicateMatch(models.TextChoices):
    EMAIL = "Email", "Email"
    EMAIL_AND_NAME = "EmailAndName", "Email + name"
    EMAIL_AND_NAME_AND_COMPANY = "EmailAndNameAndCompany", "Email + name + company"


class OnError(models.TextChoices):
    CONTINUE = "continue", "Continue the flow"
    STOP = "stop", "Stop the flow unless the outcome is success"


class Step(models.Model):
    """One step of a flow: a recipient (deliver to one account) or a filter."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=StepKind.choices, default=StepKind.RECIPIENT)
    enabled = models.BooleanField(default=True)
    # Recipient configuration.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, null=True, blank=True, related_name="steps"
    )
    recipient = models.CharField(max_length=20, choices=Recipient.choices, blank=True)
    action = models.CharField(
        max_length=20, choices=Action.choices, default=Action.CREATE_OR_UPDATE
    )
    duplicate_match = models.CharField(
        max_length=30, choices=DuplicateMatch.choices, default=DuplicateMatch.EMAIL
    )
    address_type = models.CharField(
        max_length=10,
        choices=[("BILLING", "Billing"), ("SHIPPING", "Shipping"), ("OTHER", "Other")],
        default="BILLING",
    )
    tag_ids = models.JSONField(
        default=list, blank=True, help_text="CRM tag ids (or names) to apply"
    )
    sequences = models.JSONField(
        default=list,
        blank=True,
        help_text='Campaign sequences to start, e.g. [{"campaign_id": 45, "sequence_id": 1}]',
    )
    options = models.JSONField(
        default=dict, blank=True, help_text="Recipient-specific options (see the README)"
    )
    on_error = models.CharField(max_length=10, choices=OnError.choices, default=OnError.CONTINUE)
    # Filter configuration (the delivery engine's filters build on this).
    rules = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["flow", "position", "pk"]
        indexes = [models.Index(fields=["flow", "position"])]

    def __str__(self) -> str:
        return f"{self.flow} › {self.name}"

    def clean(self) -> None:
        if self.kind != StepKind.RECIPIENT:
            return
        if self.account is None or not self.recipient:
            raise ValidationError("A recipient step needs an account and a recipient.")
        if RECIPIENT_CRM[self.recipient] != self.account.crm:
            needed = RECIPIENT_CRM[self.recipient].label
            raise ValidationError(
                {"recipient": f"{self.get_recipient_display()} needs a {needed} account."}
            )


class FieldMapping(models.Model):
    """Send `source` (a lead field name, or a template such as "{{first_name}} {{last_name}}")
    to `target` (a CRM field: a standard name like "contact_type", or "custom:<id>")."""

    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="mappings")
    source = models.CharField(max_length=500)
    target = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["step", "position", "pk"]

    def __str__(self) -> str:
        return f"{self.source} → {self.target}"
