"""The mapper read as a specification: one lead's context through one step's
configuration, each rule, mapping and normaliser in turn.

    step_map_interpreted(config=StepConfig, context=lead_context(...)) -> MappedStep

integrations.mapping.step_map does the same work with the step's compiled mapper
(step_compiled.py, written out by step_source.py); tests/mapping/test_compiled_step.py
holds the two to the same results, with `explain` too. Pure and total: it never raises
for any lead (an invalid value is sent as received, dropped, or skips the step, as the
mapping says), and it makes no I/O.

Order: step criteria -> the standard fields (minus those switched off) -> each
mapping whose rule holds (overriding a standard field, or setting a custom or
CRM-native field) -> normalisation (email, phones to E.164, state to ISO 3166-2,
postal code, date of birth, a full name split) -> "email or phone required" ->
tags and campaigns whose rules hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from integrations.crm.base import ContactData, StepPlan
from integrations.mapping.contact_values import (
    birthday_normalise,
    email_normalise,
    name_split,
    phone_normalise,
    postal_code_normalise,
)
from integrations.mapping.context import context_value
from integrations.mapping.custom_fields import custom_value_check
from integrations.mapping.places import place_from_lead
from integrations.mapping.rules import RuleSet, RuleTrace, rules_evaluate, rules_explain
from integrations.mapping.step_config import MappingConfig, StepConfig, preserve_key
from integrations.mapping.step_result import (
    CRITERIA_NOT_MET,
    DEFAULT_ON_INVALID,
    EMAIL_OR_PHONE_REQUIRED,
    OPTION_KEYS,
    SKIP_REASONS,
    STANDARD_NAMES,
    Decision,
    MappedStep,
    Skip,
)
from integrations.mapping.template_compiler import Scope
from integrations.mapping.templates import TemplateError
from integrations.mapping.values import as_text, is_blank


@dataclass
class _Work:
    config: StepConfig
    context: Mapping[str, Any]
    lead: Mapping[str, Any]
    values: dict[str, Any]
    on_invalid: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ON_INVALID))
    front_phones: list[Any] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    preserve: set[str] = field(default_factory=set)
    messages: list[str] = field(default_factory=list)
    scope: Scope | None = None

    def invalid(self, policy: str, label: str, problem: str, reason: str) -> bool:
        """Apply an on-invalid policy. True: send the value as received."""
        if policy == "skip":
            self.messages.append(f"{label}: {problem}; the step is skipped")
            raise Skip(reason)
        if policy == "drop":
            self.messages.append(f"{label}: {problem}; left out")
            return False
        self.messages.append(f"{label}: {problem}; sent as received")
        return True


def step_map_interpreted(
    *, config: StepConfig, context: Mapping[str, Any], explain: bool = False
) -> MappedStep:
    """The mapper read as a specification: each rule, mapping and normaliser in turn."""
    criteria = rules_explain(config.criteria, context) if explain else None
    met = criteria.matched if criteria is not None else rules_evaluate(config.criteria, context)
    messages = [f"configuration: {p}" for p in config.problems]
    if not met:
        return MappedStep(None, None, (), tuple(messages), CRITERIA_NOT_MET, criteria)
    lead = context.get("lead")
    lead = lead if isinstance(lead, Mapping) else {}
    work = _Work(config, context, lead, _standard_values(config, lead), messages=messages)
    try:
        for mapping in config.mappings:
            _apply(work, mapping)
        contact = _contact(work)
    except Skip as skip:
        return MappedStep(None, None, (), tuple(work.messages), skip.reason, criteria)
    decisions = tuple(_decide(config, context, explain))
    plan = _plan(config, decisions, frozenset(work.preserve))
    return MappedStep(contact, plan, decisions, tuple(work.messages), "", criteria)


def _standard_values(config: StepConfig, lead: Mapping[str, Any]) -> dict[str, Any]:
    values = {n: lead.get(n) for n in STANDARD_NAMES if n not in config.standard_off}
    if is_blank(values.get("first_name")) and is_blank(values.get("last_name")):
        full = lead.get("full_name") or lead.get("name")
        if isinstance(full, str) and full.strip():
            parts = name_split(full)
            for name, part in zip(
                ("first_name", "middle_name", "last_name", "suffix"), parts, strict=True
            ):
                if part and name not in config.standard_off and is_blank(values.get(name)):
                    values[name] = part
    return values


def _value(work: _Work, mapping: MappingConfig) -> Any:
    """The mapping's value; raises TemplateError when a template cannot render."""
    if mapping.kind == "constant":
        return mapping.source
    if mapping.kind == "template":
        if mapping.template is None:
            raise TemplateError(mapping.problem or "the template does not compile")
        if work.scope is None:
            work.scope = Scope(work.context, work.config.catalogue)
        return mapping.template.render_for(work.scope)
    found = context_value(work.lead, mapping.path)
    return context_value(work.context, mapping.source) if found is None else found


