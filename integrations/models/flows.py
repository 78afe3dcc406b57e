"""Flows, their inbound sources, and their ordered steps."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from integrations.crm.registry import RECIPIENT_CRMS, recipient_choices
from integrations.delivery.retry import validate_retry_schedule
from integrations.mapping.checks import mapping_problems
from integrations.mapping.rules import RuleError, ruleset_from_data
from integrations.mapping.step_config import STANDARD_FIELDS

from .accounts import Account, CrmKind


class Flow(models.Model):
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, default="")
    active = models.BooleanField(default=True)
    phone_region = models.CharField(
        max_length=2,
        blank=True,
        default="",
        help_text="Country (ISO alpha-2) for phone numbers written without one; "
        "empty: the account's",
    )
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


# One member per recipient in the registry (KEAP_REST = "keap_rest", ...).
Recipient = models.TextChoices(  # type: ignore[misc]
    "Recipient", [(kind.upper(), (kind, label)) for kind, label in recipient_choices()]
)

# recipient kind -> the CrmKind of the accounts it can use
RECIPIENT_CRM = {Recipient(kind): CrmKind(crm) for kind, crm in RECIPIENT_CRMS.items()}


class Action(models.TextChoices):
    CREATE = "create", "Create contact"
    CREATE_OR_UPDATE = "create_or_update", "Create, or update the existing contact"


class DuplicateMatch(models.TextChoices):
    EMAIL = "Email", "Email"
    EMAIL_AND_NAME = "EmailAndName", "Email + name"
    EMAIL_AND_NAME_AND_COMPANY = "EmailAndNameAndCompany", "Email + name + company"


class FilterAction(models.TextChoices):
    STOP = "stop", "Stop the flow"
    ROUTE = "route", "Stop the flow and send the lead to another flow"


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
    # Legacy: moved into TagRule / CampaignRule rows by migration 0002 and no longer
    # read by the engine; kept readable (and untouched) so the move can be checked.
    tag_ids = models.JSONField(
        default=list, blank=True, help_text="Legacy (moved to tag rules; no longer read)"
    )
    sequences = models.JSONField(
        default=list, blank=True, help_text="Legacy (moved to campaign rules; no longer read)"
    )
    options = models.JSONField(
        default=dict,
        blank=True,
        help_text='Recipient options, e.g. {"allow_duplicates": true} for HighLevel. '
        "Ids (workflows, action sets, ...) live in campaign rules.",
    )
    on_error = models.CharField(max_length=10, choices=OnError.choices, default=OnError.CONTINUE)
    # Filter configuration: when a filter step's `rules` hold (on lead fields and
    # earlier steps' results), the flow stops there with `filter_reason`; ROUTE also
    # sends the lead, as a new lead linked to this one, into `route_flow` (the seeds'
    # "error handler flow"). See integrations.delivery.filters.
    filter_action = models.CharField(
        max_length=10, choices=FilterAction.choices, default=FilterAction.STOP
    )
    route_flow = models.ForeignKey(
        Flow,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="routed_from_steps",
        help_text="Filter: where the lead goes when the filter routes it",
    )
    filter_reason = models.CharField(
        max_length=200,
        blank=True,
        default="",
        help_text="Filter: why the flow stopped, as the lead's status shows it "
        "(empty: the filter's name)",
    )
    # A recipient's criteria (not met: the delivery is a `skip`, "step criteria not
    # met"); a filter step's rules. Data for integrations.mapping.rules.
    rules = models.JSONField(
        default=dict,
        blank=True,
        help_text="Rule set: the lead is sent only when it holds (empty: always)",
    )
    standard_fields_off = models.JSONField(
        default=list,
        blank=True,
        help_text='Standard fields not sent by this step, e.g. ["phone_2", "comments"]',
    )
    retry_schedule = models.CharField(
        max_length=200,
        blank=True,
        default="",
        validators=[validate_retry_schedule],
        help_text="Waits before each retry after an error, e.g. 1m, 5m, 15m, 1h, 3h, 6h, 12h "
        "(8 attempts); empty: the default schedule",
    )
    # Auto-pause (integrations.delivery.autopause), like the account's.
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(max_length=200, blank=True, default="")
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["flow", "position", "pk"]
        indexes = [models.Index(fields=["flow", "position"])]

    def __str__(self) -> str:
        return f"{self.flow} › {self.name}"

    def clean(self) -> None:
        check_rules_field(self.rules)
        unknown = [name for name in self.standard_fields_off or [] if name not in STANDARD_FIELDS]
        if not isinstance(self.standard_fields_off, list) or unknown:
            known = ", ".join(STANDARD_FIELDS)
            raise ValidationError(
                {"standard_fields_off": f"A list of standard field names ({known})."}
            )
        if self.kind == StepKind.FILTER:
            self._clean_filter()
        if self.kind != StepKind.RECIPIENT:
            return
        if not self.account_id or not self.recipient:
            raise ValidationError("A recipient step needs an account and a recipient.")
        if RECIPIENT_CRM[self.recipient] != self.account.crm:
            needed = RECIPIENT_CRM[self.recipient].label
            raise ValidationError(
                {"recipient": f"{self.get_recipient_display()} needs a {needed} account."}
            )

    def _clean_filter(self) -> None:
        if not (isinstance(self.rules, dict) and self.rules.get("conditions")):
            raise ValidationError({"rules": "A filter needs at least one condition."})
        if self.filter_action == FilterAction.ROUTE:
            if self.route_flow_id is None:
                raise ValidationError({"route_flow": "Choose the flow to send the lead to."})
            if self.route_flow_id == self.flow_id:
                raise ValidationError({"route_flow": "A filter cannot route to its own flow."})


class ValueKind(models.TextChoices):
    FIELD = "field", "Lead field"
    CONSTANT = "constant", "Constant"
    TEMPLATE = "template", "Template"


class OnExisting(models.TextChoices):
    UPDATE = "update", "Update it"
    KEEP = "keep", "Keep the CRM's value (set it on a new contact only)"


class OnInvalid(models.TextChoices):
    SEND = "send", "Send as received"
    DROP = "drop", "Leave the field out"
    SKIP = "skip", "Skip the step"


class FieldMapping(models.Model):
    """Send a value to `target` (a standard field such as "phone_1", a ContactData
    attribute, "custom:<id>", or a CRM-native field name).

    The value is a lead field (`source` is its name, "utm.source" reaches inside),
    a constant, or a Liquid template ("{{ lead.first_name }} {{ lead.last_name }}").
    """

    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="mappings")
    value_kind = models.CharField(max_length=10, choices=ValueKind.choices, default=ValueKind.FIELD)
    source = models.CharField(max_length=2000, help_text="Lead field, constant or template")
    target = models.CharField(max_length=120)
    rules = models.JSONField(
        default=dict, blank=True, help_text="Rule set: mapped only when it holds (empty: always)"
    )
    on_existing = models.CharField(
        max_length=10,
        choices=OnExisting.choices,
        default=OnExisting.UPDATE,
        help_text="When the contact already exists",
    )
    on_invalid = models.CharField(
        max_length=10,
        choices=OnInvalid.choices,
        default=OnInvalid.SEND,
        help_text="When the value is not valid for the field",
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["step", "position", "pk"]

    def __str__(self) -> str:
        return f"{self.source} → {self.target}"

    def clean(self) -> None:
        step = getattr(self, "step", None)
        account = getattr(step, "account", None) if step is not None else None
        problems = mapping_problems(
            kind=self.value_kind,
            source=self.source,
            target=self.target,
            rules=self.rules,
            catalogue=account.catalogue if account is not None else None,
        )
        if problems:
            raise ValidationError(problems)


def check_rules_field(data: object) -> None:
    try:
        ruleset_from_data(data)
    except RuleError as exc:
        raise ValidationError({"rules": exc.message}) from None
