from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat import calibration, evaluation
from chat.understanding import THRESHOLDS


class Command(BaseCommand):
    help = (
        "Score the bot against a labelled set (JSON lines: question, expect = article title | handoff | none, "
        "language): top-1/top-3, answered right and wrong, offered, out of scope answered, handoffs, latency. "
        "Against the live knowledge index, or --articles FILE loaded into a scratch ranker; --calibrate chooses the "
        "answer/offer thresholds on the dev half and reports them on the test half. Writes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("cases", type=Path, help="the labelled set (.jsonl)")
        parser.add_argument("--articles", type=Path, help="score against these articles (.jsonl) instead")
        parser.add_argument("--misses", action="store_true", help="list every case the bot did not answer right")
        parser.add_argument("--calibrate", action="store_true",
                            help="choose thresholds on the dev half and report them on the test half")  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["calibrate"]:
                ranker, _source = evaluation.ranker_for(options["articles"])
                chosen = calibration.calibrate(evaluation.load_cases(options["cases"]), ranker, THRESHOLDS)
                self.stdout.write("\n".join(calibration.lines(chosen, THRESHOLDS)))
                return
            report = evaluation.run(options["cases"], options["articles"])
        except (OSError, ValueError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write("\n".join(report.lines(misses=options["misses"])))
