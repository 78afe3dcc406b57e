"""A step's configuration compiled into one function of a lead's context.

    step_mapper(config)(context) == step_map_interpreted(config=config, context=context)

The delivery engine maps every lead of a flow through the same few StepConfigs, so
what can be decided once per step is decided here, when the mapper is built (on
first use, kept on the StepConfig): the step becomes one straight-line Python function
(step_source.py writes it) in which each mapping is a few lines that already know its
value kind, its target slot, its custom field's type and its on-invalid policy, each
standard field a local variable, and each tag or campaign its two possible Decisions
and what it adds to the plan. Per lead there remain only the look-ups, the rule
conditions, the templates (for a Scope built once), the normalisers and the results.

This module holds what that function calls: the per-mapping template renderers and
custom field checks (remembering results by their inputs, see MEMO_ENTRIES), and the
on-invalid policy. tests/mapping/reference_mapper.py's step_map_interpreted is the
specification this must agree with, and tests/mapping/test_compiled_step.py holds them
to it (hypothesis leads, every value kind, slot, policy and action).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .custom_fields import CustomFieldSpec, custom_value_checker
from .step_config import MappingConfig, StepConfig
from .step_result import MappedStep, Skip
from .templates import TemplateError

Mapper = Callable[[Mapping[str, Any]], MappedStep]
# Results kept per template mapping and per custom field check, by their inputs
# (pure: same inputs, same output). Leads repeat scores, sources, states, campaigns...
# At most this many per mapping (a full memo starts again empty); read when a step is
# compiled: 0 turns memoising off for the steps compiled then (the benchmark measures
# both).
MEMO_ENTRIES = 1024


def step_mapper(config: StepConfig) -> Mapper:
    """The config's compiled mapper, built on first use and kept on the config."""
    mapper = config._mapper
    if mapper is None:
        from .step_source import step_function

        mapper = step_function(config)
        object.__setattr__(config, "_mapper", mapper)  # a cache, not state: see StepConfig
    return mapper  # type: ignore[no-any-return]


def invalid(messages: list[str], policy: str, label: str, problem: str, reason: str) -> bool:
    """Apply an on-invalid policy (the reference's _Work.invalid). True: send the value
    as received; raises Skip(reason) when the policy skips the step."""
    if policy == "skip":
        messages.append(f"{label}: {problem}; the step is skipped")
        raise Skip(reason)
    if policy == "drop":
        messages.append(f"{label}: {problem}; left out")
        return False
    messages.append(f"{label}: {problem}; sent as received")
    return True


def template_renderer(mapping: MappingConfig, memo_entries: int) -> Callable[[Any], str]:
    """The mapping's template as a function of the lead's Scope: its text, or raises
    TemplateError. Remembers results (and errors) by the template's inputs."""
    template = mapping.template
    assert template is not None
    fast = template.fast
    if not memo_entries or fast is None or not fast.memoisable or template.plain is not None:
        return template.render_for  # no inputs to key on, or plain look-ups: cheaper to redo
    memo: dict[Any, str | TemplateError] = {}
    inputs, render_for = fast.key, template.render_for  # fast.key: Template.inputs

    def render(scope: Any) -> str:
        key = inputs(scope)
        if key is not None:
            known = memo.get(key)
            if known is not None:
                if type(known) is str:
                    return known
                # Without the traceback of its last raise: it would keep that lead's
                # frames (and everything they hold) alive while remembered.
                raise known.with_traceback(None)  # type: ignore[union-attr]
        try:
            text = render_for(scope)
        except TemplateError as exc:
            _remember(memo, key, exc, memo_entries)
            raise
        _remember(memo, key, text, memo_entries)
        return text

    return render


def custom_checker(
    spec: CustomFieldSpec, memo_entries: int
) -> tuple[Callable[[Any], tuple[Any, str]], dict[str, tuple[Any, str]] | None]:
    """custom_value_check for one field: (converted, "") or (value, problem), and the
    answers it remembers for strings (the check is pure), None when it does not."""
    check = custom_value_checker(spec)
    if not memo_entries:
        return check, None
    memo: dict[str, tuple[Any, str]] = {}
    get = memo.get

    def remembered(value: Any) -> tuple[Any, str]:
        if type(value) is not str:
            return check(value)
        known = get(value)
        if known is None:
            known = check(value)
            _remember(memo, value, known, memo_entries)
        return known

    return remembered, memo


def _remember(memo: dict[Any, Any], key: Any, result: Any, entries: int) -> None:
    if key is None:
        return
    if len(memo) >= entries:
        memo.clear()
    memo[key] = result
