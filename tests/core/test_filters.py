"""A listed choice given empty is refused with a 400 naming the parameter (core.filters.StrictFilterSet)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/api/tickets/?status=", "/api/recordings/?status=", "/api/recordings/?language="])
def test_an_empty_choice_is_a_400_naming_the_parameter(
    agent: User, client_for: Callable[[User], Client], url: str
) -> None:
    response = client_for(agent).get(url, headers={"Accept-Language": "en"})
    name = url.rsplit("?", 1)[1].rstrip("=")
    assert (response.status_code, list(response.json()["errors"])) == (400, [name])


def test_a_listed_choice_or_none_still_filters(agent: User, client_for: Callable[[User], Client]) -> None:
    client = client_for(agent)
    assert client.get("/api/tickets/?status=open").status_code == 200
    assert client.get("/api/tickets/").status_code == 200
