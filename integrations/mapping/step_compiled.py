"""A step's configuration compiled into one function of a lead's context.

    step_mapper(config)(context) == step_map_interpreted(config=config, context=context)

The delivery engine maps every lead of a flow through the same few StepConfigs, so
what can be decided once per step is decided here, when the mapper is built (on
first use, kept on the StepConfig): each rule set becomes a predicate, each mapping a
small function that already knows its value kind, its target slot, its custom field's
type and its on-invalid policy, each tag or campaign its two possible Decisions and
what it adds to the plan. Per lead there remain only the look-ups, the templates
(rendered for a Scope built once, only when the step has a template), the normalisers
and the result objects.

step_map.py's step_map_interpreted is the specification this must agree with, and
tests/mapping/test_compiled_step.py holds them to it (hypothesis leads, every value
kind, slot, policy and action).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from integrations.crm.base import ContactData, StepPlan

from .contact_values import (
    birthday_normalise,
    email_normalise,
    name_split,
    phone_normalise,
    postal_code_normalise,
)
from .context import context_getter
from .custom_fields import custom_value_checker
from .places import place_from_lead
from .rules import rules_predicate
from .step_config import MappingConfig, StepConfig, preserve_key
from .step_result import (
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
from .template_compiler import Scope
from .templates import TemplateError
from .values import as_text, is_blank

Mapper = Callable[[Mapping[str, Any]], MappedStep]
# Results kept per template mapping and per custom field check, by their inputs
# (pure: same inputs, same output). Leads repeat scores, sources, states, campaigns...
# 0 turns memoising off (the benchmark measures both).
MEMO_ENTRIES = 1024
_NAME_PARTS = ("first_name", "middle_name", "last_name", "suffix")
_PHONE_FIELDS = ("phone_1", "phone_2", "phone_3")


def step_mapper(config: StepConfig) -> Mapper:
    """The config's compiled mapper, built on first use and kept on the config."""
    mapper = config._mapper
    if mapper is None:
        mapper = _Compiled(config).run
        object.__setattr__(config, "_mapper", mapper)  # a cache, not state: see StepConfig
    return mapper  # type: ignore[no-any-return]


class _Work:
    """One lead on its way through the step (step_map.py's _Work)."""

    __slots__ = (
        "context",
        "lead",
        "values",
        "on_invalid",
        "front_phones",
        "attributes",
        "custom",
        "extra",
        "preserve",
        "messages",
        "scope",
        "catalogue",
    )

    def __init__(
        self,
        context: Mapping[str, Any],
        lead: Mapping[str, Any],
        values: dict[str, Any],
        messages: list[str],
        catalogue: Mapping[str, Any],
    ):
        self.context = context
        self.lead = lead
        self.values = values
        self.on_invalid = dict(DEFAULT_ON_INVALID)
        self.front_phones: list[Any] = []
        self.attributes: dict[str, Any] = {}
        self.custom: dict[str, Any] = {}
        self.extra: dict[str, Any] = {}
        self.preserve: set[str] = set()
        self.messages = messages
        self.scope: Scope | None = None
        self.catalogue = catalogue

    def template_scope(self) -> Scope:
        if self.scope is None:
            self.scope = Scope(self.context, self.catalogue)
        return self.scope

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

    def keep(self, name: str, problem: str) -> bool:
        """An invalid standard value: True when it is to be sent as received."""
        policy = self.on_invalid.get(name, "send")
        reason = SKIP_REASONS.get(name, f"invalid value for {name}")
        return self.invalid(policy, name, problem, reason)


Step = Callable[[_Work], None]


