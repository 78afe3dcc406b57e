"""The mapper: one lead's context through one step's configuration -> what to send.

    step_map(config=StepConfig, context=lead_context(...)) -> MappedStep

The delivery engine and the studio's preview both call it. Pure and total: it never
raises for any lead (an invalid value is sent as received, dropped, or skips the
step, as the mapping says), and it makes no I/O.

Order: step criteria -> the standard fields (minus those switched off) -> each
mapping whose rule holds (overriding a standard field, or setting a custom or
CRM-native field) -> normalisation (email, phones to E.164, state to ISO 3166-2,
postal code, date of birth, a full name split) -> "email or phone required" ->
tags and campaigns whose rules hold.

The step's compiled mapper does the work (step_compiled.py: built once per StepConfig).
tests/mapping/reference_mapper.py says the same plainly, one rule and mapping at a
time; tests/mapping/test_compiled_step.py holds the two to the same results.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .rules import rules_explain
from .step_compiled import step_mapper
from .step_config import StepConfig
from .step_result import CRITERIA_NOT_MET, EMAIL_OR_PHONE_REQUIRED, Decision, MappedStep

__all__ = ["CRITERIA_NOT_MET", "EMAIL_OR_PHONE_REQUIRED", "Decision", "MappedStep", "step_map"]


def step_map(
    *, config: StepConfig, context: Mapping[str, Any], explain: bool = False
) -> MappedStep:
    """Map one lead for one step. Never raises; `explain` adds rule traces (previews):
    how the step's criteria and each tag or campaign rule decided, condition by
    condition."""
    mapped = step_mapper(config)(context)
    if not explain:
        return mapped
    # The rules are pure: explained again, condition by condition, they decide as the
    # mapper's predicates did (tests/mapping/test_compiled_step.py checks it). A skipped
    # lead has no decisions to explain.
    decisions = mapped.decisions
    if decisions:
        decisions = tuple(
            d if item.rules.is_empty else replace(d, rule=rules_explain(item.rules, context))
            for d, item in zip(decisions, config.actions, strict=True)
        )
    return replace(mapped, decisions=decisions, criteria=rules_explain(config.criteria, context))
