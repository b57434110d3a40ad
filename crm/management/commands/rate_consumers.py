from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from crm.rating import RatingError, RatingSummary, rate_consumers
from crm.rating import as_of as reference_time
from crm.risk import detect_risk_flags


class Command(BaseCommand):
    help = "Run the malicious-reviewer rules, then rescore every consumer's credit rating (as the nightly job does)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=50_000, help="Consumers scored per transaction.")
        parser.add_argument("--no-risk", action="store_true", help="Skip the risk rules; only rescore.")
        parser.add_argument("--quiet", action="store_true", help="No progress bar.")
        parser.add_argument(
            "--as-of",
            type=date.fromisoformat,
            metavar="YYYY-MM-DD",
            help="Rate as of the end of this day in TIME_ZONE (imported history); default: now.",
        )

    def handle(self, *args: Any, batch_size: int, no_risk: bool, quiet: bool, as_of: date | None,
               **options: Any) -> None:  # fmt: skip
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        now = reference_time(as_of) if as_of else None
        if not no_risk:
            flags = detect_risk_flags(now=now)
            self.stdout.write(f"Risk rules: {flags.raised_or_refreshed}")
        summary = _rate(now, batch_size, quiet)
        seconds = ", ".join(f"{stage} {s:.1f}s" for stage, s in summary.seconds.items())
        self.stdout.write(
            self.style.SUCCESS(f"Rated {summary.consumers:,} consumers on {summary.indicators} indicators ({seconds}).")
        )


def _rate(now: datetime | None, batch_size: int, quiet: bool) -> RatingSummary:
    """Every consumer rated, with a progress bar unless ``quiet``; a refused rating is a CommandError."""
    with tqdm(total=0, unit="consumers", desc="rating", disable=quiet) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        try:
            return rate_consumers(now=now, batch_size=batch_size, progress=progress)
        except RatingError as error:
            raise CommandError(str(error)) from error
