from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from core import roles

pytestmark = pytest.mark.django_db


def test_home_sends_business_teams_to_the_radio_and_staff_to_the_admin(
    client_for: Callable[[User], Client], make_user: Callable[..., User]
) -> None:
    assert client_for(make_user("b", roles.BUSINESS)).get("/")["Location"] == "/radio/"
    assert client_for(make_user("a", roles.AGENT)).get("/")["Location"] == "/admin/"
    assert Client().get("/")["Location"] == "/admin/"