class _Compiled:
    def __init__(self, config: StepConfig):
        self.config = config
        self.criteria = None if config.criteria.is_empty else rules_predicate(config.criteria)
        self.problems = tuple(f"configuration: {p}" for p in config.problems)
        off = config.standard_off
        self.names = tuple(n for n in STANDARD_NAMES if n not in off)
        self.split_names = tuple((n if n not in off else "") for n in _NAME_PARTS)
        self.steps = [_mapping_step(config, mapping) for mapping in config.mappings]
        self.actions = [_action(item) for item in config.actions]
        self.options = config.options
        self.catalogue = config.catalogue
        self.region = config.phone_region

    def run(self, context: Mapping[str, Any]) -> MappedStep:
        if self.criteria is not None and not self.criteria(context):
            return MappedStep(None, None, (), self.problems, CRITERIA_NOT_MET, None)
        lead = context.get("lead")
        if type(lead) is not dict and not isinstance(lead, Mapping):
            lead = {}
        work = _Work(context, lead, self.values(lead), list(self.problems), self.catalogue)
        try:
            for step in self.steps:
                step(work)
            contact = self.contact(work)
        except Skip as skip:
            return MappedStep(None, None, (), tuple(work.messages), skip.reason, None)
        decisions, plan = self.plan(context, frozenset(work.preserve))
        return MappedStep(contact, plan, decisions, tuple(work.messages), "", None)

    def values(self, lead: Mapping[str, Any]) -> dict[str, Any]:
        get = lead.get
        values = {n: get(n) for n in self.names}
        if is_blank(values.get("first_name")) and is_blank(values.get("last_name")):
            full = get("full_name") or get("name")
            if isinstance(full, str) and full.strip():
                for name, part in zip(self.split_names, name_split(full), strict=True):
                    if part and name and is_blank(values.get(name)):
                        values[name] = part
        return values

    def contact(self, work: _Work) -> ContactData:
        values = work.values
        texts = _texts(values)
        place = place_from_lead(
            state=texts["state"][:100],
            country_value=texts["country"][:100] or self.region,
        )
        region = place.country_alpha2 or self.region
        contact = ContactData(
            first_name=texts["first_name"],
            middle_name=texts["middle_name"],
            last_name=texts["last_name"],
            suffix=texts["suffix"],
            address_line1=texts["address_1"],
            address_line2=texts["address_2"],
            city=texts["city"],
            region_code=place.region_code,
            region_name=place.region_name,
            country_alpha2=place.country_alpha2,
            country_alpha3=place.country_alpha3,
            website=texts["website"],
            notes=texts["comments"],
            job_title=texts["title"],
            company=texts["company"],
        )
        email = texts["email"]
        if email:
            normalised = email_normalise(email)
            if normalised.valid or work.keep("email", "not a valid email"):
                contact.email = normalised.value
        postal = texts["postal_code"]
        if postal:
            normalised = postal_code_normalise(postal, place.country_alpha2 or self.region)
            if normalised.valid or work.keep("postal_code", "not a valid postal code"):
                contact.postal_code = normalised.value
        dob = values.get("dob")
        if not is_blank(dob):
            normalised = birthday_normalise(dob)
            if normalised.valid:
                contact.birthday = normalised.value
            else:
                work.keep("dob", "not a date")  # "send" cannot send text as a date
        fronts = work.front_phones
        phones = contact.phones
        for number, raw in enumerate([*fronts, *(values.get(n) for n in _PHONE_FIELDS)]):
            kind = type(raw)
            text = "" if kind is dict or kind is list else as_text(raw)[:64]
            if not text:
                continue
            normalised = phone_normalise(text, region)
            if normalised.valid:
                phones.append(normalised.value)
                continue
            name = "phones" if number < len(fronts) else _PHONE_FIELDS[number - len(fronts)]
            if work.keep(name, "not a valid phone number"):
                phones.append(normalised.value)
        for name, value in work.attributes.items():
            setattr(contact, name, value)
        contact.custom_fields, contact.extra = work.custom, work.extra
        if not contact.email and not contact.phones:
            raise Skip(EMAIL_OR_PHONE_REQUIRED)
        return contact

    def plan(
        self, context: Mapping[str, Any], preserve: frozenset[str]
    ) -> tuple[tuple[Decision, ...], StepPlan]:
        config = self.config
        decisions: list[Decision] = []
        tags: list[str] = []
        sequences: list[dict[str, Any]] = []
        options: dict[str, Any] = dict(self.options)
        for holds, yes, no, effect in self.actions:
            if holds is not None and not holds(context):
                decisions.append(no)
                continue
            decisions.append(yes)
            if effect is None:
                continue
            kind, key, value = effect
            if kind == "tag":
                tags.append(value)
            elif kind == "sequence":
                sequences.append(dict(value))
            else:
                options.setdefault(key, []).append(value)
        plan = StepPlan(
            action=config.action,
            duplicate_match=config.duplicate_match,
            address_type=config.address_type,
            tag_ids=tuple(dict.fromkeys(tags)),
            sequences=tuple(sequences),
            options=options,
            preserve_fields=preserve,
        )
        return tuple(decisions), plan


