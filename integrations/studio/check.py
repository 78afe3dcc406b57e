"""Check step: every catalogue id the step names, against the account's catalogue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.timesince import timesince

from integrations.models import Step

from .refs import Reference, step_references


@dataclass(frozen=True)
class StepCheck:
    problems: tuple[str, ...]  # one line per id the catalogue does not have
    references: tuple[Reference, ...]
    catalogue_age: str  # "fetched 3 minutes ago", or "never fetched"

    @property
    def ok(self) -> bool:
        return not self.problems


def catalogue_age(refreshed_at: datetime | None) -> str:
    if refreshed_at is None:
        return "never fetched: press “Refresh catalogue”"
    return f"fetched {timesince(refreshed_at, timezone.now())} ago"


def step_check(*, step: Step) -> StepCheck:
    """Which ids of the step the account's catalogue lacks. Reads only."""
    account = step.account
    catalogue = account.catalogue or {} if account else {}
    references = tuple(step_references(step, catalogue))
    problems = tuple(
        f"{ref.place}: {ref.catalogue.replace('_', ' ')} id {ref.value} is not in the "
        f"account's catalogue" + (f" (campaign {ref.parent})" if ref.parent else "")
        for ref in references
        if not ref.found
    )
    return StepCheck(
        problems=problems,
        references=references,
        catalogue_age=catalogue_age(account.catalogue_refreshed_at if account else None),
    )
