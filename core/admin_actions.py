"""What every bulk admin action shares: call one service per selected row, report what happened."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest


def apply_to_each(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    rows: Iterable[Any],
    act: Callable[[Any], object],
    done: Callable[[int], str],
) -> int:
    """Run ``act`` on each row; a row the service refuses is reported with its reason, not a 500.

    ``done(n)`` is the (translated, pluralised) summary. Returns how many rows the service accepted.
    """
    accepted = 0
    for row in rows:
        try:
            act(row)
        except ValidationError as error:
            model_admin.message_user(request, f"{row}: {'; '.join(error.messages)}", messages.WARNING)
        else:
            accepted += 1
    model_admin.message_user(request, done(accepted))
    return accepted
