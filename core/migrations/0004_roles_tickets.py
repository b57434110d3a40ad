from __future__ import annotations

from django.db import migrations

# The role table as it stood when this migration was written (core/roles.py explains why frozen).
# Agents work tickets and ask for refunds; supervisors also decide manual refunds and keep the
# queues, SLA policies and canned replies; merchant staff work their own merchant's tickets.
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
        "tickets.view_ticket",
        "tickets.add_ticket",
        "tickets.change_ticket",
        "tickets.view_ticketevent",
        "tickets.view_refundrequest",
        "tickets.add_refundrequest",
        "tickets.view_cannedreply",
        "tickets.view_department",
        "tickets.view_slapolicy",
        "tickets.view_agentprofile",
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
        "tickets.view_ticket",
        "tickets.add_ticket",
        "tickets.change_ticket",
        "tickets.view_ticketevent",
        "tickets.view_refundrequest",
        "tickets.add_refundrequest",
        "tickets.change_refundrequest",
        "tickets.view_cannedreply",
        "tickets.add_cannedreply",
        "tickets.change_cannedreply",
        "tickets.delete_cannedreply",
        "tickets.view_department",
        "tickets.add_department",
        "tickets.change_department",
        "tickets.view_slapolicy",
        "tickets.add_slapolicy",
        "tickets.change_slapolicy",
        "tickets.view_agentprofile",
        "tickets.add_agentprofile",
        "tickets.change_agentprofile",
    ],
    "business": [],
    "merchant_staff": [
        "crm.view_order",
        "crm.view_review",
        "merchants.view_merchant",
        "merchants.view_merchantscore",
        "tickets.view_ticket",
        "tickets.change_ticket",
        "tickets.view_ticketevent",
        "tickets.view_refundrequest",
    ],
}


def update_roles(apps, schema_editor):
    from core.roles import sync_roles

    sync_roles(apps, ROLES)


class Migration(migrations.Migration):
    """Roles gain tickets, refunds, SLA policies and canned replies."""

    dependencies = [
        ("core", "0003_roles_ratings_and_scores"),
        ("tickets", "0001_initial"),
    ]

    operations = [migrations.RunPython(update_roles, migrations.RunPython.noop)]
