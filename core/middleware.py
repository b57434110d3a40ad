"""Request hardening for every URL: control characters refused, errors under /api/ as JSON, refusals in one line.

Order in settings.MIDDLEWARE: ApiErrorMiddleware first (outermost, so that it sees every response,
even one another middleware made), RefuseControlCharactersMiddleware next, before anything reads the
query or the database.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from django.core import signals
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext
from django.views import defaults

from core.api import ApiError, api_error, from_status, is_api, log_denied

# NUL reaches PostgreSQL as a DataError; the other C0 controls (and DEL) have no business in a path.
PATH_CONTROL = re.compile("[\x00-\x1f\x7f]")
# In a query value a tab or a line break may be meant (a pasted search); NUL and the rest are not.
QUERY_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
server_log = logging.getLogger("django.request")

Handler = Callable[[HttpRequest], HttpResponse]


class RefuseControlCharactersMiddleware:
    """400 for a control character in the path or in any query parameter's name or value."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if PATH_CONTROL.search(request.path) or any(
            QUERY_CONTROL.search(name) or any(QUERY_CONTROL.search(value) for value in values)
            for name, values in request.GET.lists()
        ):
            # Before LocaleMiddleware (nothing may read the query first): pick the language here.
            with translation.override(translation.get_language_from_request(request)):
                message = gettext("The address contains a control character.")
            error = ApiError(400, "control_character", message)
            if is_api(request):
                return error.json_response()
            return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class ApiErrorMiddleware:
    """Errors as the client can read them, whatever DEBUG says.

    Under /api/ every answer of 400 or more is JSON with a code and a message (a Django page in its
    place is replaced); an unexpected exception is a JSON 500, logged with its traceback. Everywhere,
    a database with no connection to spare is a 503 with Retry-After, and a PermissionDenied is one
    log line, not a traceback.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if is_api(request) and response.status_code >= 400 and not _is_json(response):
            replacement = from_status(response.status_code).json_response()
            for header in ("Retry-After", "Allow", "WWW-Authenticate"):
                if header in response:
                    replacement[header] = response[header]
            replacement._has_been_logged = getattr(response, "_has_been_logged", False)  # type: ignore[attr-defined]
            return replacement
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        error = api_error(exception)
        logged = False
        if error is not None and error.status in (401, 403):
            log_denied(request, error)
            logged = True
        if is_api(request):
            if error is None:
                # As Django's own 500 handling does: error reporters (and the test client) hear of it.
                signals.got_request_exception.send(sender=None, request=request)
                server_log.error("Internal Server Error: %s", request.path, exc_info=exception)
                logged = True
                error = ApiError(500, "server_error", gettext("A server error occurred."))
            response: HttpResponse = error.json_response()
        elif error is not None and error.status == 503:
            response = HttpResponse(error.message, status=503, content_type="text/plain; charset=utf-8")
            response["Retry-After"] = error.headers["Retry-After"]
        elif error is not None and error.status == 403:
            response = defaults.permission_denied(request, exception)
        else:
            return None  # Django's own handling: its 404 and 400 pages, a logged 500
        if logged:
            response._has_been_logged = True  # type: ignore[attr-defined]  # logged above, once
        return response


def _is_json(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").startswith("application/json")
