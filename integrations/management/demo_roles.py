"""The demo's staff users: one per role of integrations/roles.py (demo passwords,
printed by demo_seed; `make run` only)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from integrations.roles import ADMINS, MARKETERS, SUPPORT, roles_sync

DEMO_ROLE_USERS = {
    "marketer": (MARKETERS, "leadflow-marketer"),
    "support": (SUPPORT, "leadflow-support"),
    "ops-admin": (ADMINS, "leadflow-ops-admin"),
}


def demo_role_users() -> list[str]:
    """Create (or reset) the role users; returns one printable line per user."""
    roles_sync()
    User = get_user_model()
    lines = []
    for username, (role, password) in DEMO_ROLE_USERS.items():
        user, _ = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com"}
        )
        user.is_staff, user.is_superuser = True, False
        user.set_password(password)
        user.save()
        user.groups.set([Group.objects.get(name=role)])
        lines.append(f"  {role + ':':<11}login {username} / {password}")
    return lines
