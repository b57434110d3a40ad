from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.importing import (
    DEFAULT_BATCH_SIZE,
    ImportAborted,
    ImportReport,
    Kind,
    import_file,
    rejection_line,
    summary_line,
    write_rejections,
)
from core.tabular import FORMATS, format_of
from core.values import ImportFileError
from crm.importing import KINDS


class Command(BaseCommand):
    help = (
        "Import consumers, orders or reviews from a CSV or JSONL file (docs/import-formats.md); "
        "import_marketplace does every kind, merchants too."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help=_("The CSV or JSONL file."))
        parser.add_argument("--kind", required=True, choices=list(KINDS), help=_("What the rows are."))
        parser.add_argument(
            "--format", dest="fmt", choices=FORMATS, help=_("Default: from the extension (.csv, .jsonl).")
        )
        parser.add_argument(
            "--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help=_("Rows loaded per transaction.")
        )
        parser.add_argument(
            "--report", type=Path, metavar="FILE", help=_("Also write the rejected rows to FILE as CSV.")
        )
        parser.add_argument("--quiet", action="store_true", help=_("No progress bar."))

    def handle(self, *args: Any, path: Path, kind: str, fmt: str | None, batch_size: int, report: Path | None,
               quiet: bool, verbosity: int, **options: Any) -> None:  # fmt: skip
        fmt = fmt or format_of(path)
        if fmt is None:
            raise CommandError(
                _("Cannot tell the format of %(path)s from its extension; pass --format.") % {"path": path}
            )
        if batch_size < 1:
            raise CommandError(_("--batch-size must be at least 1."))
        progress = None if quiet or verbosity == 0 else sys.stderr
        outcome = self._import(KINDS[kind], path, fmt, batch_size, progress, report)
        fail_on_rejections(outcome)

    def _import(self, kind: Kind[tuple[object, ...]], path: Path, fmt: str, batch_size: int, progress: Any,
                report: Path | None) -> ImportReport:  # fmt: skip
        """The file loaded and its outcome told; an unreadable file or a refused batch is a CommandError."""
        try:
            outcome = import_file(kind, path, fmt=fmt, batch_size=batch_size, progress=progress)
        except ImportFileError as error:
            raise CommandError(str(error)) from error
        except ImportAborted as aborted:
            tell(self, aborted.report, report)
            raise CommandError(str(aborted)) from aborted
        tell(self, outcome, report)
        return outcome


def tell(command: BaseCommand, outcome: ImportReport, report: Path | None) -> None:
    """Print the summary and every rejection; write them to `report` too when given."""
    summary = summary_line(outcome)
    command.stdout.write(command.style.WARNING(summary) if outcome.rejected else command.style.SUCCESS(summary))
    for rejection in outcome.rejections:
        command.stdout.write(rejection_line(rejection))
    if report is not None:
        write_rejections(outcome, report)


def fail_on_rejections(outcome: ImportReport) -> None:
    if outcome.rejected:
        raise CommandError(
            ngettext(
                "%(count)d row was rejected; the other rows were loaded.",
                "%(count)d rows were rejected; the other rows were loaded.",
                outcome.rejected,
            )
            % {"count": outcome.rejected}
        )
