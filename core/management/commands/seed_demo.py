from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.seeding import DemoOutcome, DemoUnfinished, load_demo


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
        try:
            outcome = load_demo(seed=seed, scale=scale, quiet=quiet)
        except DemoUnfinished as unfinished:
            raise CommandError(
                f"An earlier seed_demo ({unfinished.args[0]}) stopped before it finished, so the demo data is only "
                "partly loaded. Empty the database (manage.py flush) and run seed_demo again."
            ) from unfinished
        if outcome.already_loaded:
            self.stdout.write(f"Demo data already loaded ({outcome.dataset}); nothing to do.")
            return
        self.stdout.write(self.style.SUCCESS(_loaded(outcome, time.monotonic() - started)))


def _loaded(outcome: DemoOutcome, seconds: float) -> str:
    summary = ", ".join(f"{n:,} {what}" for what, n in outcome.counts.items())
    stages = ", ".join(f"{app} {spent:.1f}s" for app, spent in outcome.seconds.items())
    return f"Loaded demo data in {seconds:.1f}s ({stages}): {summary}."
