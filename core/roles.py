"""The four roles and the model permissions each holds.

``ROLE_PERMISSIONS`` is the table as it is now; the README documents it. A data migration never
reads it: each one passes ``sync_roles`` a frozen copy of the table as it stood when the migration
was written, because a later table may name permissions of models that migration predates. To change
a role: edit the table, and add a migration that calls ``sync_roles(apps, <copy of the new table>)``.
A test checks that the last such migration matches the table.
"""

from __future__ import annotations

from typing import Any

AGENT = "agent"
SUPERVISOR = "supervisor"
BUSINESS = "business"
MERCHANT_STAFF = "merchant_staff"

ROLE_PERMISSIONS: dict[str, list[str]] = {
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
        "tickets.view_returnrequest",
        "tickets.add_returnrequest",
        "tickets.view_cannedreply",
        "tickets.view_department",
        "tickets.view_slapolicy",
        "tickets.view_agentprofile",
        "chat.view_chatsession",
        "chat.use_chat_console",
        "chat.view_knowledgearticle",
        "chat.add_wording",
        "chat.view_synonym",
        "chat.view_proactiverule",
        "qa.view_finding",
        "qa.view_scorecard",
        "qa.view_transcript",
        "qa.view_recording",
        "qa.add_recording",
        "radio.add_nomination",
        "radio.view_nomination",
        "radio.view_reply",
    ],
    "supervisor": [
        "crm.view_consumer",
        "crm.add_consumer",
        "crm.change_consumer",
        "crm.import_marketplace",
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
        "crm.view_riskpattern",
        "crm.add_riskpattern",
        "crm.change_riskpattern",
        "crm.view_riskpatternversion",
        "merchants.view_merchant",
        "merchants.add_merchant",
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
        "tickets.view_returnrequest",
        "tickets.add_returnrequest",
        "tickets.change_returnrequest",
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
        "chat.view_chatsession",
        "chat.use_chat_console",
        "chat.issue_chat_token",
        "chat.view_knowledgearticle",
        "chat.add_knowledgearticle",
        "chat.change_knowledgearticle",
        "chat.delete_knowledgearticle",
        "chat.view_proactiverule",
        "chat.add_proactiverule",
        "chat.change_proactiverule",
        "chat.delete_proactiverule",
        "chat.add_wording",
        "chat.view_missed_questions",
        "chat.view_handoffphrase",
        "chat.add_handoffphrase",
        "chat.change_handoffphrase",
        "chat.delete_handoffphrase",
        "chat.view_synonym",
        "chat.add_synonym",
        "chat.change_synonym",
        "chat.delete_synonym",
        "qa.view_rule",
        "qa.add_rule",
        "qa.change_rule",
        "qa.view_ruleversion",
        "qa.view_finding",
        "qa.change_finding",
        "qa.view_transcript",
        "qa.search_transcript",
        "qa.add_transcript",
        "qa.view_segment",
        "qa.view_recording",
        "qa.add_recording",
        "qa.change_recording",
        "qa.view_scorecard",
        "qa.change_scorecard",
        "radio.view_channel",
        "radio.add_channel",
        "radio.change_channel",
        "radio.read_all_channels",
        "radio.view_subscription",
        "radio.add_subscription",
        "radio.change_subscription",
        "radio.delete_subscription",
        "radio.add_nomination",
        "radio.view_nomination",
        "radio.change_nomination",
        "radio.view_digest",
        "radio.change_digest",
        "radio.view_digestitem",
        "radio.respond_digestitem",
        "radio.view_reply",
    ],
    "business": [
        "radio.view_digest",
        "radio.respond_digestitem",
        "radio.add_subscription",
        "radio.delete_subscription",
    ],
    "merchant_staff": [
        "crm.view_order",
        "crm.view_review",
        "merchants.view_merchant",
        "merchants.view_merchantscore",
        "tickets.view_ticket",
        "tickets.change_ticket",
        "tickets.view_ticketevent",
        "tickets.view_refundrequest",
        "tickets.view_returnrequest",
        "chat.view_chatsession",
        "chat.use_chat_console",
        "chat.view_knowledgearticle",
        "chat.add_knowledgearticle",
        "chat.change_knowledgearticle",
        "chat.delete_knowledgearticle",
        "chat.add_wording",
        "chat.view_proactiverule",
        "chat.add_proactiverule",
        "chat.change_proactiverule",
        "chat.delete_proactiverule",
        "radio.view_digest",
        "radio.respond_digestitem",
    ],
}


def sync_roles(apps: Any, table: dict[str, list[str]]) -> None:
    """Create the groups and set each one's permissions to exactly those of ``table``."""
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after migrate; a data migration needs them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in table.items():
        group, _created = Group.objects.get_or_create(name=role)
        permissions = []
        for dotted in codenames:
            app_label, codename = dotted.split(".", 1)
            try:
                permissions.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
            except Permission.DoesNotExist:
                raise LookupError(f"Role {role!r} names a permission that does not exist: {dotted}") from None
        group.permissions.set(permissions)
