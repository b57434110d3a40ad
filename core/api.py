"""The API's one error mapping: every error under /api/ is JSON with a code and a message.

    {"code": "not_found", "message": "No Ticket matches the given query."}
    {"code": "invalid", "message": "Invalid input.", "errors": {"amount": ["A valid number is required."]}}

`exception_handler` is DRF's EXCEPTION_HANDLER; `core.middleware.ApiErrorMiddleware` uses the same
`api_error` for what happens outside DRF (unknown routes, Django's own 400/403/404/500, a database
that has no connection to spare). Views call services inside `service_errors()`, so that a service's
ValidationError is the client's mistake (400), never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import psycopg
from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.translation import gettext, gettext_lazy
from psycopg_pool import PoolTimeout
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

from core.exceptions import PayloadTooLarge

API_PREFIX = "/api/"
denied_log = logging.getLogger("core.denied")


@dataclass(frozen=True)
class ApiError:
    status: int
    code: str
    message: str
    errors: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        return body

    def json_response(self) -> JsonResponse:
        response = JsonResponse(self.body(), status=self.status, json_dumps_params={"ensure_ascii": False})
        for name, value in self.headers.items():
            response[name] = value
        return response


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


# SQLSTATEs of a server that cannot take the request now, whatever it is: too many clients, shutting down,
# starting up, a connection lost. A psycopg error with no SQLSTATE at all is a client-side connection
# failure (refused, reset, the server gone mid-query); a query's own errors always carry one.
UNREACHABLE_STATES = frozenset({"53300", "57P01", "57P02", "57P03"})


def database_busy(exc: BaseException) -> bool:
    """No connection to be had: the pool's wait ran out, or PostgreSQL refused or lost the connection."""
    causes = [exc, exc.__cause__]
    if any(isinstance(cause, PoolTimeout) for cause in causes):
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    if isinstance(cause, psycopg.OperationalError):
        state = cause.sqlstate
        return state is None or state.startswith("08") or state in UNREACHABLE_STATES
    text = str(exc)
    return "too many clients" in text or "remaining connection slots" in text


def unavailable() -> ApiError:
    retry_after = str(settings.DB_POOL_RETRY_AFTER)
    message = gettext("The service is busy; try again in a few seconds.")
    return ApiError(503, "unavailable", message, headers={"Retry-After": retry_after})


def from_status(code: int) -> ApiError:
    """An error known only by its status (a Django page under /api/): the status's name is its code."""
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = "Error"
    return ApiError(code, phrase.lower().replace(" ", "_").replace("-", "_"), phrase)


# Django's own refusals, as (status, code, default message, whether the exception's own text, when it has one,
# is the message); the first that matches answers (a RequestDataTooBig is a SuspiciousOperation too).
DJANGO_REFUSALS: tuple[tuple[type[BaseException], int, str, object, bool], ...] = (
    (RequestDataTooBig, 413, PayloadTooLarge.default_code, PayloadTooLarge.default_detail, False),
    (Http404, 404, exceptions.NotFound.default_code, exceptions.NotFound.default_detail, True),
    (DjangoPermissionDenied, 403, exceptions.PermissionDenied.default_code,
     exceptions.PermissionDenied.default_detail, True),
    (SuspiciousOperation, 400, exceptions.ParseError.default_code, gettext_lazy("The request is malformed."), False),
)  # fmt: skip


def api_error(exc: BaseException) -> ApiError | None:
    """The answer an exception deserves, or None for a bug (a 500 the caller logs with its traceback)."""
    if database_busy(exc):
        return unavailable()
    if isinstance(exc, DjangoValidationError):
        exc = serializers.ValidationError(serializers.as_serializer_error(exc))
    for kind, status, code, default, own_text in DJANGO_REFUSALS:
        if isinstance(exc, kind):
            return ApiError(status, code, (own_text and str(exc)) or str(default))
    if isinstance(exc, exceptions.APIException):
        return from_api_exception(exc)
    return None


def from_api_exception(exc: exceptions.APIException) -> ApiError:
    """DRF's exceptions (and ours, core.exceptions): a ValidationError's messages by field, a Throttled's wait."""
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail
        by_field = fields if isinstance(fields, dict) else {api_settings.NON_FIELD_ERRORS_KEY: fields}
        return ApiError(exc.status_code, "invalid", gettext("Invalid input."), errors=dict(by_field))
    wait = getattr(exc, "wait", None)  # Throttled's
    headers = {} if wait is None else {"Retry-After": str(int(wait))}
    detail = exc.detail
    code = getattr(detail, "code", None) or exc.default_code
    extra = getattr(exc, "errors", None) or None
    return ApiError(exc.status_code, str(code), str(detail), errors=extra, headers=headers)


def log_denied(request: Any, error: ApiError) -> None:
    """One line per refused request (who, what, why), never a traceback: refusals are routine."""
    user = getattr(request, "user", None)
    who = user.get_username() if user is not None and user.is_authenticated else "anonymous"
    denied_log.warning("denied %s %s user=%s: %s", request.method, request.path, who, error.message)


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: the mapping above; None lets a bug through to ApiErrorMiddleware (500)."""
    error = api_error(exc)
    if error is None:
        return None
    set_rollback()
    headers = {**error.headers, **challenge(exc, context)}
    response = Response(error.body(), status=error.status, headers=headers)
    request = context.get("request")
    if error.status in (401, 403):
        response._has_been_logged = True  # type: ignore[attr-defined]
        if request is not None:
            log_denied(request, error)
    return response


def challenge(exc: Exception, context: Mapping[str, Any]) -> dict[str, str]:
    """The WWW-Authenticate header of a 401 (the view's authentication scheme); none for anything else."""
    request, view = context.get("request"), context.get("view")
    if not isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed) or None in (request, view):
        return {}
    header = view.get_authenticate_header(request)  # type: ignore[union-attr]
    return {"WWW-Authenticate": header} if header else {}


@contextmanager
def service_errors() -> Iterator[None]:
    """A service's ValidationError is the client's mistake: answer 400 with its field messages."""
    try:
        yield
    except DjangoValidationError as error:
        raise serializers.ValidationError(serializers.as_serializer_error(error)) from error
