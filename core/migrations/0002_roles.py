from __future__ import annotations

from django.db import migrations

# The role table as it stood when this migration was written (core/roles.py explains why frozen).
ROLES = {
    "agent": ["crm.view_consumer", "crm.view_order", "merchants.view_merchant"],
    "supervisor": [
        "crm.view_consumer",
        "crm.change_consumer",
        "crm.view_consumer_pii",
        "crm.view_order",
        "crm.change_order",
        "merchants.view_merchant",
        "merchants.change_merchant",
        "django_celery_beat.view_periodictask",
    ],
    "business": [],
    "merchant_staff": [],
}


def create_roles(apps, schema_editor):
    from core.roles import sync_roles

    sync_roles(apps, ROLES)


class Migration(migrations.Migration):
    """Create the four role groups with their permissions."""

    dependencies = [
        ("core", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("crm", "0001_initial"),
        ("merchants", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
