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
    AGENT: [
        "crm.view_consumer",
        "crm.view_order",
        "merchants.view_merchant",
    ],
    SUPERVISOR: [
        "crm.view_consumer",
        "crm.change_consumer",
        "crm.view_consumer_pii",
        "crm.view_order",
        "crm.change_order",
        "merchants.view_merchant",
        "merchants.change_merchant",
        "django_celery_beat.view_periodictask",
    ],
    # Business teams read the morning digest page (radio); they need no admin model yet.
    BUSINESS: [],
    # Merchant staff get their merchant's data once tenancy scoping exists (crm/merchants issue);
    # until then they hold no model permission, so they can see nothing that is not theirs.
    MERCHANT_STAFF: [],
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
