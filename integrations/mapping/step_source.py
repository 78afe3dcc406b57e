"""Writes a step's mapper as the source of one Python function, and compiles it.

    step_function(config) -> run(context) -> MappedStep

What the reference mapper (tests/mapping/reference_mapper.py, step_map_interpreted)
does for every lead by walking the configuration is written out once, in order, as
straight-line code: the standard fields are local variables, each mapping a few lines
for its value kind and target slot, each rule set an expression, the contact and the
plan built from those locals. Only names appear in the source: every value that comes
from the configuration (field paths, targets, constants, labels, ids, policies) is
bound in the function's namespace under a generated name (`_k12`), never written into
the text, so no configuration can change what the code does. Module constants
(standard field names) are the only literals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from integrations.crm.base import ContactData, StepPlan

from . import step_compiled
from .contact_values import birthday_normalise, name_split, postal_code_normalise
from .context import context_getter
from .phones import phone_e164
from .places import place_from_lead
from .source_writer import SourceWriter, same
from .step_config import ActionConfig, MappingConfig, StepConfig, preserve_key
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
from .template_compiler import LookupContext, Scope
from .templates import CatalogueIndex, TemplateError
from .values import as_text, is_blank, is_email

_NAME_PARTS = ("first_name", "middle_name", "last_name", "suffix")
_PHONE_FIELDS = ("phone_1", "phone_2", "phone_3")
# The standard fields whose on-invalid policy the contact reads (and "phones").
_POLICED = ("email", "postal_code", "dob", "phones", *_PHONE_FIELDS)
# The contact's text fields: ContactData attribute <- standard field.
_TEXTS = {
    "first_name": "first_name",
    "middle_name": "middle_name",
    "last_name": "last_name",
    "suffix": "suffix",
    "address_line1": "address_1",
    "address_line2": "address_2",
    "city": "city",
    "website": "website",
    "notes": "comments",
    "job_title": "title",
    "company": "company",
}
_GLOBALS = {
    "_Mapping": Mapping,
    "_new": object.__new__,
    "_MappedStep": MappedStep,
    "_ContactData": ContactData,
    "_StepPlan": StepPlan,
    "_Skip": Skip,
    "_TemplateError": TemplateError,
    "_Scope": Scope,
    "_invalid": step_compiled.invalid,
    "_is_blank": is_blank,
    "_as_text": as_text,
    "_name_split": name_split,
    "_place": place_from_lead,
    "_is_email": is_email,
    "_e164": phone_e164,
    "_postal": postal_code_normalise,
    "_birthday": birthday_normalise,
    "_CRITERIA_NOT_MET": CRITERIA_NOT_MET,
    "_EMAIL_OR_PHONE_REQUIRED": EMAIL_OR_PHONE_REQUIRED,
}


def step_function(config: StepConfig) -> Callable[[Mapping[str, Any]], MappedStep]:
    """The step's mapper: the reference's step_map_interpreted(config=config,
    context=...) without `explain`, as one compiled function."""
    source = _Source(step_compiled.MEMO_ENTRIES)
    source.step(config)
    namespace = {**_GLOBALS, **source.names}
    code = compile("\n".join(source.lines), f"<step {id(config):x}>", "exec")
    exec(code, namespace)  # our own text: configuration values are bound by name only
    return namespace["run"]  # type: ignore[no-any-return]


def _text(local: str, limit: int) -> str:
    """the reference's _text of a local, truncated to `limit` characters."""
    return (
        f"({local}.strip()[:{limit}] if type({local}) is str "
        f'else "" if {local} is None else _as_text({local})[:{limit}])'
    )


