"""The staff groups (Marketers, Admins, Support) with their permissions from
integrations/roles.py. post_migrate applies the roles again after every migrate, so
permissions created later (including this app's new ones) reach the groups."""

from django.db import migrations


def create_roles(apps, schema_editor):
    from integrations.roles import roles_sync

    roles_sync(
        group_model=apps.get_model("auth", "Group"),
        permission_model=apps.get_model("auth", "Permission"),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("integrations", "0008_replay_roles_retention"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
