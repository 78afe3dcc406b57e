"""The staff roles, in code: group name -> the permissions its members hold.

Applied by a data migration and again after every `migrate` (post_migrate, see
apps.py), so a permission that a later migration adds reaches its groups without
another data migration. Codenames are "app_label.codename"; "app_label.*" means
every permission of that app. A listed permission that does not exist (yet) is
skipped: the next `migrate` that creates it adds it.

The admin reads these through Django's permissions: a user sees the models and
actions they hold a permission for, and gets 403 for the rest.
"""

from __future__ import annotations

from collections.abc import Iterable

MARKETERS = "Marketers"
ADMINS = "Admins"
SUPPORT = "Support"

# Configuration: accounts, flows, sources, steps and what a step holds (its field
# mappings, tag and campaign rules).
_CONFIG_MODELS = ("account", "flow", "source", "step", "fieldmapping", "tagrule", "campaignrule")
# A step's saved versions (django-reversion): its history page.
_STEP_HISTORY = ["reversion.view_version", "reversion.view_revision"]


def _crud(*models: str) -> list[str]:
    return [
        f"integrations.{verb}_{m}" for m in models for verb in ("add", "change", "delete", "view")
    ]


def _view(*models: str) -> list[str]:
    return [f"integrations.view_{m}" for m in models]


ROLES: dict[str, list[str]] = {
    # Accounts, flows, sources, steps and mappings. No leads, deliveries or attempts:
    # those hold lead data and CRM request/response bodies.
    MARKETERS: [*_crud(*_CONFIG_MODELS), *_STEP_HISTORY],
    # Everything: configuration, history, replay, erasure, the audit log, the
    # dashboard and thresholds (helper "health"), users and groups.
    ADMINS: ["integrations.*", "auth.*", "admin.*", "reversion.*"],
    # Leads, deliveries and their attempts, replays (and editing a lead's fields
    # before one); configuration read-only.
    SUPPORT: [
        *_view(*_CONFIG_MODELS),
        *_STEP_HISTORY,
        *_view("lead", "delivery", "attempt", "leadrevision", "replay", "replayitem"),
        "integrations.replay_delivery",
    ],
}


def _resolve(entries: Iterable[str], permission_model) -> list:
    wanted_apps = {e.split(".", 1)[0] for e in entries if e.endswith(".*")}
    exact = {tuple(e.split(".", 1)) for e in entries if not e.endswith(".*")}
    found = []
    candidates = permission_model.objects.select_related("content_type").filter(
        content_type__app_label__in=wanted_apps | {app for app, _ in exact}
    )
    for perm in candidates:
        app = perm.content_type.app_label
        if app in wanted_apps or (app, perm.codename) in exact:
            found.append(perm)
    return found


def roles_sync(*, group_model=None, permission_model=None) -> dict[str, int]:
    """Create the groups and set each one's permissions to exactly its role's (safe to
    repeat). Returns group name -> number of permissions. The model arguments let a
    data migration pass its historical models."""
    if group_model is None or permission_model is None:
        from django.contrib.auth.models import Group, Permission

        group_model, permission_model = Group, Permission
    counts = {}
    for name, entries in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        perms = _resolve(entries, permission_model)
        group.permissions.set(perms)
        counts[name] = len(perms)
    return counts


def roles_sync_after_migrate(sender, **kwargs) -> None:
    """post_migrate receiver: permissions are created by an earlier post_migrate
    receiver (django.contrib.auth's), so they exist when this runs."""
    roles_sync()


__all__ = ["ADMINS", "MARKETERS", "ROLES", "SUPPORT", "roles_sync"]
