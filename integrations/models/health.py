"""Health reports: daily delivery counters, alert thresholds and alert state."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from .accounts import Account
from .flows import Flow, Step

# Upper bounds (ms, inclusive) of the latency histogram's buckets; one more bucket
# holds everything slower. Fixed, so counters from different days add up.
LATENCY_BOUNDS_MS: tuple[int, ...] = (50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000)
LATENCY_FIELDS: tuple[str, ...] = tuple(f"lat_{i:02d}" for i in range(len(LATENCY_BOUNDS_MS) + 1))


def _latency_field(index: int) -> models.PositiveIntegerField:
    bound = LATENCY_BOUNDS_MS[index] if index < len(LATENCY_BOUNDS_MS) else None
    label = f"≤ {bound} ms" if bound else f"> {LATENCY_BOUNDS_MS[-1]} ms"
    return models.PositiveIntegerField(default=0, verbose_name=label)


class DailyCounter(models.Model):
    """Finished deliveries of one UTC day, step, outcome and reason.

    Written by `integrations.health.counters.counters_record` in the transaction that
    records each delivery's outcome (an upsert that adds one), checked and repaired
    from the raw rows nightly. Flow and account are the step's, kept here so reports
    group by them without a join.
    """

    day = models.DateField()
    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="+", db_index=False)
    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="+", db_index=False)
    account = models.ForeignKey(
        Account, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    outcome = models.CharField(max_length=10)
    reason = models.CharField(max_length=200, blank=True, default="")
    deliveries = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    timed = models.PositiveIntegerField(default=0, help_text="Deliveries with a response time")
    response_ms_sum = models.BigIntegerField(default=0)
    lat_00 = _latency_field(0)
    lat_01 = _latency_field(1)
    lat_02 = _latency_field(2)
    lat_03 = _latency_field(3)
    lat_04 = _latency_field(4)
    lat_05 = _latency_field(5)
    lat_06 = _latency_field(6)
    lat_07 = _latency_field(7)
    lat_08 = _latency_field(8)
    lat_09 = _latency_field(9)
    lat_10 = _latency_field(10)
    lat_11 = _latency_field(11)

    class Meta:
        verbose_name = "health report"
        verbose_name_plural = "health dashboard"
        permissions = [("view_dashboard", "Can see the health dashboard")]
        constraints = [
            # The upsert's conflict target; day first, so it is also the range index.
            models.UniqueConstraint(
                fields=["day", "step", "outcome", "reason"], name="dailycounter_one_per_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.step_id} {self.outcome} {self.reason}: {self.deliveries}"


class Metric(models.TextChoices):
    SUCCESS_RATE = "success_rate", "Success rate"
    RESPONSE_MS = "response_ms", "Average response time"
    DUPLICATE_RATE = "duplicate_rate", "Duplicate rate"


class Threshold(models.Model):
    """Alert limits: global (no account, no step), per account, or per step. An empty
    limit inherits from the wider scope (step → account → global → the defaults)."""

    account = models.OneToOneField(
        Account, on_delete=models.CASCADE, null=True, blank=True, related_name="threshold"
    )
    step = models.OneToOneField(
        Step, on_delete=models.CASCADE, null=True, blank=True, related_name="threshold"
    )
    min_success_pct = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        verbose_name="alert when success rate is below (%)",
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    max_response_ms = models.PositiveIntegerField(
        null=True, blank=True, verbose_name="alert when average response time is above (ms)"
    )
    max_duplicate_pct = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        verbose_name="alert when duplicate rate is above (%)",
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(account__isnull=True) | models.Q(step__isnull=True),
                name="threshold_one_scope",
            ),
        ]

    def __str__(self) -> str:
        if self.step_id:
            return f"Thresholds for step {self.step}"
        if self.account_id:
            return f"Thresholds for account {self.account}"
        return "Global thresholds"

    def clean(self) -> None:
        if self.account_id and self.step_id:
            raise ValidationError("Choose an account or a step, not both.")
        twins = Threshold.objects.filter(account=self.account_id, step=self.step_id)
        if twins.exclude(pk=self.pk).exists():
            raise ValidationError("There are thresholds for this scope already: edit those.")


class AlertState(models.Model):
    """Whether one step is over one threshold, so an alert is sent once per crossing."""

    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="+")
    metric = models.CharField(max_length=20, choices=Metric.choices)
    alerting = models.BooleanField(default=False)
    value = models.FloatField(null=True, blank=True)
    limit = models.FloatField(null=True, blank=True)
    since = models.DateTimeField(default=timezone.now)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["step", "metric"], name="alertstate_one_per_metric")
        ]

    def __str__(self) -> str:
        return f"{self.step} {self.metric}: {'alerting' if self.alerting else 'ok'}"
