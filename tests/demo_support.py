"""What demo-data tests share."""

from __future__ import annotations


def forget_higher_apps_demo() -> None:
    """The demo rows of the apps above tickets (chat, qa, radio), which point at tickets'."""
    from django.apps import apps
    from django.db import IntegrityError, transaction
    from django.db.models import ProtectedError

    higher = [m for label in ("chat", "qa", "radio") for m in apps.get_app_config(label).get_models()]
    for _round in range(len(higher) + 1):  # protected rows go once what protects them is gone
        left = False
        for model in higher:
            try:
                with transaction.atomic():  # a savepoint: a foreign key the database enforces may refuse it
                    model._base_manager.all().delete()
            except (ProtectedError, IntegrityError):
                left = True
        if not left:
            break
