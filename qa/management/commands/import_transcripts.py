from __future__ import annotations

import sys
from argparse import RawDescriptionHelpFormatter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from qa.importing import (
    DEFAULT_BATCH_SIZE,
    FORMATS,
    ImportAborted,
    ImportFileError,
    ImportReport,
    import_files,
    write_problems,
)

EPILOG = """Formats (docs/transcript-format.md):
  .json    one transcript: {"external_id", "agent", "consumer", "ticket", "recording", "started_at",
           "language", "segments": [{"speaker", "start", "end", "text"}, ...]}
  .jsonl   one such object per line
  .txt     "agent: ..." / "consumer: ..." lines (also 客服：/顾客：, optional "[00:01-00:04]" first);
           the metadata comes from the options below; external_id defaults to the file's name

Importing an external_id again replaces that transcript, so a rerun is safe. Bad segments are left out
and reported; a transcript with bad metadata or no good segment is refused. Each batch is one
transaction. Problems are listed as "file: line L, segment S: field: message", and make the command
fail after the good transcripts are saved."""


# The text files' metadata options, as import_files takes them.
METADATA = ("external_id", "agent", "consumer", "ticket", "recording", "started_at", "language", "duration")


def _fail_if_incomplete(outcome: ImportReport) -> None:
    """Exit non-zero when anything was refused or left out (the good transcripts are saved all the same)."""
    if outcome.rejected or outcome.rejected_segments:
        raise CommandError(
            f"{outcome.rejected} transcript(s) refused and {outcome.rejected_segments} segment(s) left out; "
            "the good ones were saved. Fix the input and run again: what is in is replaced, not duplicated."
        )


class Command(BaseCommand):
    help = "Import call transcripts from JSON, JSONL or plain-text files, reporting bad input by line and segment."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        return super().create_parser(prog_name, subcommand, formatter_class=RawDescriptionHelpFormatter,
                                      epilog=EPILOG, **kwargs)  # fmt: skip

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, metavar="FILE", help="Transcript files.")
        parser.add_argument(
            "--format", dest="fmt", choices=FORMATS, help="Default: from each file's extension (.json, .jsonl, .txt)."
        )
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="Transcripts per transaction.")
        parser.add_argument("--report", type=Path, metavar="CSV", help="Also write every problem to this CSV file.")
        parser.add_argument("--quiet", action="store_true", help="No progress bar.")
        text = parser.add_argument_group("metadata of plain-text files")
        text.add_argument("--external-id", help="The transcript's external id (one file only).")
        text.add_argument("--agent", help="The agent's username.")
        text.add_argument("--consumer", help="The consumer's external id.")
        text.add_argument("--ticket", help="The ticket's number.")
        text.add_argument("--recording", help="The id of the recording this is the transcript of.")
        text.add_argument("--started-at", help="When the call started, ISO 8601 (2026-11-23T10:15:00+08:00).")
        text.add_argument("--language", help="zh or en.")
        text.add_argument("--duration", help="The call's length in seconds.")

    def handle(self, *args: Any, paths: list[Path], fmt: str | None, batch_size: int, report: Path | None,
               quiet: bool, verbosity: int, **options: Any) -> None:  # fmt: skip
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        metadata = {name: options[name] for name in METADATA if options.get(name) is not None}
        progress = None if quiet or verbosity == 0 else sys.stderr
        try:
            outcome = import_files(paths, fmt=fmt, metadata=metadata, batch_size=batch_size, progress=progress)
        except ImportFileError as error:
            raise CommandError(str(error)) from error
        except ImportAborted as aborted:
            self._tell(aborted.report, report)
            raise CommandError(str(aborted)) from aborted
        self._tell(outcome, report)
        _fail_if_incomplete(outcome)

    def _tell(self, outcome: ImportReport, report: Path | None) -> None:
        summary = (
            f"{outcome.imported} transcript(s) imported ({outcome.replaced} replacing an earlier import), "
            f"{outcome.segments} segment(s); {outcome.rejected} refused, {outcome.rejected_segments} segment(s) "
            "left out"
        )
        failed = outcome.rejected or outcome.rejected_segments
        self.stdout.write(self.style.WARNING(summary) if failed else self.style.SUCCESS(summary))
        for problem in outcome.problems:
            self.stdout.write(str(problem))
        if report is not None:
            write_problems(outcome, report)
