from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat import evaluation


class Command(BaseCommand):
    help = (
        "Score the bot against a labelled set (JSON lines: question, expect = article title | handoff | none, "
        "language): top-1/top-3, answered right and wrong, offered, out of scope answered, handoffs, latency. "
        "Against the live knowledge index, or --articles FILE loaded into a scratch ranker. Writes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("cases", type=Path, help="the labelled set (.jsonl)")
        parser.add_argument("--articles", type=Path, help="score against these articles (.jsonl) instead")
        parser.add_argument("--misses", action="store_true", help="list every case the bot did not answer right")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = evaluation.run(options["cases"], options["articles"])
        except (OSError, ValueError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write("\n".join(report.lines(misses=options["misses"])))
