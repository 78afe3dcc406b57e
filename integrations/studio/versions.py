"""Versions of a step's configuration (django-reversion).

Every save of a step — its settings and everything that hangs off it (field mappings,
and the rule models registered with `follow`) — is one reversion Revision: who, when,
and the admin's change message as "what". A delivery records the revision its step had
when the lead was mapped (`Delivery.step_revision`), so support can see which
configuration produced what was sent, and the step's history page restores any version.

Why reversion rather than django-simple-history: a step's configuration spans several
models (the step, its mappings, its rules); reversion stores them together as one
revision and restores them together (deleting inline rows added since), which is what
"restore a version" means here; simple-history keeps one history table per model with
no grouping across them.
"""

from __future__ import annotations

from typing import Any

import reversion
from django.contrib.contenttypes.models import ContentType
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Subquery
from reversion.models import Revision, Version

from integrations.models import CampaignRule, Delivery, FieldMapping, Step, TagRule

# What a step's version holds, besides the step's own columns: the related names of its
# configuration rows, and their models.
STEP_FOLLOW: tuple[str, ...] = ("mappings", "tag_rules", "campaign_rules")
STEP_PARTS: tuple[type[Any], ...] = (FieldMapping, TagRule, CampaignRule)

if not reversion.is_registered(Step):
    reversion.register(Step, follow=STEP_FOLLOW)
for _model in STEP_PARTS:
    if not reversion.is_registered(_model):
        reversion.register(_model)


def step_version_save(*, step: Step, user: Any = None, comment: str) -> Revision:
    """Record the step's current configuration as a new version. Returns its revision."""
    with transaction.atomic(), reversion.create_revision(manage_manually=True):
        if user is not None and getattr(user, "is_authenticated", False):
            reversion.set_user(user)
        reversion.set_comment(comment)
        reversion.add_to_revision(step)
        for name in STEP_FOLLOW:
            for part in getattr(step, name).all():
                reversion.add_to_revision(part)
    return step_versions(step_id=step.pk)[0].revision


def step_versions(*, step_id: int) -> list[Version]:
    """The step's versions, newest first (each with its revision: user, date, comment)."""
    return list(
        Version.objects.get_for_object_reference(Step, step_id)
        .select_related("revision", "revision__user")
        .order_by("-revision__date_created", "-pk")
    )


def step_version_ensure(*, step: Step, user: Any = None) -> Revision:
    """The step's latest revision, recording a first one ("Initial version") when the
    step was made outside the admin (the demo, an import before versions existed)."""
    versions = step_versions(step_id=step.pk)
    if versions:
        return versions[0].revision
    return step_version_save(step=step, user=user, comment="Initial version")


def step_version_record(*, delivery: Delivery) -> None:
    """Stamp the delivery with its step's latest revision, in one UPDATE; a step with no
    version yet leaves it empty. The engine reads the same latest revision with the
    delivery it claims (integrations.delivery.load) and writes it with the outcome of
    an attempt that mapped the lead, saving this statement."""
    latest = (
        Version.objects.filter(
            db=DEFAULT_DB_ALIAS,
            content_type=ContentType.objects.get_for_model(Step),
            object_id=str(delivery.step_id),
        )
        .order_by("-revision_id")
        .values("revision_id")[:1]
    )
    Delivery.objects.filter(pk=delivery.pk).update(step_revision_id=Subquery(latest))


def step_version_restore(*, step: Step, revision_id: int, user: Any = None) -> Revision:
    """Put the step's configuration back as it was in `revision_id` (rows added since are
    deleted), and record that as a new version. Raises Version.DoesNotExist when the
    revision holds no version of this step."""
    version = Version.objects.get_for_object(step).get(revision_id=revision_id)
    with transaction.atomic():
        version.revision.revert(delete=True)
        step.refresh_from_db()
        when = version.revision.date_created.strftime("%Y-%m-%d %H:%M")
        return step_version_save(step=step, user=user, comment=f"Restored the version of {when}")