_TEXT_FIELDS = (
    *("first_name", "middle_name", "last_name", "suffix", "address_1", "address_2", "city"),
    *("website", "comments", "title", "company", "email", "postal_code", "state", "country"),
)


def _texts(values: Mapping[str, Any]) -> dict[str, str]:
    """step_map.py's _text for each standard field the contact reads, in one pass."""
    texts: dict[str, str] = {}
    get = values.get
    for name in _TEXT_FIELDS:
        value = get(name)
        if type(value) is str:
            texts[name] = value.strip()[:10_000]
        elif value is None or type(value) is dict or type(value) is list:
            texts[name] = ""
        else:
            texts[name] = as_text(value)[:10_000]
    return texts


# --- tags and campaigns -----------------------------------------------------------------

Effect = tuple[str, str, Any] | None


def _action(
    item: Any,
) -> tuple[Callable[[Mapping[str, Any]], bool] | None, Decision, Decision, Effect]:
    """(rule predicate or None for always, the Decision when it applies, when it does
    not, what an applying item adds to the plan)."""
    yes = Decision(item.kind, item.action, item.item_id, item.name, True, None, item.sequence_id)
    no = Decision(item.kind, item.action, item.item_id, item.name, False, None, item.sequence_id)
    if item.problem:  # a rule that does not load never applies
        return (lambda context: False), yes, no, None
    holds = None if item.rules.is_empty else rules_predicate(item.rules)
    return holds, yes, no, _effect(item)


def _effect(item: Any) -> Effect:
    """step_map.py's _plan for one applying decision."""
    if not item.item_id:
        return None
    if item.kind == "tag" and item.action == "apply":
        return ("tag", "", item.item_id)
    if item.kind == "keap_sequence":
        return ("sequence", "", {"campaign_id": item.item_id, "sequence_id": item.sequence_id})
    if item.action == "start" and item.kind in ("followup_sequence", "highlevel_campaign"):
        return ("sequence", "", {"campaign_id": item.item_id})
    if (item.kind, item.action) in OPTION_KEYS:
        return ("option", OPTION_KEYS[(item.kind, item.action)], item.item_id)
    return None


# --- mappings ---------------------------------------------------------------------------


