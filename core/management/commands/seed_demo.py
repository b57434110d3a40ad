from __future__ import annotations

import time
from importlib import import_module
from importlib.util import find_spec
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from core.models import DemoDataset
from core.seeding import SeedContext

# Seeders run in the order of INSTALLED_APPS, which is the apps' layer order (core first).
OUR_APPS = ("core", "crm", "merchants", "tickets", "chat", "qa", "radio")
_LOCK_KEY = 7_230_001  # pg advisory lock: one seed_demo at a time


class Command(BaseCommand):
    help = "Load realistic, deterministic demo data (once: a second run changes nothing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", type=int, default=1, help="Multiplies every row count (1 = a small demo).")
        parser.add_argument("--seed", type=int, default=1, help="Random seed; the same seed gives the same data.")
        parser.add_argument("--quiet", action="store_true", help="No progress bars.")

    def handle(self, *args: Any, scale: int, seed: int, quiet: bool, **options: Any) -> None:
        if scale < 1:
            raise CommandError("--scale must be at least 1.")
        if not 0 <= seed <= 999:
            raise CommandError("--seed must be between 0 and 999.")
        started = time.monotonic()
        # One transaction: a crash leaves nothing half-loaded, and a rerun starts clean.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
            existing = DemoDataset.objects.order_by("pk").first()
            if existing is not None:
                self.stdout.write(f"Demo data already loaded ({existing}); nothing to do.")
                return
            ctx = SeedContext(seed=seed, scale=scale, quiet=quiet)
            counts: dict[str, int] = {}
            for config in apps.get_app_configs():
                if config.name not in OUR_APPS:
                    continue
                if find_spec(f"{config.name}.demo") is None:
                    continue
                counts.update(import_module(f"{config.name}.demo").seed(ctx))
            DemoDataset.objects.create(seed=seed, scale=scale, counts=counts)
        summary = ", ".join(f"{n:,} {what}" for what, n in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Loaded demo data in {time.monotonic() - started:.1f}s: {summary}."))
