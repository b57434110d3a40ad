from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.test import Client

from core import roles


def _perms(group: Group) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


@pytest.mark.django_db
def test_migration_creates_the_four_groups_with_exactly_their_permissions() -> None:
    assert set(Group.objects.values_list("name", flat=True)) >= {"agent", "supervisor", "business", "merchant_staff"}
    for role, expected in roles.ROLE_PERMISSIONS.items():
        assert _perms(Group.objects.get(name=role)) == set(expected), role


@pytest.mark.django_db
def test_only_supervisors_see_full_consumer_pii() -> None:
    holders = Group.objects.filter(permissions__codename="view_consumer_pii").values_list("name", flat=True)
    assert list(holders) == ["supervisor"]


@pytest.mark.django_db
def test_sync_roles_is_idempotent_and_repairs_drift() -> None:
    agent = Group.objects.get(name="agent")
    agent.permissions.clear()
    roles.sync_roles(django_apps, roles.ROLE_PERMISSIONS)
    roles.sync_roles(django_apps, roles.ROLE_PERMISSIONS)
    assert _perms(agent) == set(roles.ROLE_PERMISSIONS["agent"])
    assert Group.objects.filter(name="agent").count() == 1


@pytest.mark.django_db
def test_sync_roles_names_a_permission_that_does_not_exist() -> None:
    with pytest.raises(LookupError, match=r"crm\.fly_to_the_moon"):
        roles.sync_roles(django_apps, {"agent": ["crm.fly_to_the_moon"]})


def test_the_latest_roles_migration_carries_the_current_table() -> None:
    latest = max(
        (p for p in (Path(settings.BASE_DIR) / "core" / "migrations").glob("0*.py") if "roles" in p.name),
        key=lambda p: p.name,
    )
    module = import_module(f"core.migrations.{latest.stem}")
    assert module.ROLES == roles.ROLE_PERMISSIONS, f"{latest.name} is stale: add a migration with the new table"


def test_only_supervisors_see_the_periodic_task_schedule(
    agent: User, supervisor: User, client_for: Callable[[User], Client]
) -> None:
    assert client_for(agent).get("/admin/django_celery_beat/periodictask/").status_code == 403
    assert client_for(supervisor).get("/admin/django_celery_beat/periodictask/").status_code == 200