def _mapping_step(config: StepConfig, mapping: MappingConfig) -> Step:
    """step_map.py's _apply for one mapping, with what it reads of the mapping bound."""
    gate = None if mapping.rules.is_empty else rules_predicate(mapping.rules)
    label, policy = mapping.target, mapping.on_invalid
    reason = f"invalid value for {label}"
    if mapping.kind == "template" and mapping.template is None:
        message = mapping.problem or "the template does not compile"

        def broken(work: _Work) -> None:
            if gate is None or gate(work.context):
                work.invalid(policy, label, message, reason)

        return broken
    value_of = _value_getter(mapping)
    put = _slot_writer(config, mapping, label, policy, reason)
    keep = preserve_key(mapping.slot) if mapping.keep_existing else None
    if mapping.kind == "field" and gate is None and keep is None:  # the common case
        from_lead, from_context = context_getter(mapping.path), context_getter(mapping.source)

        def field_step(work: _Work) -> None:
            value = from_lead(work.lead)
            if value is None:
                value = from_context(work.context)
            if type(value) is str:
                if not value.strip():
                    return
            elif is_blank(value):
                return
            put(work, value)

        return field_step
    if mapping.kind == "template" and gate is None and keep is None:

        def template_step(work: _Work) -> None:
            try:
                value = value_of(work)
            except TemplateError as exc:
                work.invalid(policy, label, exc.message, reason)
                return
            if value:  # rendered text, stripped: blank is ""
                put(work, value)

        return template_step

    def step(work: _Work) -> None:
        if gate is not None and not gate(work.context):
            return
        try:
            value = value_of(work)
        except TemplateError as exc:
            work.invalid(policy, label, exc.message, reason)
            return  # a template that failed has nothing to send "as received"
        if type(value) is str:
            if not value.strip():
                return
        elif is_blank(value):
            return
        if keep is not None:
            work.preserve.add(keep)
        put(work, value)

    return step


def _value_getter(mapping: MappingConfig) -> Callable[[_Work], Any]:
    if mapping.kind == "constant":
        constant = mapping.source
        return lambda work: constant
    if mapping.kind == "template":
        template = mapping.template
        assert template is not None
        if not MEMO_ENTRIES or template.plain is not None:  # plain look-ups: cheaper to redo
            return lambda work: template.render_for(work.template_scope())
        memo: dict[Any, str | TemplateError] = {}
        inputs = template.inputs

        def render(work: _Work) -> str:
            scope = work.scope
            if scope is None:
                scope = work.template_scope()
            key = inputs(scope)
            if key is not None:
                known = memo.get(key)
                if known is not None:
                    if isinstance(known, TemplateError):
                        raise known
                    return known
            try:
                text = template.render_for(scope)
            except TemplateError as exc:
                _remember(memo, key, exc)
                raise
            _remember(memo, key, text)
            return text

        return render
    from_lead, from_context = context_getter(mapping.path), context_getter(mapping.source)

    def field_value(work: _Work) -> Any:
        found = from_lead(work.lead)
        return from_context(work.context) if found is None else found

    return field_value


def _slot_writer(
    config: StepConfig, mapping: MappingConfig, label: str, policy: str, reason: str
) -> Callable[[_Work, Any], None]:
    kind, name = mapping.slot
    if kind == "standard":

        def standard(work: _Work, value: Any) -> None:
            work.values[name] = value
            work.on_invalid[name] = policy

        return standard
    if kind == "phones":

        def front_phone(work: _Work, value: Any) -> None:
            work.front_phones.append(value)
            work.on_invalid["phones"] = policy

        return front_phone
    if kind == "attribute":

        def attribute(work: _Work, value: Any) -> None:
            work.attributes[name] = as_text(value)

        return attribute
    if kind == "custom":
        spec = config.custom_fields.get(name)
        if spec is None:

            def unchecked(work: _Work, value: Any) -> None:
                work.custom[name] = value

            return unchecked

        check = custom_value_checker(spec)
        memo: dict[Any, tuple[Any, str]] = {}

        def custom(work: _Work, value: Any) -> None:
            if MEMO_ENTRIES and type(value) is str:  # remembered: check is pure
                known = memo.get(value)
                if known is None:
                    known = check(value)
                    _remember(memo, value, known)
                converted, problem = known
            else:
                converted, problem = check(value)
            if problem and not work.invalid(policy, label, problem, reason):
                return
            work.custom[name] = value if problem else converted

        return custom

    def extra(work: _Work, value: Any) -> None:
        work.extra[name] = value

    return extra


def _remember(memo: dict[Any, Any], key: Any, result: Any) -> None:
    if key is None:
        return
    if len(memo) >= MEMO_ENTRIES:
        memo.clear()
    memo[key] = result
