"""Bad input is the client's mistake, never a 500: NUL and control characters, deep JSON, oversized bodies."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from core import roles
from qa.models import Transcript
from tickets.models import Ticket

CONTROL = {"code": "control_character", "message": "The address contains a control character."}
TOO_LARGE = {"code": "too_large", "message": "The request body is too large."}
EN = {"Accept-Language": "en"}


@pytest.fixture
def superuser(make_user: Callable[..., User]) -> User:
    return make_user("root", is_superuser=True)


@pytest.mark.parametrize(
    "url",
    [
        "/api/consumers/%00/",
        "/api/merchants/%00/",
        "/api/merchants/%00/scores/",
        "/api/tickets/?consumer=%00",
        "/api/tickets/?%00=1",
        "/api/merchants/?x=a%01b",
        "/api/consumers/a%1Fb/",
    ],
)
def test_a_control_character_in_an_api_address_is_a_json_400(
    url: str, superuser: User, client_for: Callable[[User], Client]
) -> None:
    response = client_for(superuser).get(url, headers=EN)

    assert (response.status_code, response["Content-Type"], response.json()) == (400, "application/json", CONTROL)


@pytest.mark.parametrize(
    "url",
    [
        "/admin/crm/order/?status__exact=%00",
        "/admin/merchants/merchant/?category__exact=%00",
        "/admin/autocomplete/?term=%00&app_label=crm&model_name=order&field_name=order",
        "/admin/crm/consumer/%00/change/",
        "/radio/?q=%00",
    ],
)
def test_a_control_character_in_any_other_address_is_a_plain_400(
    url: str, superuser: User, client_for: Callable[[User], Client]
) -> None:
    response = client_for(superuser).get(url, headers=EN)

    assert (response.status_code, response.content.decode()) == (400, CONTROL["message"])


def test_a_tab_or_line_break_in_a_query_value_is_allowed(superuser: User, client_for: Callable[[User], Client]) -> None:
    response = client_for(superuser).get("/api/tickets/?consumer=a%09b%0Ac%0Dd")

    assert (response.status_code, response.json()["results"]) == (200, [])


@pytest.mark.parametrize(
    "body",
    [
        {"consumer": "C-1\u0000", "subject": "x", "body": "y"},
        {"consumer": "C-1", "subject": "x", "body": "y", "extra": ["\ud800"]},
        {"consumer\u0000": "C-1"},
    ],
)
def test_json_with_a_nul_or_a_lone_surrogate_is_a_400(
    body: dict[str, object], superuser: User, client_for: Callable[[User], Client]
) -> None:
    response = client_for(superuser).post(
        "/api/tickets/", json.dumps(body), content_type="application/json", headers=EN
    )

    assert (response.status_code, response.json()) == (
        400,
        {"code": "parse_error", "message": "Text may not contain NUL characters or lone surrogates."},
    )
    assert Ticket.objects.count() == 0


def test_five_thousand_nested_arrays_are_a_400_not_a_recursion_error(
    superuser: User, client_for: Callable[[User], Client]
) -> None:
    body = "[" * 5000 + "]" * 5000

    response = client_for(superuser).post("/api/transcripts/import/", body, content_type="application/json", headers=EN)

    assert (response.status_code, response.json()) == (
        400,
        {"code": "parse_error", "message": "JSON nested deeper than 32 levels."},
    )
    assert Transcript.objects.count() == 0


def test_json_nesting_is_allowed_up_to_the_limit_and_refused_past_it(
    superuser: User, client_for: Callable[[User], Client], settings: SettingsWrapper
) -> None:
    settings.API_JSON_MAX_DEPTH = 4
    client = client_for(superuser)

    def post(document: object) -> dict[str, object]:
        return client.post("/api/tickets/", json.dumps(document), content_type="application/json", headers=EN).json()

    # Depth 4: an object holding a list holding a list holding an object. Past it: a 400 before any field check.
    assert post({"consumer": [[{"x": 1}]]})["code"] == "invalid"
    assert post({"consumer": [[{"x": [1]}]]}) == {"code": "parse_error", "message": "JSON nested deeper than 4 levels."}


IMPORT = "/api/transcripts/import/?external_id=x1&agent=sup&started_at=2026-03-01T10:15:00%2B08:00"


@pytest.mark.parametrize(
    ("url", "content_type", "make_body"),
    [
        (IMPORT, "application/json", lambda n: json.dumps({"x": "a" * (n - 9)}).encode()),
        (IMPORT, "text/plain", lambda n: b"agent: " + b"a" * (n - 7)),
        ("/api/tickets/", "application/x-www-form-urlencoded", lambda n: b"x=" + b"a" * (n - 2)),
    ],
)
def test_every_parser_refuses_a_body_over_the_one_limit_with_413(
    url: str,
    content_type: str,
    make_body: Callable[[int], bytes],
    make_user: Callable[..., User],
    client_for: Callable[[User], Client],
    settings: SettingsWrapper,
) -> None:
    settings.API_MAX_BODY_BYTES = 2000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    client = client_for(make_user("sup", roles.SUPERVISOR))
    assert len(make_body(2000)) == 2000

    at_limit = client.post(url, make_body(2000), content_type=content_type, headers=EN)
    over = client.post(url, make_body(2001), content_type=content_type, headers=EN)

    assert at_limit.status_code != 413
    assert (over.status_code, over.json()) == (413, TOO_LARGE)


def test_a_ten_megabyte_plain_text_import_is_refused(
    make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    client = client_for(make_user("sup", roles.SUPERVISOR))
    body = ("agent: 您好\n" * 800_000).encode()
    assert len(body) > 10_000_000

    response = client.post(
        "/api/transcripts/import/?external_id=x1&agent=sup", body, content_type="text/plain", headers=EN
    )

    assert (response.status_code, response.json()) == (413, TOO_LARGE)
    assert Transcript.objects.count() == 0


def test_a_multipart_field_over_the_limit_is_a_413_while_the_file_has_its_own_limit(
    make_user: Callable[..., User], client_for: Callable[[User], Client], settings: SettingsWrapper
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    client = client_for(make_user("sup", roles.SUPERVISOR))

    response = client.post("/api/recordings/", {"consumer": "C" * 3000}, headers=EN)

    # Django's multipart parser raises RequestDataTooBig for the field: a JSON 413 like every other parser's.
    assert (response.status_code, response.json()) == (413, TOO_LARGE)
