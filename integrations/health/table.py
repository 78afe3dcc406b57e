"""The report's table as cells: what the dashboard shows and the CSV export writes,
from one definition, so the two always agree."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

from integrations.models import Metric, Outcome

from .figures import Figures
from .reports import GROUPS, Report, Row


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    value: Callable[[Figures], float | int | None]
    decimals: int = 0
    outcome: str = ""  # the delivery list behind the number: this outcome…
    duplicate: bool = False  # …or the duplicates
    metric: str = ""  # badge against this threshold


COLUMNS = (
    Column("deliveries", "Deliveries", lambda f: f.total),
    Column("success", "Success", lambda f: f.success, outcome=Outcome.SUCCESS),
    Column("failure", "Failures", lambda f: f.failure, outcome=Outcome.FAILURE),
    Column("error", "Errors", lambda f: f.error, outcome=Outcome.ERROR),
    Column("skip", "Skipped", lambda f: f.skip, outcome=Outcome.SKIP),
    Column("success_rate", "Success %", lambda f: f.success_rate, 1, metric=Metric.SUCCESS_RATE),
    Column("duplicates", "Duplicates", lambda f: f.duplicates, duplicate=True),
    Column(
        "duplicate_rate", "Duplicate %", lambda f: f.duplicate_rate, 1, metric=Metric.DUPLICATE_RATE
    ),
    Column("avg_ms", "Avg ms", lambda f: f.avg_ms, metric=Metric.RESPONSE_MS),
    Column("p95_ms", "p95 ms", lambda f: f.p95_ms),
    Column("p99_ms", "p99 ms", lambda f: f.p99_ms),
)


def cell_text(column: Column, figures: Figures) -> str:
    value = column.value(figures)
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return f"{value:.{column.decimals}f}"


def table_rows(report: Report) -> list[Row]:
    """The total first, then one row per account, flow or step."""
    return [report.total, *report.rows]


def report_csv(report: Report) -> str:
    """The table as CSV: a header, the total, one line per group member."""
    out = io.StringIO()
    writer = csv.writer(out)
    window = report.window
    writer.writerow([GROUPS[report.group].lower(), *(c.label for c in COLUMNS), "from", "to"])
    for row in table_rows(report):
        writer.writerow(
            [
                row.name,
                *(cell_text(c, row.figures) for c in COLUMNS),
                window.start.isoformat(),
                window.end.isoformat(),
            ]
        )
    return out.getvalue()
