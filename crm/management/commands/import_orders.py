from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, DjangoHelpFormatter
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from crm.importing import (
    DEFAULT_BATCH_SIZE,
    FORMATS,
    ImportAborted,
    ImportFileError,
    ImportReport,
    format_of,
    import_orders,
    import_reviews,
    write_rejections,
)

IMPORTERS = {"orders": import_orders, "reviews": import_reviews}

ROW_FORMATS = gettext_lazy(
    """row formats (CSV: UTF-8, header on line 1; JSONL: one JSON object a line; unknown columns are ignored):

orders:
  order_no          required, at most 32 characters
  consumer          required, external id of an existing consumer
  merchant          required, code of an existing merchant
  item_title        required, at most 200 characters
  amount            required, yuan > 0, at most 2 decimals (199.00)
  status            required: paid, shipped, delivered, completed, cancelled, refunded
  placed_at         required, ISO 8601 (2026-03-01T10:15:00, +08:00 or Z);
                    without an offset: the current time zone (Asia/Shanghai)
  delivered_at, refund_requested_at, refunded_at, dispute_closed_at
                    optional, as placed_at
  refunded_amount   optional, 0 to amount (default 0)
  returned          optional: true/false, 1/0, yes/no (default false)
  dispute           optional: open, consumer_won, merchant_won or empty

reviews:
  order_no          required, number of an existing order
  item_stars, service_stars, logistics_stars
                    required, whole numbers 1 to 5
  created_at        required, as placed_at
  text              optional

Orders (and reviews of orders) already in the database are skipped, so a rerun is safe. Each batch is one
transaction. Rejected rows are listed as "line L: field: message" (CSV counts the header as line 1) and make
the command fail after the good rows are loaded."""
)


class _HelpFormatter(DjangoHelpFormatter):
    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "".join(indent + line for line in text.splitlines(keepends=True))  # keep the table's layout


class Command(BaseCommand):
    help = "Import orders or reviews from a CSV or JSONL file, rejecting bad rows with their line numbers."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(
            prog_name, subcommand, formatter_class=_HelpFormatter, epilog=str(ROW_FORMATS), **kwargs
        )
        parser.description = _(
            "Import orders or reviews from a CSV or JSONL file, rejecting bad rows with their line numbers."
        )
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help=_("The CSV or JSONL file."))
        parser.add_argument("--kind", required=True, choices=sorted(IMPORTERS), help=_("What the rows are."))
        parser.add_argument(
            "--format", dest="fmt", choices=FORMATS, help=_("Default: from the extension (.csv, .jsonl).")
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=_("Rows loaded per transaction."),
        )
        parser.add_argument(
            "--report", type=Path, metavar="FILE", help=_("Also write the rejected rows to FILE as CSV.")
        )
        parser.add_argument("--quiet", action="store_true", help=_("No progress bar."))

    def handle(
        self,
        *args: Any,
        path: Path,
        kind: str,
        fmt: str | None,
        batch_size: int,
        report: Path | None,
        quiet: bool,
        verbosity: int,
        **options: Any,
    ) -> None:
        fmt = fmt or format_of(path)
        if fmt is None:
            raise CommandError(
                _("Cannot tell the format of %(path)s from its extension; pass --format.") % {"path": path}
            )
        if batch_size < 1:
            raise CommandError(_("--batch-size must be at least 1."))
        progress = None if quiet or verbosity == 0 else sys.stderr
        try:
            outcome = IMPORTERS[kind](path, fmt=fmt, batch_size=batch_size, progress=progress)
        except ImportFileError as error:
            raise CommandError(str(error)) from error
        except ImportAborted as aborted:
            self._tell(aborted.report, report)
            raise CommandError(str(aborted)) from aborted
        self._tell(outcome, report)
        if outcome.rejected:
            raise CommandError(
                ngettext(
                    "%(count)d row was rejected; the other rows were loaded.",
                    "%(count)d rows were rejected; the other rows were loaded.",
                    outcome.rejected,
                )
                % {"count": outcome.rejected}
            )

    def _tell(self, outcome: ImportReport, report: Path | None) -> None:
        summary = _("%(loaded)d loaded, %(skipped)d skipped (already present), %(rejected)d rejected") % {
            "loaded": outcome.loaded,
            "skipped": outcome.skipped,
            "rejected": outcome.rejected,
        }
        self.stdout.write(self.style.WARNING(summary) if outcome.rejected else self.style.SUCCESS(summary))
        for rejection in outcome.rejections:
            self.stdout.write(
                _("line %(line)d: %(field)s: %(message)s")
                % {"line": rejection.line, "field": rejection.field, "message": rejection.message}
            )
        if report is not None:
            write_rejections(outcome, report)
