"""The API's own exceptions, apart from core.api so that the parsers (which DRF imports early) can raise them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large.")
    default_code = "too_large"


class Conflict(exceptions.APIException):
    """The request is well formed but clashes with the row's state (a reused key, a retry of a live job)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = _("The request conflicts with the current state.")
    default_code = "conflict"

    def __init__(self, message: Any, errors: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.errors = dict(errors or {})


class ImportStopped(exceptions.APIException):
    """The database refused a batch of an import: the batches before it are loaded; ``errors`` is the report."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "import_stopped"

    def __init__(self, message: Any, report: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.errors = dict(report)
