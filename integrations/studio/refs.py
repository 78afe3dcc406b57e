"""Where a step names catalogue entries, and what those entries are called.

A step refers to its account's catalogue in its lists (tags, sequences, workflows,
action sets: `RecipientSpec.lists`) and in its mappings' custom-field targets
("custom:<id>", or "custom:<_Name>" over XML-RPC). This module finds those references,
names them from a catalogue ("Check step": an id not in the catalogue is flagged),
turns them into portable `{"$ref": ...}` objects for export, and back into ids against
another account's catalogue (import: matched by name).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from integrations.crm.registry import RECIPIENTS
from integrations.crm.spec import FieldSpec, ListSpec, RecipientSpec
from integrations.models import Step

CUSTOM_PREFIX = "custom:"
REF = "$ref"


@dataclass(frozen=True)
class Reference:
    """One catalogue entry a step names. `name` is "" when the catalogue lacks it."""

    place: str  # what the marketer calls the setting: "Tags", "Mapping → custom field"
    catalogue: str  # the catalogue list: "tags", "campaigns", "campaigns.sequences"
    value: Any  # the id (or name) as the step stores it
    name: str
    parent: str = ""  # a sequence's campaign name

    @property
    def found(self) -> bool:
        return bool(self.name)


def entries(catalogue: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """A catalogue list as {"id", "name", ...} dicts (plain strings become id = name)."""
    items = catalogue.get(name)
    if not isinstance(items, list):
        return []
    return [i if isinstance(i, dict) else {"id": str(i), "name": str(i)} for i in items]


def entry_by(items: list[dict[str, Any]], field: str, value: Any) -> dict[str, Any] | None:
    wanted = _norm(value)
    return next((i for i in items if _norm(i.get(field)) == wanted), None)


def _norm(value: Any) -> str:
    return " ".join(str(value if value is not None else "").split()).casefold()


def step_recipient_spec(step: Step) -> RecipientSpec | None:
    return RECIPIENTS.get(step.recipient)


def list_spec(spec: RecipientSpec | None, kind: str) -> ListSpec | None:
    return next((lst for lst in spec.lists if lst.kind == kind), None) if spec else None


def manual_field(spec: RecipientSpec | None, name: str) -> FieldSpec | None:
    return next((f for f in spec.manual_fields if f.name == name), None) if spec else None


def rule_references(
    lst: ListSpec, item_id: Any, sequence_id: Any, catalogue: dict[str, Any]
) -> Iterator[Reference]:
    """The references of one tag or campaign rule: the entry, and a campaign sequence's
    sequence inside its campaign."""
    items = entries(catalogue, lst.catalogue)
    field = "name" if lst.by == "name" else "id"
    entry = entry_by(items, field, item_id)
    yield Reference(lst.label, lst.catalogue, item_id, _name(entry))
    if lst.item == "campaign_sequence":
        sequence = entry_by(entries(entry or {}, "sequences"), "id", sequence_id)
        yield Reference(
            lst.label,
            f"{lst.catalogue}.sequences",
            sequence_id,
            _name(sequence),
            parent=_name(entry),
        )


def step_references(step: Step, catalogue: dict[str, Any]) -> list[Reference]:
    """Every catalogue entry the step names, each named from `catalogue` when found.
    HighLevel tags (names the CRM creates on use) are not references."""
    spec = step_recipient_spec(step)
    if spec is None:
        return []
    found: list[Reference] = []
    tags = list_spec(spec, "tag")
    for rule in step.tag_rules.all():
        if tags is not None and tags.by != "name":
            found.extend(rule_references(tags, rule.tag_id, "", catalogue))
    for campaign_rule in step.campaign_rules.all():
        lst = list_spec(spec, campaign_rule.kind)
        if lst is not None:
            found.extend(
                rule_references(lst, campaign_rule.item_id, campaign_rule.sequence_id, catalogue)
            )
    fields = entries(catalogue, "custom_fields")
    for mapping in step.mappings.all():
        target = mapping.target.strip()
        if target.startswith(CUSTOM_PREFIX):
            value = target.removeprefix(CUSTOM_PREFIX).removeprefix(spec.custom_field_prefix)
            entry = entry_by(fields, spec.custom_field_key, value)
            name = str(entry.get("name") or value) if entry else ""
            found.append(Reference("Mapping → custom field", "custom_fields", value, name))
        manual = manual_field(spec, target)
        if manual and manual.catalogue and mapping.value_kind == "constant":
            entry = entry_by(entries(catalogue, manual.catalogue), "id", mapping.source)
            found.append(Reference(manual.label, manual.catalogue, mapping.source, _name(entry)))
    return found


def _name(entry: dict[str, Any] | None) -> str:
    return str(entry.get("name") or entry.get("id")) if entry else ""


# --- portable references (export / import) --------------------------------------------


def ref_out(catalogue_name: str, value: Any, catalogue: dict[str, Any], **extra: Any) -> Any:
    """A portable reference: the id with its catalogue name (or the bare value when the
    catalogue does not know it: it is then reported unmatched on import)."""
    field = extra.pop("field", "id")
    entry = entry_by(entries(catalogue, catalogue_name), field, value)
    return {REF: catalogue_name, "id": value, "name": _name(entry), "field": field, **extra}


@dataclass
class Resolution:
    """What an import matched by name, and what it could not."""

    matched: list[tuple[str, str, Any, Any]]  # (catalogue, name, old id, new id)
    unmatched: list[tuple[str, str, Any]]  # (catalogue, name, old id)

    def note(self, catalogue_name: str, name: str, old: Any, new: Any) -> None:
        if new is None:
            self.unmatched.append((catalogue_name, name, old))
        else:
            self.matched.append((catalogue_name, name, old, new))


def ref_in(ref: dict[str, Any], catalogue: dict[str, Any], resolution: Resolution) -> Any:
    """The target catalogue's value for a portable reference, matched by name; None when
    nothing of that name is there (noted as unmatched)."""
    kind = str(ref.get(REF, ""))
    name = str(ref.get("name") or "")
    field = str(ref.get("field") or "id")
    if kind.endswith(".sequences"):
        parent = entry_by(entries(catalogue, kind.partition(".")[0]), "name", ref.get("parent"))
        items = entries(parent or {}, "sequences")
    else:
        items = entries(catalogue, kind)
    entry = entry_by(items, "name", name) if name else None
    new = entry.get(field) if entry else None
    label = f"{ref.get('parent')} › {name}" if ref.get("parent") else name
    resolution.note(kind, label or str(ref.get("id")), ref.get("id"), new)
    return new


def is_ref(value: Any) -> bool:
    return isinstance(value, dict) and REF in value
