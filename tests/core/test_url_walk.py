"""Every URL pattern, walked: NUL in its path parameters or its query is never a 5xx, for any role.

The patterns come from the URLconf itself, so a route added later is walked too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from core import roles

NUL = "%00"
# A named group or a converter: <int:pk>, <path:object_id>, (?P<app_label>crm|tickets)
PARAMETER = re.compile(r"<(?:\w+:)?\w+>|\(\?P<\w+>[^)]*\)")


def walk(patterns: list[URLPattern | URLResolver], prefix: str = "") -> Iterator[str]:
    for pattern in patterns:
        text = str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, prefix + text)
        else:
            yield prefix + text


def routes() -> list[str]:
    """Every pattern as a template, regex anchors and escapes dropped."""
    found = set()
    for template in walk(get_resolver().url_patterns):
        found.add(template.replace("^", "").replace("$", "").replace("\\", ""))
    return sorted(found)


def fill(template: str, value: str) -> str:
    return "/" + PARAMETER.sub(value, template)


def test_the_walk_finds_the_api_and_the_admin() -> None:
    found = routes()

    assert {"api/consumers/<str:external_id>/", "api/merchants/<str:code>/scores/", "admin/autocomplete/"} <= set(found)
    assert len(found) > 100


@pytest.mark.parametrize("role", ["superuser", roles.AGENT])
def test_nul_in_any_path_parameter_or_query_is_never_a_server_error(
    role: str, make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    user = make_user("root", is_superuser=True) if role == "superuser" else make_user("walker", role)
    client = client_for(user)
    client.raise_request_exception = False
    answers: dict[str, int] = {}
    for template in routes():
        urls = {fill(template, "1") + "?q=%00&status__exact=%00&term=%00", fill(template, "1") + "?%00=1"}
        if PARAMETER.search(template):
            urls.add(fill(template, NUL))
        for url in urls:
            answers[url] = client.get(url).status_code

    assert {url: status for url, status in answers.items() if status != 400} == {}


@pytest.mark.parametrize("role", ["superuser", roles.AGENT])
def test_every_api_route_refuses_nul_in_a_json_body_without_a_server_error(
    role: str, make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    user = make_user("root", is_superuser=True) if role == "superuser" else make_user("walker", role)
    client = client_for(user)
    client.raise_request_exception = False
    answers = {}
    for template in routes():
        if template.startswith("api/") and "schema" not in template and "docs" not in template:
            url = fill(template, "1")
            answers[url] = client.post(url, '{"body": "a\\u0000b"}', content_type="application/json").status_code

    assert {url: status for url, status in answers.items() if status >= 500} == {}
    assert answers["/api/tickets/"] == 400
