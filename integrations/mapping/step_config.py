"""One recipient step's mapping configuration, loaded and compiled: what step_map reads.

Built from plain values (the model rows are read by integrations.mapping.selectors),
so the mapper stays pure and a preview can build one from unsaved form data. Rules
are parsed and templates compiled here, once; a rule or template that does not load
is kept as a `problem` and reported on every lead rather than crashing a delivery.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from integrations.crm.base import ContactData

from .custom_fields import CustomFieldSpec, custom_field_specs
from .rules import EMPTY, RuleError, RuleSet, ruleset_from_data
from .templates import Template, TemplateError, template_compile

# LeadConduit name -> ContactData attribute (seeds/000 "Automatically Mapped Fields").
STANDARD_FIELDS: dict[str, str] = {
    "first_name": "first_name",
    "middle_name": "middle_name",
    "last_name": "last_name",
    "suffix": "suffix",
    "email": "email",
    "phone_1": "phones",
    "phone_2": "phones",
    "phone_3": "phones",
    "address_1": "address_line1",
    "address_2": "address_line2",
    "city": "city",
    "state": "region_name",
    "postal_code": "postal_code",
    "website": "website",
    "comments": "notes",
    "title": "job_title",
    "dob": "birthday",
}
# Read too when present, though not among the 17: they complete an address or a match.
EXTRA_STANDARD = {"country": "country_alpha2", "company": "company"}
# A mapping may name a standard field by its ContactData attribute too ("notes").
_ATTRIBUTE_ALIASES = {
    attr: name
    for name, attr in {**STANDARD_FIELDS, **EXTRA_STANDARD}.items()
    if attr != "phones" and name != "country"
}
_CONTACT_ATTRIBUTES = frozenset(ContactData.__dataclass_fields__) - {"custom_fields", "extra"}
# Step.options keys that held ids before campaign rules (migration 0003): not read.
LEGACY_OPTION_KEYS = frozenset(
    {
        "remove_tag_ids",
        "pause_sequence_ids",
        "resume_sequence_ids",
        "remove_sequence_ids",
        "action_set_ids",
        "workflow_ids",
    }
)

SlotKind = Literal["standard", "phones", "attribute", "custom", "extra"]


def target_slot(target: str) -> tuple[SlotKind, str]:
    """Where a mapping's target lands: a standard field (by LeadConduit name), the
    front of the phone list, another ContactData attribute, a custom field, or a
    CRM-native field (passed through as `extra`)."""
    target = target.strip()
    if target.startswith("custom:"):
        return "custom", target.removeprefix("custom:").strip()
    if target in STANDARD_FIELDS or target in EXTRA_STANDARD:
        return "standard", target
    if target in _ATTRIBUTE_ALIASES:
        return "standard", _ATTRIBUTE_ALIASES[target]
    if target == "phones":
        return "phones", ""
    if target in _CONTACT_ATTRIBUTES:
        return "attribute", target
    return "extra", target


def preserve_key(slot: tuple[SlotKind, str]) -> str:
    """The StepPlan.preserve_fields key of a slot (CONTRACTS §3)."""
    kind, name = slot
    if kind == "standard":
        return {**STANDARD_FIELDS, **EXTRA_STANDARD}[name]
    if kind == "phones":
        return "phones"
    if kind == "custom":
        return f"custom:{name}"
    if kind == "extra":
        return f"extra:{name}"
    return name


@dataclass(frozen=True)
class MappingConfig:
    kind: str  # "field" | "constant" | "template"
    source: str
    target: str
    rules: RuleSet = EMPTY
    keep_existing: bool = False
    on_invalid: str = "send"  # "send" | "drop" | "skip"
    slot: tuple[SlotKind, str] = ("extra", "")
    path: tuple[str, ...] = ()
    template: Template | None = None
    problem: str = ""  # the rule or template could not be loaded


@dataclass(frozen=True)
class ActionConfig:
    """A tag or campaign rule. `kind`: "tag" or a CampaignKind value."""

    kind: str
    item_id: str
    action: str = "apply"  # tags: apply | remove; campaigns: start | pause | resume | remove
    sequence_id: str = ""
    name: str = ""
    rules: RuleSet = EMPTY
    problem: str = ""


@dataclass(frozen=True)
class StepConfig:
    name: str
    recipient: str
    action: str = "create_or_update"
    duplicate_match: str = "Email"
    address_type: str = "BILLING"
    options: Mapping[str, Any] = field(default_factory=dict)
    criteria: RuleSet = EMPTY
    standard_off: frozenset[str] = frozenset()
    mappings: tuple[MappingConfig, ...] = ()
    actions: tuple[ActionConfig, ...] = ()
    phone_region: str = "US"
    catalogue: Mapping[str, Any] = field(default_factory=dict)
    custom_fields: Mapping[str, CustomFieldSpec] = field(default_factory=dict)
    problems: tuple[str, ...] = ()  # configuration that could not be loaded
    # The compiled mapper (step_compiled.step_mapper), built on first use: derived
    # from the fields above, so not compared, shown, copied or pickled.
    _mapper: Any = field(default=None, init=False, compare=False, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_mapper", None)
        return state


def _rules(data: object, where: str) -> tuple[RuleSet, str]:
    try:
        return ruleset_from_data(data), ""
    except RuleError as exc:
        return EMPTY, f"{where}: {exc.message}"


def mapping_config(
    *,
    kind: str,
    source: str,
    target: str,
    rules: object = None,
    on_existing: str = "update",
    on_invalid: str = "send",
) -> MappingConfig:
    """One mapping, compiled. A template or rule that does not load becomes `problem`."""
    ruleset, problem = _rules(rules, f"mapping to {target}")
    template = None
    if kind == "template":
        try:
            template = template_compile(source)
        except TemplateError as exc:
            problem = problem or f"template for {target}: {exc.message}"
    path = tuple(source.strip().removeprefix("lead.").split(".")) if kind == "field" else ()
    return MappingConfig(
        kind=kind,
        source=source,
        target=target.strip(),
        rules=ruleset,
        keep_existing=on_existing == "keep",
        on_invalid=on_invalid if on_invalid in ("send", "drop", "skip") else "send",
        slot=target_slot(target),
        path=path,
        template=template,
        problem=problem,
    )


def action_config(
    *,
    kind: str,
    item_id: str,
    action: str = "",
    sequence_id: str = "",
    name: str = "",
    rules: object = None,
) -> ActionConfig:
    """A tag (kind "tag"; action apply/remove) or campaign rule (a CampaignKind value;
    action start/pause/resume/remove). The action defaults to apply / start."""
    ruleset, problem = _rules(rules, f"{kind} {name or item_id}")
    return ActionConfig(
        kind=kind,
        item_id=str(item_id).strip(),
        action=action or ("apply" if kind == "tag" else "start"),
        sequence_id=str(sequence_id or "").strip(),
        name=name,
        rules=ruleset,
        problem=problem,
    )


def step_config(
    *,
    name: str,
    recipient: str,
    mappings: Iterable[MappingConfig] = (),
    actions: Iterable[ActionConfig] = (),
    criteria: object = None,
    standard_off: Iterable[str] = (),
    options: Mapping[str, Any] | None = None,
    catalogue: Mapping[str, Any] | None = None,
    phone_region: str = "US",
    action: str = "create_or_update",
    duplicate_match: str = "Email",
    address_type: str = "BILLING",
) -> StepConfig:
    """A step's configuration from plain values (see integrations.mapping.selectors)."""
    criteria_set, criteria_problem = _rules(criteria, "step criteria")
    mappings, actions = tuple(mappings), tuple(actions)
    problems = [p for p in (criteria_problem,) if p]
    problems += [m.problem for m in mappings if m.problem]
    problems += [a.problem for a in actions if a.problem]
    catalogue = catalogue if isinstance(catalogue, Mapping) else {}
    return StepConfig(
        name=name,
        recipient=recipient,
        action=action,
        duplicate_match=duplicate_match,
        address_type=address_type,
        options={k: v for k, v in (options or {}).items() if k not in LEGACY_OPTION_KEYS},
        criteria=criteria_set,
        standard_off=frozenset(standard_off),
        mappings=mappings,
        actions=actions,
        phone_region=(phone_region or "US").upper(),
        catalogue=catalogue,
        custom_fields=custom_field_specs(catalogue),
        problems=tuple(problems),
    )
