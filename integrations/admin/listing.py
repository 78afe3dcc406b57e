"""Admin lists over millions of rows: an estimated, capped count instead of a full
COUNT(*), a finished-date range filter, and a reason filter that reads the (small)
counter table rather than scanning deliveries."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.functional import cached_property

from integrations.models import DailyCounter

COUNT_CAP = 10_000
REASON_DAYS = 90


class EstimatedCountPaginator(Paginator):
    """Counts at most COUNT_CAP + 1 rows of a filtered list; an unfiltered list on
    PostgreSQL uses the planner's row estimate. `count_kind` says which: "exact",
    "capped" (more than COUNT_CAP) or "estimated"."""

    count_kind = "exact"

    @property
    def cap(self) -> int:
        return COUNT_CAP

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not queryset.query.where and connection.vendor == "postgresql":
            estimate = _estimated_rows(queryset.model._meta.db_table)
            if estimate > COUNT_CAP:
                self.count_kind = "estimated"
                return estimate
        counted = queryset.order_by()[: COUNT_CAP + 1].count()
        if counted > COUNT_CAP:
            self.count_kind = "capped"
        return counted


def _estimated_rows(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
    return max(int(row[0]), 0) if row else 0


def parse_moment(text: str, *, end: bool) -> datetime | None:
    """A bound of a range: an ISO datetime, or a UTC date (a `to` date includes its day)."""
    text = text.strip().replace(" ", "+")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        moment = parse_datetime(text)
        if moment is None:
            return None
        return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)
    return datetime.combine(day + timedelta(days=1) if end else day, time.min, tzinfo=UTC)


class FinishedRangeFilter(admin.ListFilter):
    """`finished_from` / `finished_to`: dates (UTC days, both inclusive) or ISO
    datetimes. The health dashboard's links use them; presets for the usual ranges."""

    title = "finished (UTC)"
    field = "finished_at"
    parameter_names = ("finished_from", "finished_to")
    presets = (
        ("Last 24 hours", timedelta(hours=24)),
        ("Last 7 days", timedelta(days=7)),
        ("Last 30 days", timedelta(days=30)),
        ("Last 90 days", timedelta(days=90)),
    )

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        for name in self.parameter_names:
            if name in params:
                self.used_parameters[name] = params.pop(name)[-1]

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str]:
        return list(self.parameter_names)

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        since = self.used_parameters.get("finished_from", "")
        until = self.used_parameters.get("finished_to", "")
        return (
            parse_moment(since, end=False) if since else None,
            parse_moment(until, end=True) if until else None,
        )

    def queryset(self, request, queryset):
        since, until = self.bounds()
        if since:
            queryset = queryset.filter(**{f"{self.field}__gte": since})
        if until:
            queryset = queryset.filter(**{f"{self.field}__lt": until})
        return queryset

    def choices(self, changelist):
        current = (
            self.used_parameters.get("finished_from"),
            self.used_parameters.get("finished_to"),
        )
        yield {
            "selected": not any(current),
            "query_string": changelist.get_query_string(remove=self.parameter_names),
            "display": "Any time",
        }
        today = timezone.now().astimezone(UTC).date()
        preset_values = []
        for label, span in self.presets:
            since = (
                (timezone.now() - span).replace(microsecond=0).isoformat()
                if span < timedelta(days=1)
                else (today - span + timedelta(days=1)).isoformat()
            )
            preset_values.append((since, None))
            yield {
                "selected": current == (since, None),
                "query_string": changelist.get_query_string(
                    {"finished_from": since}, remove=["finished_to"]
                ),
                "display": label,
            }
        if any(current) and current not in preset_values:
            yield {
                "selected": True,
                "query_string": changelist.get_query_string(),
                "display": f"{current[0] or '…'} to {current[1] or 'now'}",
            }


class ReasonFilter(admin.SimpleListFilter):
    """Exact reason. The choices come from the health counters of the last
    REASON_DAYS days (a few hundred rows, read on the counters' day index), not from a
    DISTINCT over every delivery nor over years of counters; a reason asked for that
    is not among them (a link from an older range) is listed too."""

    title = "reason"
    parameter_name = "reason"

    def lookups(self, request, model_admin):
        since = timezone.now().astimezone(UTC).date() - timedelta(days=REASON_DAYS - 1)
        reasons = list(
            DailyCounter.objects.filter(day__gte=since)
            .exclude(reason="")
            .values_list("reason", flat=True)
            .distinct()
            .order_by("reason")[:60]
        )
        asked = self.value()
        if asked and asked not in reasons:
            reasons.append(asked)
        return [(reason, reason) for reason in reasons]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(reason=value) if value is not None else queryset


class PageChangeList(ChangeList):
    """The model admin's `list_prefetch_related`, applied to the shown page only."""

    def get_results(self, request):
        super().get_results(request)
        related = getattr(self.model_admin, "list_prefetch_related", ())
        if related:
            self.result_list = self.result_list.prefetch_related(*related)


class RelatedNamesFilter(admin.RelatedFieldListFilter):
    """A related-object filter whose choices are named in one query: `select_related`
    loads what the related model's name reads (a step's flow: one query per step
    otherwise), `only` leaves the other columns (an account's encrypted tokens) unread."""

    select_related: tuple[str, ...] = ()
    only: tuple[str, ...] = ()

    def field_choices(self, field, request, model_admin):
        ordering = self.field_admin_ordering(field, request, model_admin)
        rows = field.remote_field.model._default_manager.complex_filter(
            field.get_limit_choices_to()
        )
        if self.select_related:
            rows = rows.select_related(*self.select_related)
        if self.only:
            rows = rows.only(*self.only)
        if ordering:
            rows = rows.order_by(*ordering)
        key = field.remote_field.get_related_field().attname
        return [(getattr(row, key), str(row)) for row in rows]


class StepFilter(RelatedNamesFilter):
    select_related = ("flow",)
    only = ("id", "name", "flow__name")


class FlowFilter(RelatedNamesFilter):
    only = ("id", "name")


class AccountFilter(RelatedNamesFilter):
    only = ("id", "name", "crm")
