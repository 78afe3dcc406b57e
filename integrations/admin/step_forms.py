"""The step editor's forms: every id picked by name from the account's catalogue,
every rule edited as rows, no JSON typed by hand.

The forms only translate between what the marketer picks and the stored rows; the
choices come from integrations.studio.choices (the catalogue and the CRM's spec).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from integrations.crm.spec import FieldSpec
from integrations.models import CampaignRule, FieldMapping, Step, TagRule
from integrations.studio.choices import (
    CAMPAIGN_SEP,
    campaign_choices,
    manual_field_choices,
    standard_fields,
    tag_choices,
    target_choices,
    target_ref,
)

from .catalogue_picker import NOT_IN_CATALOGUE, CataloguePicker
from .rule_widget import RuleSetField


def _with_current(choices: list[Any], current: str, label: str = "") -> list[Any]:
    """Keep a stored value selectable (flagged) when the catalogue no longer has it."""
    flat = {
        value
        for item in choices
        for value in ([v for v, _ in item[1]] if isinstance(item[1], list) else [item[0]])
    }
    if current and current not in flat:
        return [(current, f"{label or current} {NOT_IN_CATALOGUE}"), *choices]
    return choices


# --- the step ---------------------------------------------------------------------------


class StepForm(forms.ModelForm):
    """The step's own settings, its standard fields and its manual data."""

    rules = RuleSetField(
        required=False, label="Send only when", help_text="Step criteria: otherwise skip."
    )
    standard_fields_on = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "standard-fields"}),
        label="Mapped automatically",
        help_text="Untick a field to stop sending it. A mapping below to the same field "
        "overrides the lead's value.",
    )
    allow_duplicates = forms.BooleanField(
        required=False,
        label="Allow duplicate contacts",
        help_text="HighLevel: create a new contact even when one matches.",
    )

    class Meta:
        model = Step
        fields = [
            "flow",
            "position",
            "name",
            "kind",
            "enabled",
            "account",
            "recipient",
            "action",
            "duplicate_match",
            "address_type",
            "on_error",
            "retry_schedule",
            "rules",
            "filter_action",
            "route_flow",
            "filter_reason",
        ]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        step = self.instance if self.instance.pk else None
        standard = standard_fields(step)
        self.fields["standard_fields_on"].choices = [
            (f.lead_field, f"{f.label} ← lead.{f.lead_field}") for f in standard
        ]
        off = set(self.instance.standard_fields_off or [])
        self.fields["standard_fields_on"].initial = [
            f.lead_field for f in standard if f.lead_field not in off
        ]
        self.fields["allow_duplicates"].initial = bool(
            (self.instance.options or {}).get("allow_duplicates")
        )
        self.manual_specs: list[FieldSpec] = list(self.manual_fields_of(step))
        current = self.manual_values(step)
        for spec in self.manual_specs:
            value, keep = current.get(spec.name, ("", False))
            choices = manual_field_choices(step, spec)
            if choices or spec.kind in ("choice", "boolean"):
                if spec.kind == "boolean" and not choices:
                    choices = [("true", "Yes"), ("false", "No")]
                field: forms.Field = forms.ChoiceField(
                    choices=[("", "— not set —"), *_with_current(choices, value)],
                    required=False,
                    # Yes / No needs no search.
                    widget=forms.Select if spec.kind == "boolean" else CataloguePicker,
                )
            else:
                field = forms.CharField(required=False, max_length=200)
            field.label = spec.label
            field.help_text = spec.help
            field.initial = value
            self.fields[f"manual__{spec.name}"] = field
            self.fields[f"manual_keep__{spec.name}"] = forms.BooleanField(
                required=False,
                initial=keep,
                label="keep on existing contacts",
            )

    @staticmethod
    def manual_fields_of(step: Step | None) -> tuple[FieldSpec, ...]:
        from integrations.studio.choices import step_spec

        spec = step_spec(step)
        return spec.manual_fields if spec else ()

    @staticmethod
    def manual_values(step: Step | None) -> dict[str, tuple[str, bool]]:
        if step is None:
            return {}
        names = {f.name for f in StepForm.manual_fields_of(step)}
        return {
            m.target: (m.source, m.on_existing == "keep")
            for m in step.mappings.filter(value_kind="constant", target__in=names)
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        step = self.instance if self.instance.pk else None
        if step is not None and "standard_fields_on" in self.changed_data:
            on = set(data.get("standard_fields_on") or [])
            self.instance.standard_fields_off = [
                f.lead_field for f in standard_fields(step) if f.lead_field not in on
            ]
        options = dict(self.instance.options or {})
        if data.get("allow_duplicates"):
            options["allow_duplicates"] = True
        else:
            options.pop("allow_duplicates", None)
        self.instance.options = options
        return data

    def manual_data(self) -> list[tuple[str, str, bool]]:
        """(target, value, keep) for each manual field, as submitted."""
        return [
            (
                spec.name,
                str(self.cleaned_data.get(f"manual__{spec.name}") or ""),
                bool(self.cleaned_data.get(f"manual_keep__{spec.name}")),
            )
            for spec in self.manual_specs
        ]


# --- inline rows ------------------------------------------------------------------------


class StepBoundInlineForm(forms.ModelForm):
    """An inline form that knows its step (set by the inline's get_formset)."""

    step: Step | None = None


class FieldMappingForm(StepBoundInlineForm):
    """A custom mapping. Its checks (a template that compiles, a constant that fits the
    custom field's type, a field in the catalogue) are the model's own
    (integrations.mapping.checks), so they hold wherever a mapping is saved."""

    target = forms.ChoiceField(label="CRM field", widget=CataloguePicker(ref=target_ref))
    rules = RuleSetField(required=False, label="Only when")

    class Meta:
        model = FieldMapping
        fields = ["target", "value_kind", "source", "on_existing", "on_invalid", "rules"]
        labels = {"source": "Value", "value_kind": "Value is"}
        widgets = {"source": forms.TextInput(attrs={"size": 28, "placeholder": "lead field"})}

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        choices = target_choices(self.step)
        current = self.initial.get("target") or self.instance.target or ""
        self.fields["target"].choices = [("", "—"), *_with_current(choices, current)]


class TagRuleForm(StepBoundInlineForm):
    tag_id = forms.ChoiceField(label="Tag", widget=CataloguePicker)
    rules = RuleSetField(required=False, label="Only when")

    class Meta:
        model = TagRule
        fields = ["action", "tag_id", "rules"]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        choices = tag_choices(self.step)
        current = str(self.initial.get("tag_id") or self.instance.tag_id or "")
        self.fields["tag_id"].choices = [
            ("", "—"),
            *_with_current(choices, current, self.instance.name),
        ]
        self._names = dict(choices)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        tag = str(data.get("tag_id") or "")
        if tag in self._names:
            self.instance.name = self._names[tag]
        return data


class CampaignRuleForm(StepBoundInlineForm):
    entry = forms.ChoiceField(label="Sequence, workflow or campaign", widget=CataloguePicker)
    rules = RuleSetField(required=False, label="Only when")

    class Meta:
        model = CampaignRule
        fields = ["entry", "action", "rules"]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        groups = campaign_choices(self.step)
        instance = self.instance
        current = (
            CAMPAIGN_SEP.join((instance.kind, instance.item_id, instance.sequence_id))
            if instance.pk
            else ""
        )
        self.fields["entry"].choices = [
            ("", "—"),
            *_with_current(groups, current, instance.name or instance.item_id),
        ]
        self.fields["entry"].initial = current
        self._names = {value: label for _, choices in groups for value, label in choices}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        entry = str(data.get("entry") or "")
        if entry:
            kind, item_id, sequence_id = (entry.split(CAMPAIGN_SEP) + ["", ""])[:3]
            self.instance.kind, self.instance.item_id = kind, item_id
            self.instance.sequence_id = sequence_id
            self.instance.name = self._names.get(entry, self.instance.name)
        elif not self.instance.pk and self.has_changed():
            raise ValidationError("Pick a sequence, workflow or campaign.")
        return data
