"""Demo logins: one user per role, plus an administrator."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from core import roles
from core.seeding import SeedContext


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str | None  # None: superuser
    first_name: str


DEMO_LOGINS = [
    DemoLogin("admin", "admin-demo-pass", None, "管理员"),
    DemoLogin("agent", "agent-demo-pass", roles.AGENT, "小王"),
    DemoLogin("supervisor", "supervisor-demo-pass", roles.SUPERVISOR, "李主管"),
    DemoLogin("business", "business-demo-pass", roles.BUSINESS, "物流部陈经理"),
    DemoLogin("merchant", "merchant-demo-pass", roles.MERCHANT_STAFF, "店小二"),
]


@transaction.atomic
def ensure_demo_logins() -> list[DemoLogin]:
    """Create the demo users that are missing. Existing users (and their passwords) are kept."""
    User = get_user_model()
    for login in DEMO_LOGINS:
        user, created = User.objects.get_or_create(
            username=login.username,
            defaults={
                "first_name": login.first_name,
                "is_staff": True,
                "is_superuser": login.role is None,
                "email": f"{login.username}@example.com",
            },
        )
        if created:
            user.set_password(login.password)
            user.save(update_fields=["password"])
        if login.role is not None:
            user.groups.add(Group.objects.get(name=login.role))
    return DEMO_LOGINS


def seed(ctx: SeedContext) -> dict[str, int]:
    ensure_demo_logins()
    return {"users": len(DEMO_LOGINS)}
