from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from core.importing import DEFAULT_BATCH_SIZE, ImportAborted, ImportReport
from core.tabular import FORMATS
from core.values import ImportFileError
from crm.management.commands.import_orders import fail_on_rejections, tell
from merchants.importing import KINDS, folder_files, import_kind

FOLDER = "folder"


class Command(BaseCommand):
    help = (
        "Load a marketplace: KIND FILE for one file (merchants, consumers, orders, reviews, memberships), or "
        "folder DIR to load <kind>.csv/.jsonl files in dependency order. Formats: docs/import-formats.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=[*KINDS, FOLDER], help=_("What the rows are, or folder."))
        parser.add_argument("path", type=Path, help=_("The CSV or JSONL file, or the folder."))
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

    def handle(self, *args: Any, kind: str, path: Path, fmt: str | None, batch_size: int, report: Path | None,
               quiet: bool, verbosity: int, **options: Any) -> None:  # fmt: skip
        if batch_size < 1:
            raise CommandError(_("--batch-size must be at least 1."))
        progress = None if quiet or verbosity == 0 else sys.stderr
        files = _files(kind, path)
        total = ImportReport()
        for name, file in files.items():
            if kind == FOLDER:
                self.stdout.write(_("%(kind)s: %(file)s") % {"kind": name, "file": file})
            rejections = (
                report.with_name(f"{report.stem}-{name}{report.suffix}") if report and kind == FOLDER else report
            )
            total.add(self._one(name, file, fmt, batch_size, progress, rejections))
        fail_on_rejections(total)

    def _one(self, kind: str, path: Path, fmt: str | None, batch_size: int, progress: Any,
             report: Path | None) -> ImportReport:  # fmt: skip
        try:
            outcome = import_kind(kind, path, fmt=fmt, batch_size=batch_size, progress=progress)
        except ImportFileError as error:
            raise CommandError(str(error)) from error
        except ImportAborted as aborted:
            tell(self, aborted.report, report)
            raise CommandError(str(aborted)) from aborted
        tell(self, outcome, report)
        return outcome


def _files(kind: str, path: Path) -> dict[str, Path]:
    """The file of each kind to import: ``path`` itself, or a folder's files named by kind."""
    try:
        return folder_files(path) if kind == FOLDER else {kind: path}
    except ImportFileError as error:
        raise CommandError(str(error)) from error
