"""Health figures: what a set of counter rows says (rates, averages, percentiles)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from integrations.models import Outcome

from .counters import Counted, Tally
from .latency import latency_percentile

OUTCOMES = tuple(Outcome.values)  # (the enum builds its list anew at every read)


@dataclass
class Figures:
    """Totals of some counter rows, by outcome, with the derived health metrics.

    Success rate and duplicate rate are over the deliveries that reached a CRM
    (success + failure + error); skips sent nothing and are counted apart.
    """

    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    tally: Tally = field(default_factory=Tally)

    def add(self, row: Counted) -> None:
        self.outcomes[row.key.outcome] = (
            self.outcomes.get(row.key.outcome, 0) + row.tally.deliveries
        )
        self.tally.add(row.tally)

    @classmethod
    def of(cls, rows: Iterable[Counted]) -> Figures:
        figures = cls()
        for row in rows:
            figures.add(row)
        return figures

    @property
    def total(self) -> int:
        return self.tally.deliveries

    @property
    def success(self) -> int:
        return self.outcomes.get(Outcome.SUCCESS, 0)

    @property
    def failure(self) -> int:
        return self.outcomes.get(Outcome.FAILURE, 0)

    @property
    def error(self) -> int:
        return self.outcomes.get(Outcome.ERROR, 0)

    @property
    def skip(self) -> int:
        return self.outcomes.get(Outcome.SKIP, 0)

    @property
    def attempted(self) -> int:
        return self.success + self.failure + self.error

    @property
    def duplicates(self) -> int:
        return self.tally.duplicates

    @property
    def success_rate(self) -> float | None:
        return 100.0 * self.success / self.attempted if self.attempted else None

    @property
    def duplicate_rate(self) -> float | None:
        return 100.0 * self.duplicates / self.attempted if self.attempted else None

    @property
    def avg_ms(self) -> float | None:
        return self.tally.response_ms_sum / self.tally.timed if self.tally.timed else None

    def percentile_ms(self, quantile: float) -> float | None:
        return latency_percentile(self.tally.latency, quantile)

    @property
    def p50_ms(self) -> float | None:
        return self.percentile_ms(0.50)

    @property
    def p95_ms(self) -> float | None:
        return self.percentile_ms(0.95)

    @property
    def p99_ms(self) -> float | None:
        return self.percentile_ms(0.99)
