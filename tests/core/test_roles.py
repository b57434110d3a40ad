from __future__ import annotations

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group

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
    roles.sync_roles(django_apps)
    roles.sync_roles(django_apps)
    assert _perms(agent) == set(roles.ROLE_PERMISSIONS["agent"])
    assert Group.objects.filter(name="agent").count() == 1


@pytest.mark.django_db
def test_sync_roles_names_a_permission_that_does_not_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(roles.ROLE_PERMISSIONS, "agent", ["crm.fly_to_the_moon"])
    with pytest.raises(LookupError, match=r"crm\.fly_to_the_moon"):
        roles.sync_roles(django_apps)
