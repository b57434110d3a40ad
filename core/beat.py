"""Beat's scheduler: the periodic jobs declared in code are installed once, then belong to the admin."""

from __future__ import annotations

from typing import Any

from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler


class CodeDefaultsScheduler(DatabaseScheduler):
    """django-celery-beat's DatabaseScheduler, except that entries declared in code are only created.

    The stock scheduler rewrites every declared entry from code each time beat starts, so a schedule
    an operator changed in the admin would silently revert. Here a declared entry that already
    exists is left as the operator made it; a new one is installed.
    """

    def update_from_dict(self, mapping: dict[str, Any]) -> None:
        existing = set(PeriodicTask.objects.filter(name__in=list(mapping)).values_list("name", flat=True))
        super().update_from_dict({name: entry for name, entry in mapping.items() if name not in existing})
