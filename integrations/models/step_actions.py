"""What a recipient step does besides saving the contact: tags to apply or remove,
campaign sequences, follow-up sequences, action sets, workflows. Each row names its
CRM id and the name the marketer picked it by, and may be gated by a rule set.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from integrations.crm.registry import RECIPIENTS

from .flows import Recipient, Step, check_rules_field


class TagAction(models.TextChoices):
    APPLY = "apply", "Apply"
    REMOVE = "remove", "Remove (Keap XML-RPC)"


class TagRule(models.Model):
    """A tag this step applies (or removes). Keap tags are numeric ids; HighLevel tags
    are their names, so there `tag_id` holds the name."""

    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="tag_rules")
    action = models.CharField(max_length=10, choices=TagAction.choices, default=TagAction.APPLY)
    tag_id = models.CharField(max_length=120, help_text="Keap tag id; HighLevel tag name")
    name = models.CharField(max_length=200, blank=True, default="", help_text="As shown")
    rules = models.JSONField(
        default=dict, blank=True, help_text="Rule set: applied only when it holds (empty: always)"
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["step", "position", "pk"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} tag {self.name or self.tag_id}"

    def clean(self) -> None:
        check_rules_field(self.rules)
        recipient = getattr(getattr(self, "step", None), "recipient", "")
        if recipient and self.action not in list_actions(recipient, "tag"):
            label = Recipient(recipient).label
            raise ValidationError({"action": f"{label} cannot {self.action} tags."})


def _campaign_kinds() -> list[tuple[str, tuple[str, str]]]:
    """Each campaign rule kind a recipient's spec lists (all but tags), once, labelled
    with the recipient it belongs to: "Keap XML-RPC ContactService: Action sets"."""
    kinds: dict[str, str] = {}
    for recipient in RECIPIENTS.values():
        for lst in recipient.lists:
            if lst.kind != "tag":
                kinds.setdefault(lst.kind, f"{recipient.label}: {lst.label}")
    return [(kind.upper(), (kind, label)) for kind, label in kinds.items()]


# The campaign rule kinds, read from the CRM registry (integrations.crm): KEAP_SEQUENCE,
# FOLLOWUP_SEQUENCE, ACTION_SET, HIGHLEVEL_WORKFLOW, HIGHLEVEL_CAMPAIGN today.
CampaignKind = models.TextChoices("CampaignKind", _campaign_kinds())  # type: ignore[call-overload]


# Which recipient runs each kind (its spec's `lists`, in integrations.crm).
CAMPAIGN_KIND_RECIPIENT: dict[str, Any] = {  # kind -> Recipient member
    CampaignKind(lst.kind): Recipient(recipient.kind)
    for recipient in RECIPIENTS.values()
    for lst in recipient.lists
    if lst.kind != "tag"
}


def list_actions(recipient: str, kind: str) -> tuple[str, ...]:
    """What `recipient` can do with a tag ("tag") or a campaign rule kind."""
    spec = RECIPIENTS.get(recipient)
    found = [lst.actions for lst in spec.lists if lst.kind == kind] if spec else []
    return found[0] if found else ()


class CampaignAction(models.TextChoices):
    START = "start", "Start"
    PAUSE = "pause", "Pause (follow-up sequences)"
    RESUME = "resume", "Resume (follow-up sequences)"
    REMOVE = "remove", "Remove from (follow-up sequences)"


class CampaignRule(models.Model):
    """A sequence, workflow or action set this step starts for the contact.

    `item_id` is the campaign (Keap REST: with `sequence_id`), follow-up sequence,
    action set, workflow or HighLevel campaign id.
    """

    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="campaign_rules")
    kind = models.CharField(max_length=20, choices=CampaignKind.choices)
    action = models.CharField(
        max_length=10, choices=CampaignAction.choices, default=CampaignAction.START
    )
    item_id = models.CharField(max_length=120, help_text="Campaign, sequence, workflow... id")
    sequence_id = models.CharField(
        max_length=120, blank=True, default="", help_text="Keap campaign sequence id"
    )
    name = models.CharField(max_length=200, blank=True, default="", help_text="As shown")
    rules = models.JSONField(
        default=dict, blank=True, help_text="Rule set: started only when it holds (empty: always)"
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["step", "position", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name or self.item_id}"

    def clean(self) -> None:
        check_rules_field(self.rules)
        errors: dict[str, str] = {}
        needed = CAMPAIGN_KIND_RECIPIENT.get(self.kind)
        recipient = getattr(getattr(self, "step", None), "recipient", "")
        if needed is not None and recipient and recipient != needed:
            errors["kind"] = f"{self.get_kind_display()} needs the {needed.label} recipient."
        if self.kind == "keap_sequence" and not self.sequence_id:
            errors["sequence_id"] = "A Keap campaign sequence needs its sequence id."
        if recipient and self.kind and self.action not in list_actions(recipient, self.kind):
            errors["action"] = f"{self.get_kind_display()} cannot be told to {self.action}."
        if errors:
            raise ValidationError(errors)
