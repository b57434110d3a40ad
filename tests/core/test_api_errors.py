"""Under /api/ every error is JSON with a code and a message, whatever DEBUG says; refusals log one line."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path
from pytest_django.fixtures import Settings
from rest_framework.request import Request
from rest_framework.views import APIView

from config.urls import urlpatterns as site_urlpatterns
from tickets.models import Ticket

if TYPE_CHECKING:
    from tests.responses import TestResponse

EN = {"Accept-Language": "en"}


def _boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug in a plain view")


class _BoomView(APIView):
    permission_classes: list[type] = []

    def get(self, request: Request) -> None:
        raise RuntimeError("a bug in an API view")


# This module is the URLconf of the tests that need a view which raises.
urlpatterns = [
    path("api/boom/", _boom),
    path("api/boom-drf/", _BoomView.as_view()),
    *site_urlpatterns,
]


@pytest.fixture
def boom_urls(settings: Settings) -> None:
    settings.ROOT_URLCONF = __name__


@pytest.fixture(params=[False, True], ids=["DEBUG=0", "DEBUG=1"])
def debug(request: pytest.FixtureRequest, settings: Settings) -> bool:
    settings.DEBUG = request.param
    return bool(request.param)


def body_of(response: TestResponse) -> tuple[int, str, dict[str, object]]:
    return response.status_code, response["Content-Type"], response.json()


@pytest.mark.usefixtures("debug")
def test_an_unknown_api_route_is_a_json_404(agent: User, client_for: Callable[[User], Client]) -> None:
    response = client_for(agent).get("/api/no-such-thing/", headers=EN)

    assert body_of(response) == (404, "application/json", {"code": "not_found", "message": "Not Found"})


@pytest.mark.usefixtures("debug")
def test_an_unknown_row_is_a_json_404_with_the_api_message(
    make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    response = client_for(make_user("root", is_superuser=True)).get("/api/tickets/999999/", headers=EN)

    assert body_of(response) == (
        404,
        "application/json",
        {"code": "not_found", "message": "No Ticket matches the given query."},
    )


@pytest.mark.usefixtures("debug", "boom_urls")
@pytest.mark.parametrize("url", ["/api/boom/", "/api/boom-drf/"])
def test_a_view_that_raises_is_a_json_500_logged_with_its_traceback(url: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        response = Client(raise_request_exception=False).get(url, headers=EN)

    assert body_of(response) == (
        500,
        "application/json",
        {"code": "server_error", "message": "A server error occurred."},
    )
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert (record.name, record.getMessage()) == ("django.request", f"Internal Server Error: {url}")
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)


@pytest.mark.usefixtures("debug")
def test_a_method_the_route_does_not_have_is_a_json_405(
    make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    response = client_for(make_user("root", is_superuser=True)).delete("/api/tickets/", headers=EN)

    assert body_of(response) == (
        405,
        "application/json",
        {"code": "method_not_allowed", "message": 'Method "DELETE" not allowed.'},
    )


@pytest.mark.usefixtures("debug")
def test_a_request_without_a_login_is_a_json_403(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        response = Client().get("/api/tickets/", headers=EN)

    assert body_of(response) == (
        403,
        "application/json",
        {"code": "not_authenticated", "message": "Authentication credentials were not provided."},
    )
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.name, r.getMessage(), r.exc_info) for r in records] == [
        (
            "core.denied",
            "denied GET /api/tickets/ user=anonymous: Authentication credentials were not provided.",
            None,
        )
    ]


def test_a_refused_api_request_is_one_log_line_with_method_path_user_and_reason(
    make_user: Callable[..., User], client_for: Callable[[User], Client], caplog: pytest.LogCaptureFixture
) -> None:
    nobody = make_user("nobody")  # staff without any role

    with caplog.at_level(logging.INFO):
        response = client_for(nobody).post("/api/tickets/", {}, headers=EN)

    assert body_of(response) == (
        403,
        "application/json",
        {"code": "permission_denied", "message": "You do not have permission to perform this action."},
    )
    assert [(r.name, r.getMessage(), r.exc_info) for r in caplog.records if r.levelno >= logging.WARNING] == [
        (
            "core.denied",
            "denied POST /api/tickets/ user=nobody: You do not have permission to perform this action.",
            None,
        )
    ]
    assert Ticket.objects.count() == 0


def test_a_refused_admin_page_is_one_log_line_not_a_traceback(
    agent: User, client_for: Callable[[User], Client], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = client_for(agent).get("/admin/auth/user/add/", headers=EN)

    assert response.status_code == 403
    assert [(r.name, r.getMessage(), r.exc_info) for r in caplog.records if r.levelno >= logging.WARNING] == [
        (
            "core.denied",
            "denied GET /admin/auth/user/add/ user=agent1: You do not have permission to perform this action.",
            None,
        )
    ]


@pytest.mark.usefixtures("debug")
def test_an_oversized_form_under_api_is_a_json_413_not_djangos_400_page(
    make_user: Callable[..., User], client_for: Callable[[User], Client], settings: Settings
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    client = client_for(make_user("root", is_superuser=True))

    response = client.post("/api/recordings/", {"consumer": "C" * 500}, headers=EN)

    assert body_of(response) == (
        413,
        "application/json",
        {"code": "too_large", "message": "The request body is too large."},
    )


@pytest.mark.usefixtures("debug")
def test_a_csrf_failure_under_api_is_json_too(agent: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)

    response = client.post("/api/tickets/", {}, headers=EN)

    status, content_type, body = body_of(response)
    assert (status, content_type, body["code"]) == (403, "application/json", "permission_denied")
    assert str(body["message"]).startswith("CSRF Failed")


def test_a_validation_error_names_its_fields_under_errors(
    make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    response = client_for(make_user("root", is_superuser=True)).post("/api/tickets/", {}, headers=EN)

    required = ["This field is required."]
    assert body_of(response) == (
        400,
        "application/json",
        {
            "code": "invalid",
            "message": "Invalid input.",
            "errors": {"consumer": required, "subject": required, "department": required},
        },
    )


def test_pages_outside_the_api_keep_djangos_html_errors(agent: User, client_for: Callable[[User], Client]) -> None:
    response = client_for(agent).get("/no-such-page/", headers=EN)

    assert (response.status_code, response["Content-Type"]) == (404, "text/html; charset=utf-8")
