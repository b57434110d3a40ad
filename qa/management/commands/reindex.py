"""Rebuild the QA search index from the database, with a progress bar."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from tqdm import tqdm

from qa import searching
from qa.models import Transcript


class Command(BaseCommand):
    help = (
        "Rebuild the transcript and chat search index from PostgreSQL into a fresh index, then swap it in "
        "(searches keep working meanwhile)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch", type=int, default=1000, help="Transcripts per index commit.")
        parser.add_argument("--quiet", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, batch: int, quiet: bool, **options: Any) -> None:
        ids = list(Transcript.objects.order_by("id").values_list("id", flat=True))
        with tqdm(total=len(ids), desc="transcripts", unit="transcripts", disable=quiet) as bar:
            written = searching.rebuild(ids, batch=max(batch, 1), progress=bar.update)
        self.stdout.write(f"Indexed {written} segments of {len(ids)} transcripts.")
