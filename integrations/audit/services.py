"""Writing audit entries. Callers pass names, ids and counts: never lead data or a
secret (an entry is readable by every Admin, for ever)."""

from __future__ import annotations

from typing import Any

from integrations.models import AuditAction, AuditEntry

# Admin changes to these models are configuration (or roles) changes worth listing.
CONFIG_MODELS = {
    ("integrations", "account"),
    ("integrations", "flow"),
    ("integrations", "source"),
    ("integrations", "step"),
    ("integrations", "fieldmapping"),
}
ROLE_MODELS = {("auth", "group"), ("auth", "user")}


def _actor_name(actor: Any) -> str:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return "system"
    return str(actor.get_username())[:150]


def audit_record(
    *,
    actor: Any,
    action: str,
    summary: str,
    object_type: str = "",
    object_id: object = "",
) -> AuditEntry:
    """Append one entry. `actor` is a user (or None for the system)."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEntry.objects.create(
        actor=user,
        actor_name=_actor_name(actor),
        action=action,
        summary=summary[:300],
        object_type=object_type[:60],
        object_id=str(object_id)[:64],
    )


def audit_from_admin_log(*, entry: Any) -> AuditEntry | None:
    """Mirror a django.contrib.admin LogEntry about configuration or roles. The admin's
    change message names the fields that changed, never their values."""
    content_type = entry.content_type
    if content_type is None:
        return None
    key = (content_type.app_label, content_type.model)
    if key in CONFIG_MODELS:
        action = AuditAction.CONFIG
    elif key in ROLE_MODELS:
        action = AuditAction.ROLES
    else:
        return None
    verb = {1: "added", 2: "changed", 3: "deleted"}.get(entry.action_flag, "changed")
    detail = entry.get_change_message() if entry.action_flag == 2 else ""
    name = content_type.model_class()._meta.verbose_name if content_type.model_class() else key[1]
    summary = f"{name} {entry.object_repr!s} {verb}" + (f": {detail}" if detail else "")
    return audit_record(
        actor=entry.user,
        action=action,
        summary=summary,
        object_type=f"{key[0]}.{key[1]}",
        object_id=entry.object_id or "",
    )
