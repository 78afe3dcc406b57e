"""What mapping one lead for one step gives (step_map's result), shared by the
compiled mapper (step_compiled.py, step_source.py) and the reference one the tests
hold it to (tests/mapping/reference_mapper.py)."""

from __future__ import annotations

from dataclasses import dataclass

from integrations.crm.base import ContactData, StepPlan

from .rules import RuleTrace
from .step_config import EXTRA_STANDARD, STANDARD_FIELDS

STANDARD_NAMES = (*STANDARD_FIELDS, *EXTRA_STANDARD)
# Without a mapping saying otherwise: what an invalid standard value does.
DEFAULT_ON_INVALID = {"email": "skip", "dob": "skip"}
SKIP_REASONS = {"email": "invalid email", "dob": "invalid date of birth"}
CRITERIA_NOT_MET = "step criteria not met"
EMAIL_OR_PHONE_REQUIRED = "email or phone required"


@dataclass(frozen=True)
class Decision:
    """Whether a tag or campaign applies to this lead, and the rule that decided."""

    kind: str  # "tag" or a CampaignKind value
    action: str
    item_id: str
    name: str
    applies: bool
    rule: RuleTrace | None = None  # None: no rule (always), or not explained
    sequence_id: str = ""  # Keap REST campaign sequences


@dataclass(frozen=True)
class MappedStep:
    contact: ContactData | None  # None when skipped
    plan: StepPlan | None
    decisions: tuple[Decision, ...] = ()
    messages: tuple[str, ...] = ()  # validation messages (no lead data in them)
    skip_reason: str = ""  # a fixed, countable phrase
    criteria: RuleTrace | None = None

    @property
    def skipped(self) -> bool:
        return bool(self.skip_reason)


class Skip(Exception):
    """Raised inside a mapper: the step is skipped for `reason` (a fixed phrase)."""

    def __init__(self, reason: str):
        self.reason = reason


# (kind, action) -> the StepPlan.options key a recipient reads the ids from.
OPTION_KEYS = {
    ("tag", "remove"): "remove_tag_ids",
    ("followup_sequence", "pause"): "pause_sequence_ids",
    ("followup_sequence", "resume"): "resume_sequence_ids",
    ("followup_sequence", "remove"): "remove_sequence_ids",
    ("action_set", "start"): "action_set_ids",
    ("highlevel_workflow", "start"): "workflow_ids",
}
