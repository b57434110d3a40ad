"""Who acts: the user type service signatures take.

``Actor`` is a signed-in person (an agent, a supervisor, a shop's staff): services record them as
``by``/``requested_by``/``agent`` and read their profile, memberships and permissions. ``RequestUser``
is what a request or a socket carries, which may be the anonymous user: checks that a page runs before
it knows who is there (``sees_pii``, ``is_merchant_staff``, ``may_use_radio``) take it. The project uses
Django's own ``User`` (no AUTH_USER_MODEL), so both name it here, in one place.
"""

from __future__ import annotations

from typing import TypeAlias

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

Actor: TypeAlias = User
RequestUser: TypeAlias = User | AnonymousUser

__all__ = ["Actor", "RequestUser", "actor", "person_name"]


def actor(request: HttpRequest) -> Actor:
    """The signed-in user of a request behind a login check (the admin's, ``login_required``).

    Such a request never carries the anonymous user; if one does, it is refused rather than recorded.
    """
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


def person_name(user: User | None) -> str:
    """A user as the desk names people in lists and pages: the full name, else the username; "—" for nobody."""
    if user is None:
        return "—"
    return str(user.get_full_name() or user.get_username())
