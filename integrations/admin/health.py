"""The health dashboard (the admin's home page for users with
`integrations.view_dashboard`), its CSV export, and the thresholds' admin."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import get_script_prefix, path, reverse
from django.utils import timezone

from integrations.health.alerts import alerts_active
from integrations.health.reports import (
    GROUPS,
    RANGES,
    Names,
    Report,
    Row,
    Scope,
    Window,
    object_names,
    report_build,
    scope_choices,
    window_parse,
)
from integrations.health.table import COLUMNS, cell_text, report_csv, table_rows
from integrations.health.thresholds import TARGETS
from integrations.models import DailyCounter, Metric, Outcome, Threshold

PERMISSION = "integrations.view_dashboard"
OUTCOME_COLOURS = {
    Outcome.SUCCESS: "#2e9d55",
    Outcome.FAILURE: "#d64545",
    Outcome.ERROR: "#f0a030",
    Outcome.SKIP: "#9aa5ad",
}


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def request_report(request: HttpRequest, names: Names | None = None) -> Report:
    get = request.GET
    window = window_parse(
        key=get.get("range"), since=get.get("since"), until=get.get("until"), now=timezone.now()
    )
    scope = Scope(
        account_id=_int(get.get("account")),
        flow_id=_int(get.get("flow")),
        step_id=_int(get.get("step")),
    )
    return report_build(window=window, scope=scope, group=get.get("group") or "step", names=names)


def _window_bounds(window: Window) -> tuple[str, str]:
    if window.hourly:
        return window.start.replace(microsecond=0).isoformat(), ""
    return window.first_day.isoformat(), window.last_day.isoformat()


def _period_bounds(period: date | datetime) -> tuple[str, str]:
    """finished_from / finished_to of one period: a UTC day (inclusive dates) or an hour."""
    if isinstance(period, datetime):
        start = period.astimezone(UTC)
        return start.isoformat(), (start + timedelta(hours=1)).isoformat()
    return period.isoformat(), period.isoformat()


def deliveries_url(
    window: Window,
    scope: Scope,
    *,
    period: date | datetime | None = None,
    with_window: bool = True,
    group: str = "",
    object_id: int | None = None,
    outcome: str = "",
    reason: str = "",
    duplicate: bool = False,
) -> str:
    """The delivery list behind a number: same window (or one period of it), same scope."""
    params: dict[str, Any] = {}
    if with_window:
        params["finished_from"], params["finished_to"] = (
            _period_bounds(period) if period is not None else _window_bounds(window)
        )
        if not params["finished_to"]:
            del params["finished_to"]
    ids = {
        "step__account__id__exact": scope.account_id,
        "step__flow__id__exact": scope.flow_id,
        "step__id__exact": scope.step_id,
    }
    if object_id is not None:
        ids[
            {"account": "step__account__id__exact", "flow": "step__flow__id__exact"}.get(
                group, "step__id__exact"
            )
        ] = object_id
    params.update({k: v for k, v in ids.items() if v})
    if outcome:
        params["outcome__exact"] = outcome
    if reason:
        params["reason"] = reason
    if duplicate:
        params["duplicate__exact"] = "1"
    return f"{_deliveries_path()}?{urlencode(params)}"


_paths: dict[str, str] = {}


def _deliveries_path() -> str:
    """The delivery list's path, reversed once per script prefix (a dashboard links
    a hundred numbers to it)."""
    prefix = get_script_prefix()
    if prefix not in _paths:
        _paths[prefix] = reverse("admin:integrations_delivery_changelist")
    return _paths[prefix]


def _cells(report: Report, row: Row) -> list[dict[str, Any]]:
    object_id = row.object_id if row.group != "total" else None
    return [
        {
            "text": cell_text(column, row.figures),
            "badge": row.badge(column.metric).value if column.metric else "",
            "url": deliveries_url(
                report.window,
                report.scope,
                group=row.group,
                object_id=object_id,
                outcome=column.outcome,
                duplicate=column.duplicate,
            ),
        }
        for column in COLUMNS
    ]


def _label(period: date | datetime) -> str:
    if isinstance(period, datetime):
        return timezone.localtime(period).strftime("%H:%M")
    return period.strftime("%b %d")


def chart_data(report: Report) -> dict[str, Any]:
    """What the charts draw (passed through json_script): one value per period."""
    series = report.series
    limits = report.total.limits

    def rounded(value: float | None, digits: int = 1) -> float | None:
        return None if value is None else round(value, digits)

    return {
        "labels": [_label(p) for p, _ in series],
        # A bar or point opens the deliveries of its period: the page builds those links
        # from this base (the scope) and each period's bounds (cheaper than 450 links).
        "link_base": deliveries_url(report.window, report.scope, with_window=False),
        "periods": [_period_bounds(p) for p, _ in series],
        "outcomes": [
            {
                "key": o.value,
                "label": Outcome(o).label,
                "colour": colour,
                "data": [f.outcomes.get(o, 0) for _, f in series],
            }
            for o, colour in OUTCOME_COLOURS.items()
        ],
        "success_rate": [rounded(f.success_rate) for _, f in series],
        "avg_ms": [rounded(f.avg_ms, 0) for _, f in series],
        "p95_ms": [rounded(f.p95_ms, 0) for _, f in series],
        "duplicate_rate": [rounded(f.duplicate_rate) for _, f in series],
        "limits": {
            "success": limits.min_success_pct,
            "response": limits.max_response_ms,
            "duplicate": limits.max_duplicate_pct,
        },
        "reasons": {
            "labels": [reason for _, reason, _ in report.reasons],
            "data": [n for _, _, n in report.reasons],
            "colours": [OUTCOME_COLOURS[Outcome(o)] for o, _, _ in report.reasons],
            "links": [
                deliveries_url(report.window, report.scope, outcome=o, reason=r)
                for o, r, _ in report.reasons
            ],
        },
    }


def _kpi(label: str, value: str, url: str, sub: str, badge: str = "") -> dict[str, str]:
    return {"label": label, "value": value, "url": url, "sub": sub, "badge": badge}


def _fmt(value: float | None, unit: str = "", digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}{unit}"


def _kpis(report: Report) -> list[dict[str, str]]:
    f, row, window, scope = report.total.figures, report.total, report.window, report.scope
    limits = row.limits
    percentiles = " · ".join(
        f"{name} {_fmt(value, '', 0)}"
        for name, value in (("p50", f.p50_ms), ("p95", f.p95_ms), ("p99", f.p99_ms))
    )
    return [
        _kpi("Deliveries", f"{f.total:,}", deliveries_url(window, scope), f"{f.skip:,} skipped"),
        _kpi(
            "Success rate",
            _fmt(f.success_rate, " %"),
            deliveries_url(window, scope, outcome=Outcome.SUCCESS),
            f"alert below {limits.min_success_pct:g} %, target {TARGETS.min_success_pct:g} %",
            row.badge(Metric.SUCCESS_RATE).value,
        ),
        _kpi(
            "Failures",
            f"{f.failure:,}",
            deliveries_url(window, scope, outcome=Outcome.FAILURE),
            "the CRM said no",
        ),
        _kpi(
            "Errors",
            f"{f.error:,}",
            deliveries_url(window, scope, outcome=Outcome.ERROR),
            "after every retry",
        ),
        _kpi(
            "Avg response",
            _fmt(f.avg_ms, " ms", 0),
            deliveries_url(window, scope),
            f"{percentiles} ms",
            row.badge(Metric.RESPONSE_MS).value,
        ),
        _kpi(
            "Duplicates",
            _fmt(f.duplicate_rate, " %"),
            deliveries_url(window, scope, duplicate=True),
            f"{f.duplicates:,} · review above {limits.max_duplicate_pct:g} %",
            row.badge(Metric.DUPLICATE_RATE).value,
        ),
    ]


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    names = object_names()  # the table's names and the scope choices: one read
    report = request_report(request, names)
    query = request.GET.copy()
    tabs = []
    for key, label in RANGES.items():
        query_for = query.copy()
        query_for["range"] = key
        query_for.pop("since", None)
        query_for.pop("until", None)
        tabs.append({"key": key, "label": label, "query": query_for.urlencode()})
    return {
        "report": report,
        "tabs": tabs,
        "groups": GROUPS,
        "choices": scope_choices(names),
        "columns": COLUMNS,
        "table": [{"row": row, "cells": _cells(report, row)} for row in table_rows(report)],
        "kpis": _kpis(report),
        "charts": chart_data(report),
        "reason_rows": [
            (o, r, n, deliveries_url(report.window, report.scope, outcome=o, reason=r))
            for o, r, n in report.reasons
        ],
        "alerts": alerts_active(),
        "csv_query": request.GET.urlencode(),
        "time_zone": timezone.get_current_timezone_name(),
        "now": timezone.localtime(),
    }


@admin.register(DailyCounter)
class DashboardAdmin(admin.ModelAdmin):
    """No list of counter rows: its "changelist" is the dashboard."""

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(PERMISSION)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        urls = super().get_urls()
        export = self.admin_site.admin_view(self.export_view)
        return [path("export.csv", export, name="integrations_health_export"), *urls]

    def changelist_view(self, request, extra_context=None):
        return dashboard_view(request)

    def export_view(self, request):
        if not request.user.has_perm(PERMISSION):
            return HttpResponse(status=403)
        report = request_report(request)
        window = report.window
        name = f"leadflow-health-{report.group}-{window.first_day}-{window.last_day}.csv"
        response = HttpResponse(report_csv(report), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


def dashboard_view(request: HttpRequest) -> TemplateResponse:
    context = {
        **admin.site.each_context(request),
        "title": "Delivery health",
        **dashboard_context(request),
    }
    return TemplateResponse(request, "admin/health/dashboard.html", context)


_models_index = admin.site.index


def index(request: HttpRequest, extra_context: dict | None = None):
    """The admin's home: the dashboard for those allowed to see it (`?models=1` gives
    the list of models), Django's index for everyone else."""
    if request.user.has_perm(PERMISSION) and "models" not in request.GET:
        return dashboard_view(request)
    return _models_index(request, extra_context)


admin.site.index = index  # type: ignore[method-assign]


@admin.register(Threshold)
class ThresholdAdmin(admin.ModelAdmin):
    list_display = ["__str__", "min_success_pct", "max_response_ms", "max_duplicate_pct"]
    list_select_related = ["account", "step", "step__flow"]
    autocomplete_fields = ()
    fieldsets = [
        (
            "Scope",
            {
                "fields": ["account", "step"],
                "description": "Leave both empty for the global thresholds. An empty limit "
                "inherits: step → account → global → the defaults (success below 90 %, "
                "average response above 1,000 ms, duplicates above 50 %).",
            },
        ),
        ("Limits", {"fields": ["min_success_pct", "max_response_ms", "max_duplicate_pct"]}),
    ]
