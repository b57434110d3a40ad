from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from merchants.scoring import score_merchant_days


class Command(BaseCommand):
    help = "Compute merchants' service scores for a day (default yesterday), or for the last N days with --days."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--day", type=date.fromisoformat, help="YYYY-MM-DD (default: yesterday).")
        parser.add_argument("--days", type=int, default=1, help="Also the days before it, for a trend (default 1).")

    def handle(self, *args: Any, day: date | None, days: int, **options: Any) -> None:
        if not 1 <= days <= 400:
            raise CommandError("--days must be between 1 and 400.")
        last = day or timezone.localdate() - timedelta(days=1)
        rows = score_merchant_days(last - timedelta(days=days - 1), last)
        self.stdout.write(self.style.SUCCESS(f"Wrote {rows:,} merchant scores ending {last}."))
