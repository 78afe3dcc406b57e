"""Replays (re-sending deliveries), the per-delivery items they release, and the
revisions of a lead's fields edited before a replay.

Design: a replay resets the existing delivery row to pending (the outbox the engine
already works) and keeps the run it replaces in a ReplayItem. The (lead, step) row
stays unique, because the claim, the engine, flow_advance (get_or_create by lead and
step), the sweeper and the health counters all identify a step's delivery that way;
a second "run" row would need each of them to learn which run is current. Attempts
keep pointing at the delivery: a run's attempts are those with ids above its item's
`attempt_floor` (and up to the next item's floor), so history is never rewritten.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from .deliveries import Delivery
from .leads import Lead


class ReplayState(models.TextChoices):
    RUNNING = "running", "Running"
    CANCELLING = "cancelling", "Cancelling (waiting for started deliveries)"
    FINISHED = "finished", "Finished"
    CANCELLED = "cancelled", "Cancelled"


class ReplayKind(models.TextChoices):
    ONE = "one", "One delivery"
    SELECTED = "selected", "Selected deliveries"
    FILTER = "filter", "Every failure and error matching a filter"


class Replay(models.Model):
    """One request to send deliveries again, released in the background at a share
    of each account's rate."""

    kind = models.CharField(max_length=10, choices=ReplayKind.choices)
    state = models.CharField(
        max_length=12, choices=ReplayState.choices, default=ReplayState.RUNNING
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # What was asked, in words (filter names and values; never a search term).
    description = models.CharField(max_length=500, blank=True, default="")
    include_succeeded = models.BooleanField(
        default=False, help_text="Successful deliveries were confirmed for sending again"
    )
    # Counters kept by the ticks, so the progress page reads one row.
    total = models.PositiveIntegerField(default=0)
    released = models.PositiveIntegerField(default=0)
    finished = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    outcomes = models.JSONField(default=dict, blank=True)
    # Per account: {"<account id>": {"tokens": float, "at": epoch seconds, "rate": float}}.
    pacing = models.JSONField(default=dict, blank=True)
    last_tick_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("replay_delivery", "Can replay deliveries")]

    def __str__(self) -> str:
        return f"Replay #{self.pk}"

    @property
    def done(self) -> int:
        return self.finished + self.skipped + self.cancelled

    @property
    def left(self) -> int:
        return max(0, self.total - self.done)

    @property
    def is_active(self) -> bool:
        return self.state in (ReplayState.RUNNING, ReplayState.CANCELLING)


class ItemState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RELEASED = "released", "Released to the workers"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"


class ReplayItem(models.Model):
    """One delivery in a replay: the run it replaced (previous_*), and the new run's
    result once the engine has recorded it."""

    replay = models.ForeignKey(Replay, on_delete=models.CASCADE, related_name="items")
    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, related_name="replay_items", db_index=False
    )
    # Set when this item re-runs a later step after `parent`'s step (the flow after it).
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    account_id = models.BigIntegerField(null=True, blank=True)  # pacing key, denormalised
    # Database defaults too: a replay's items are written by one INSERT ... SELECT.
    state = models.CharField(
        max_length=10, choices=ItemState.choices, default=ItemState.QUEUED, db_default="queued"
    )
    note = models.CharField(max_length=200, blank=True, default="", db_default="")
    # The run this replay replaced: kept, never overwritten.
    previous_outcome = models.CharField(max_length=10, blank=True, default="", db_default="")
    previous_reason = models.CharField(max_length=200, blank=True, default="", db_default="")
    previous_contact_id = models.CharField(max_length=64, blank=True, default="", db_default="")
    previous_attempt_count = models.PositiveIntegerField(default=0, db_default=0)
    previous_finished_at = models.DateTimeField(null=True, blank=True)
    # Attempts of this delivery with a larger id belong to the new run.
    attempt_floor = models.BigIntegerField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    # The new run.
    outcome = models.CharField(max_length=10, blank=True, default="", db_default="")
    reason = models.CharField(max_length=200, blank=True, default="", db_default="")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["replay", "pk"]
        indexes = [
            # The tick: the next queued items of one account, in order.
            models.Index(fields=["replay", "state", "account_id", "id"], name="replayitem_next"),
            # A delivery's replay history.
            models.Index(fields=["delivery", "id"], name="replayitem_delivery"),
        ]

    def __str__(self) -> str:
        return f"{self.replay} · delivery {self.delivery_id}"


class LeadRevision(models.Model):
    """An edit of a lead's normalised fields (before a replay). The payload as received
    is never changed; `before` is what the fields were."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    before = models.JSONField()
    after = models.JSONField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["lead", "number"]
        constraints = [
            models.UniqueConstraint(fields=["lead", "number"], name="leadrevision_number")
        ]

    def __str__(self) -> str:
        return f"{self.lead_id} revision {self.number}"