class _Source(SourceWriter):
    def __init__(self, memo_entries: int):
        super().__init__()
        self.memo_entries = memo_entries

    # --- the step ------------------------------------------------------------------

    def step(self, config: StepConfig) -> None:
        problems = self.bind(tuple(f"configuration: {p}" for p in config.problems))
        mappings = config.mappings
        self.policed = {
            m.slot[1] if m.slot[0] == "standard" else "phones"
            for m in mappings
            if m.slot[0] in ("standard", "phones") and not _broken(m)
        } & set(_POLICED)
        with self.block("def run(context):"):
            # What the rules read of the lead (context_getter's two-part path, inline).
            self.add('rules_lead = context.get("lead") if type(context) is dict else None')
            with self.block("if type(rules_lead) is not dict:"):
                self.add("rules_lead = None")
            if not config.criteria.is_empty:
                with self.block(f"if not {self.rule(config.criteria)}:"):
                    self.add(
                        f"return _MappedStep(None, None, (), {problems}, _CRITERIA_NOT_MET, None)"
                    )
            self.add('lead = context.get("lead")')
            with self.block("if type(lead) is not dict:"):
                self.add("lead = dict(lead) if isinstance(lead, _Mapping) else {}")
            self.standard_values(config)
            self.add(f"messages = [*{problems}]")
            for name in sorted(self.policed):
                self.add(f"p_{name} = {self.bind(DEFAULT_ON_INVALID.get(name, 'send'))}")
            kinds = {m.slot[0] for m in mappings if not _broken(m)}
            if "phones" in kinds:
                self.add("front = []")
            if "attribute" in kinds:
                self.add("attributes = {}")
            self.add("custom = {}")
            self.add("extra = {}")
            self.keeps = any(m.keep_existing and not _broken(m) for m in mappings)
            if self.keeps:
                self.add("preserve = set()")
            if any(m.kind == "template" and not _broken(m) for m in mappings):
                catalogue = config.catalogue
                lookups = LookupContext(catalogue, CatalogueIndex(catalogue))
                self.add(f"scope = _Scope(context, {self.bind(catalogue)}, {self.bind(lookups)})")
            with self.block("try:"):
                for mapping in mappings:
                    self.mapping(config, mapping)
                self.contact(config, "phones" in kinds, "attribute" in kinds)
            with self.block("except _Skip as skip:"):
                self.add("return _MappedStep(None, None, (), tuple(messages), skip.reason, None)")
            self.plan(config)
            values = {"contact": "contact", "plan": "plan", "decisions": "decisions"}
            values.update(messages="tuple(messages)", skip_reason='""', criteria="None")
            self.new("mapped", MappedStep, values)
            self.add("return mapped")

    def standard_values(self, config: StepConfig) -> None:
        """the reference's _standard_values: a local `v_<name>` per standard field."""
        self.add("get = lead.get")
        for name in STANDARD_NAMES:
            on = name not in config.standard_off
            self.add(f"v_{name} = get({name!r})" if on else f"v_{name} = None")
        with self.block("if _is_blank(v_first_name) and _is_blank(v_last_name):"):
            self.add('full = get("full_name") or get("name")')
            with self.block("if isinstance(full, str) and full.strip():"):
                self.add("parts = _name_split(full)")
                for number, name in enumerate(_NAME_PARTS):
                    if name not in config.standard_off:
                        part = f"parts[{number}]"
                        with self.block(f"if {part} and _is_blank(v_{name}):"):
                            self.add(f"v_{name} = {part}")

    # --- mappings ------------------------------------------------------------------

    def mapping(self, config: StepConfig, mapping: MappingConfig) -> None:
        """the reference's _apply for one mapping."""
        if mapping.rules.is_empty:
            self.mapping_body(config, mapping)
            return
        with self.block(f"if {self.rule(mapping.rules)}:"):
            self.mapping_body(config, mapping)

    def mapping_body(self, config: StepConfig, mapping: MappingConfig) -> None:
        label, policy = self.bind(mapping.target), self.bind(mapping.on_invalid)
        reason = self.bind(f"invalid value for {mapping.target}")
        if _broken(mapping):
            message = self.bind(mapping.problem or "the template does not compile")
            self.add(f"_invalid(messages, {policy}, {label}, {message}, {reason})")
            return
        if mapping.kind == "constant":
            if not is_blank(mapping.source):
                self.put(config, mapping, mapping.source, (policy, label, reason))
            return
        if mapping.kind == "template":
            render = self.bind(step_compiled.template_renderer(mapping, self.memo_entries))
            with self.block("try:"):
                self.add(f"value = {render}(scope)")
            with self.block("except _TemplateError as exc:"):
                self.add(f"_invalid(messages, {policy}, {label}, exc.message, {reason})")
            with self.block("else:"), self.block("if value:"):  # rendered text is stripped
                self.put(config, mapping, None, (policy, label, reason))
            return
        if len(mapping.path) == 1:
            self.add(f"value = get({self.bind(mapping.path[0])})")
        else:
            self.add(f"value = {self.bind(context_getter(mapping.path))}(lead)")
        with self.block("if value is None:"):
            self.add(f"value = {self.bind(context_getter(mapping.source))}(context)")
        blank = "(not value.strip() if type(value) is str else _is_blank(value))"
        with self.block(f"if not {blank}:"):
            self.put(config, mapping, None, (policy, label, reason))

    def put(
        self, config: StepConfig, mapping: MappingConfig, constant: Any, how: tuple[str, ...]
    ) -> None:
        """Write a non-blank value to the mapping's slot: `value`, or the constant."""
        value = "value" if constant is None else self.bind(constant)
        policy, label, reason = how
        if mapping.keep_existing:
            self.add(f"preserve.add({self.bind(preserve_key(mapping.slot))})")
        kind, name = mapping.slot
        if kind == "standard":
            assert name in STANDARD_NAMES  # an identifier of ours, never the config's text
            self.add(f"v_{name} = {value}")
            if name in self.policed:
                self.add(f"p_{name} = {policy}")
        elif kind == "phones":
            self.add(f"front.append({value})")
            self.add(f"p_phones = {policy}")
        elif kind == "attribute":
            text = f"_as_text({value})" if constant is None else self.bind(as_text(constant))
            self.add(f"attributes[{self.bind(name)}] = {text}")
        elif kind == "custom":
            key = self.bind(name)
            spec = config.custom_fields.get(name)
            if spec is None:
                self.add(f"custom[{key}] = {value}")
                return
            check, memo = step_compiled.custom_checker(spec, self.memo_entries)
            if constant is not None:  # checked now: the check is pure
                converted, problem = check(constant)
                if not problem:
                    self.add(f"custom[{key}] = {self.bind(converted)}")
                    return
                self.add(f"problem = {self.bind(problem)}")
            else:
                checked = f"{self.bind(check)}(value)"
                if memo is not None:  # a remembered answer without a call
                    memo_get = f"{self.bind(memo)}.get(value)"
                    self.add(f"known = {memo_get} if type(value) is str else None")
                    checked = f"{checked} if known is None else known"
                self.add(f"converted, problem = {checked}")
                with self.block("if not problem:"):
                    self.add(f"custom[{key}] = converted")
            with self.block(f"{'el' if constant is None else ''}if _invalid(messages, "
                            f"{policy}, {label}, problem, {reason}):"):  # fmt: skip
                self.add(f"custom[{key}] = {value}")
        else:
            self.add(f"extra[{self.bind(name)}] = {value}")

    # --- the contact ---------------------------------------------------------------

    def keep(self, name: str, problem: str) -> str:
        """the reference's _keep: an invalid standard value is to be sent as received."""
        policy = f"p_{name}" if name in self.policed else repr(DEFAULT_ON_INVALID.get(name, "send"))
        reason = self.bind(SKIP_REASONS.get(name, f"invalid value for {name}"))
        return f"_invalid(messages, {policy}, {name!r}, {problem!r}, {reason})"

    def contact(self, config: StepConfig, fronts: bool, attributes: bool) -> None:
        """the reference's _contact, from the locals."""
        region = self.bind(config.phone_region)
        for name in (*_TEXTS.values(), "email", "postal_code", "state", "country"):
            self.add(f"t_{name} = {_text(f'v_{name}', 10_000)}")
        self.add(f"place = _place(state=t_state[:100], country_value=t_country[:100] or {region})")
        self.add(f"region = place.country_alpha2 or {region}")
        self.add('email = postal_code = ""')
        with self.block("if t_email:"):
            self.add("text = t_email.strip().lower()")  # email_normalise, inline
            with self.block(f"if _is_email(text) or {self.keep('email', 'not a valid email')}:"):
                self.add("email = text")
        with self.block("if t_postal_code:"):
            self.add(f"normalised = _postal(t_postal_code, place.country_alpha2 or {region})")
            problem = self.keep("postal_code", "not a valid postal code")
            with self.block(f"if normalised.valid or {problem}:"):
                self.add("postal_code = normalised.value")
        self.add("birthday = None")
        with self.block("if not _is_blank(v_dob):"):
            self.add("normalised = _birthday(v_dob)")
            with self.block("if normalised.valid:"):
                self.add("birthday = normalised.value")
            with self.block("else:"):
                self.add(self.keep("dob", "not a date"))  # "send" cannot send text as a date
        self.add("phones = []")
        numbers = [("raw", "phones")] if fronts else []
        numbers += [(f"v_{name}", name) for name in _PHONE_FIELDS]
        for local, name in numbers:
            with self.block("for raw in front:") if fronts and name == "phones" else same():
                self.add(f"text = {_text(local, 64)}")
                with self.block("if text:"):  # phone_normalise, inline
                    self.add("text = text.strip()")
                    self.add('e164 = _e164(text, region or "US")')
                    with self.block("if e164 is not None:"):
                        self.add("phones.append(e164)")
                    with self.block(f"elif {self.keep(name, 'not a valid phone number')}:"):
                        self.add("phones.append(text)")
        values = {attr: f"t_{name}" for attr, name in _TEXTS.items()}
        values.update(email="email", postal_code="postal_code", birthday="birthday")
        values.update(phones="phones", custom_fields="custom", extra="extra")
        for name in ("region_code", "region_name", "country_alpha2", "country_alpha3"):
            values[name] = f"place.{name}"
        self.new("contact", ContactData, values)
        if attributes:
            with self.block("for name, value in attributes.items():"):
                self.add("setattr(contact, name, value)")
        with self.block("if not contact.email and not contact.phones:"):
            self.add("raise _Skip(_EMAIL_OR_PHONE_REQUIRED)")

    # --- tags and campaigns --------------------------------------------------------

    def plan(self, config: StepConfig) -> None:
        """the reference's _decide and _plan, each action's effect decided now."""
        self.add("tags = []")
        self.add("sequences = []")
        self.add(f"options = dict({self.bind(config.options)})")
        decisions = []
        for number, item in enumerate(config.actions):
            yes = self.bind(_decision(item, True))
            no = self.bind(_decision(item, False))
            decisions.append(f"d{number}")
            if item.problem:  # a rule that does not load never applies
                self.add(f"d{number} = {no}")
                continue
            if item.rules.is_empty:
                self.add(f"d{number} = {yes}")
                self.effect(item)
                continue
            with self.block(f"if {self.rule(item.rules)}:"):
                self.add(f"d{number} = {yes}")
                self.effect(item)
            with self.block("else:"):
                self.add(f"d{number} = {no}")
        self.add(f"decisions = ({''.join(f'{d}, ' for d in decisions)})")
        preserve = "frozenset(preserve)" if self.keeps else self.bind(frozenset())
        self.new(
            "plan",
            StepPlan,
            {
                "action": self.bind(config.action),
                "duplicate_match": self.bind(config.duplicate_match),
                "address_type": self.bind(config.address_type),
                "tag_ids": "tuple(dict.fromkeys(tags))",
                "sequences": "tuple(sequences)",
                "options": "options",
                "preserve_fields": preserve,
            },
        )

    def effect(self, item: ActionConfig) -> None:
        """What an applying item adds to the plan (the reference's _plan)."""
        if not item.item_id:
            return
        item_id = self.bind(item.item_id)
        if item.kind == "tag" and item.action == "apply":
            self.add(f"tags.append({item_id})")
        elif item.kind == "keap_sequence":
            sequence = {"campaign_id": item.item_id, "sequence_id": item.sequence_id}
            self.add(f"sequences.append(dict({self.bind(sequence)}))")
        elif item.action == "start" and item.kind in ("followup_sequence", "highlevel_campaign"):
            self.add(f"sequences.append(dict({self.bind({'campaign_id': item.item_id})}))")
        elif (item.kind, item.action) in OPTION_KEYS:
            key = self.bind(OPTION_KEYS[(item.kind, item.action)])
            self.add(f"options.setdefault({key}, []).append({item_id})")


def _broken(mapping: MappingConfig) -> bool:
    return mapping.kind == "template" and mapping.template is None


def _decision(item: ActionConfig, applies: bool) -> Decision:
    return Decision(
        item.kind, item.action, item.item_id, item.name, applies, None, item.sequence_id
    )
