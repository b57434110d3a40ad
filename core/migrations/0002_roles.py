from __future__ import annotations

from django.db import migrations


def sync_roles(apps, schema_editor):
    from core.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    """Create the four role groups with their permissions (core/roles.py is the table)."""

    dependencies = [
        ("core", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("crm", "0001_initial"),
        ("merchants", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
