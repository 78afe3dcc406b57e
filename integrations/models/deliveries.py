"""Deliveries (the outbox: one lead through one recipient step) and their attempts."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from .flows import Step
from .leads import Lead


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
    ERROR = "error", "Error"
    SKIP = "skip", "Skip"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # due at next_attempt_at, waiting for a worker
    IN_PROGRESS = "in_progress", "In progress"  # leased by a worker until lease_expires_at
    HELD = "held", "Held"  # waiting for its account to be reconnected or resumed
    DONE = "done", "Done"  # has an outcome


class Delivery(models.Model):
    # FK indexes come from the composite ones below (lead: the unique constraint;
    # step: step + created_at), not from single-column duplicates.
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    step = models.ForeignKey(
        Step, on_delete=models.PROTECT, related_name="deliveries", db_index=False
    )
    status = models.CharField(
        max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True, default="")
    reason = models.CharField(max_length=200, blank=True, default="")
    contact_id = models.CharField(max_length=64, blank=True, default="")
    duplicate = models.BooleanField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # When the last wake-up for this delivery was due: its publish time, or the end of
    # its countdown. The sweeper leaves alone a delivery whose wake-up is still recent:
    # it is queued, not lost (integrations.delivery.sweeper). The database fills it on
    # insert, so intake's one-statement insert sets it without naming it.
    woken_at = models.DateTimeField(db_default=Now(), null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # The CRM operations completed so far and their results, written after each one
    # (integrations.crm.operations), so a retry resumes instead of repeating calls.
    progress = models.JSONField(default=dict, db_default={}, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The version of the step's configuration the lead was mapped with (django-reversion;
    # set by the engine, see integrations.studio.versions).
    step_revision = models.ForeignKey(
        "reversion.Revision",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name="step version",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["lead", "step"], name="delivery_one_per_lead_step")
        ]
        indexes = [
            # The sweeper: pending work that is due, and leases that have run out.
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_pending_due",
                condition=models.Q(status="pending"),
            ),
            models.Index(
                fields=["lease_expires_at"],
                name="delivery_lease_expiry",
                condition=models.Q(status="in_progress"),
            ),
            # The delivery list's filters and the health report's links (every index is
            # one more write per delivery, so each serves several filters):
            # step (or an account's steps) + outcome + finished range; also the step FK.
            models.Index(
                fields=["step", "outcome", "finished_at"], name="delivery_step_outcome_done"
            ),
            # A finished range (+ outcome) across steps; the nightly reconciliation.
            models.Index(fields=["finished_at", "outcome"], name="delivery_finished_outcome"),
            # Search by CRM contact id (exact).
            models.Index(
                fields=["contact_id"],
                name="delivery_contact_id",
                condition=~models.Q(contact_id=""),
            ),
            # The status filter's one value no other index covers (pending and in
            # progress have the sweeper's; done is nearly every row: the pk order serves).
            models.Index(fields=["id"], name="delivery_held", condition=models.Q(status="held")),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} → {self.step}"


class Attempt(models.Model):
    """One HTTP call to a CRM, with its request and response (secrets redacted)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField(help_text="Which delivery attempt this call belongs to")
    method = models.CharField(max_length=10)
    url = models.CharField(max_length=500)
    request_headers = models.JSONField(default=dict)
    request_body = models.TextField(blank=True, default="")
    status_code = models.PositiveIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict)
    response_body = models.TextField(blank=True, default="")
    error = models.CharField(max_length=200, blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["delivery", "started_at", "pk"]

    def __str__(self) -> str:
        return f"{self.method} {self.url} → {self.status_code or self.error}"