def _apply(work: _Work, mapping: MappingConfig) -> None:
    if not mapping.rules.is_empty and not rules_evaluate(mapping.rules, work.context):
        return
    label = mapping.target
    try:
        value = _value(work, mapping)
    except TemplateError as exc:
        work.invalid(mapping.on_invalid, label, exc.message, f"invalid value for {label}")
        return  # a template that failed has nothing to send "as received"
    if is_blank(value):
        return
    kind, name = mapping.slot
    if mapping.keep_existing:
        work.preserve.add(preserve_key(mapping.slot))
    if kind == "standard":
        work.values[name] = value
        work.on_invalid[name] = mapping.on_invalid
    elif kind == "phones":
        work.front_phones.append(value)
        work.on_invalid["phones"] = mapping.on_invalid
    elif kind == "attribute":
        work.attributes[name] = as_text(value)
    elif kind == "custom":
        spec = work.config.custom_fields.get(name)
        if spec is not None:
            converted, problem = custom_value_check(spec, value)
            if problem and not work.invalid(
                mapping.on_invalid, label, problem, f"invalid value for {label}"
            ):
                return
            value = value if problem else converted
        work.custom[name] = value
    else:
        work.extra[name] = value


def _text(values: Mapping[str, Any], name: str) -> str:
    value = values.get(name)
    return "" if isinstance(value, dict | list) else as_text(value)[:10_000]


def _contact(work: _Work) -> ContactData:
    values, config = work.values, work.config
    place = place_from_lead(
        state=_text(values, "state")[:100],
        country_value=_text(values, "country")[:100] or config.phone_region,
    )
    region = place.country_alpha2 or config.phone_region
    contact = ContactData(
        first_name=_text(values, "first_name"),
        middle_name=_text(values, "middle_name"),
        last_name=_text(values, "last_name"),
        suffix=_text(values, "suffix"),
        address_line1=_text(values, "address_1"),
        address_line2=_text(values, "address_2"),
        city=_text(values, "city"),
        region_code=place.region_code,
        region_name=place.region_name,
        country_alpha2=place.country_alpha2,
        country_alpha3=place.country_alpha3,
        website=_text(values, "website"),
        notes=_text(values, "comments"),
        job_title=_text(values, "title"),
        company=_text(values, "company"),
    )
    email = _text(values, "email")
    if email:
        normalised = email_normalise(email)
        if normalised.valid or _keep(work, "email", "not a valid email"):
            contact.email = normalised.value
    postal = _text(values, "postal_code")
    if postal:
        normalised = postal_code_normalise(postal, place.country_alpha2 or config.phone_region)
        if normalised.valid or _keep(work, "postal_code", "not a valid postal code"):
            contact.postal_code = normalised.value
    dob = values.get("dob")
    if not is_blank(dob):
        normalised = birthday_normalise(dob)
        if normalised.valid:
            contact.birthday = normalised.value
        else:
            _keep(work, "dob", "not a date")  # "send" cannot send text as a date: left out
    phones = [*work.front_phones, *(values.get(f"phone_{n}") for n in (1, 2, 3))]
    for number, raw in enumerate(phones):
        text = "" if isinstance(raw, dict | list) else as_text(raw)[:64]
        if not text:
            continue
        normalised = phone_normalise(text, region)
        name = (
            "phones"
            if number < len(work.front_phones)
            else f"phone_{number - len(work.front_phones) + 1}"
        )
        if normalised.valid or _keep(work, name, "not a valid phone number"):
            contact.phones.append(normalised.value)
    for name, value in work.attributes.items():
        setattr(contact, name, value)
    contact.custom_fields, contact.extra = work.custom, work.extra
    if not contact.email and not contact.phones:
        raise Skip(EMAIL_OR_PHONE_REQUIRED)
    return contact


def _keep(work: _Work, name: str, problem: str) -> bool:
    """An invalid standard value: True when it is to be sent as received."""
    policy = work.on_invalid.get(name, "send")
    reason = SKIP_REASONS.get(name, f"invalid value for {name}")
    return work.invalid(policy, name, problem, reason)


def _decide(config: StepConfig, context: Mapping[str, Any], explain: bool) -> list[Decision]:
    decisions = []
    for item in config.actions:
        applies, trace = _holds(item.rules, context, explain)
        if item.problem:
            applies = False  # a rule that does not load never applies
        decisions.append(
            Decision(
                item.kind, item.action, item.item_id, item.name, applies, trace, item.sequence_id
            )
        )
    return decisions


def _holds(
    rules: RuleSet, context: Mapping[str, Any], explain: bool
) -> tuple[bool, RuleTrace | None]:
    if rules.is_empty:
        return True, None
    if explain:
        trace = rules_explain(rules, context)
        return trace.matched, trace
    return rules_evaluate(rules, context), None


def _plan(
    config: StepConfig, decisions: tuple[Decision, ...], preserve: frozenset[str]
) -> StepPlan:
    tags: list[str] = []
    sequences: list[dict[str, Any]] = []
    options: dict[str, Any] = dict(config.options)
    for d in decisions:
        if not d.applies or not d.item_id:
            continue
        if d.kind == "tag" and d.action == "apply":
            tags.append(d.item_id)
        elif d.kind == "keap_sequence":
            sequences.append({"campaign_id": d.item_id, "sequence_id": d.sequence_id})
        elif d.action == "start" and d.kind in ("followup_sequence", "highlevel_campaign"):
            sequences.append({"campaign_id": d.item_id})
        elif (d.kind, d.action) in OPTION_KEYS:
            options.setdefault(OPTION_KEYS[(d.kind, d.action)], []).append(d.item_id)
    return StepPlan(
        action=config.action,
        duplicate_match=config.duplicate_match,
        address_type=config.address_type,
        tag_ids=tuple(dict.fromkeys(tags)),
        sequences=tuple(sequences),
        options=options,
        preserve_fields=preserve,
    )
