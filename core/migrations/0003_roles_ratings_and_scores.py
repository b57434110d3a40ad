from __future__ import annotations

from django.db import migrations

# The role table as it stood when this migration was written (core/roles.py explains why frozen).
# Business teams read the morning digest page (radio) and need no admin model yet; merchant staff
# see their own merchant's orders, reviews and scores, scoped by core/tenancy.py.
ROLES = {
    "agent": [
        "crm.view_consumer",
        "crm.view_order",
        "crm.view_review",
        "crm.view_credittier",
        "crm.view_creditrating",
        "crm.view_riskflag",
        "merchants.view_merchant",
        "merchants.view_merchantscore",
    ],
    "supervisor": [
        "crm.view_consumer",
        "crm.change_consumer",
        "crm.view_consumer_pii",
        "crm.view_order",
        "crm.change_order",
        "crm.view_review",
        "crm.change_review",
        "crm.view_credittier",
        "crm.add_credittier",
        "crm.change_credittier",
        "crm.view_creditrating",
        "crm.view_riskflag",
        "crm.change_riskflag",
        "merchants.view_merchant",
        "merchants.change_merchant",
        "merchants.view_merchantscore",
        "django_celery_beat.view_periodictask",
        "django_celery_beat.change_periodictask",
    ],
    "business": [],
    "merchant_staff": [
        "crm.view_order",
        "crm.view_review",
        "merchants.view_merchant",
        "merchants.view_merchantscore",
    ],
}


def update_roles(apps, schema_editor):
    from core.roles import sync_roles

    sync_roles(apps, ROLES)


class Migration(migrations.Migration):
    """Roles gain the credit rating, risk flags, reviews and merchant scores."""

    dependencies = [
        ("core", "0002_roles"),
        ("crm", "0003_seed_tiers"),
        ("merchants", "0002_merchantscore"),
    ]

    operations = [migrations.RunPython(update_roles, migrations.RunPython.noop)]
