"""Rewrite the transcript search rows from the segments (after a tokenizer change), with a progress bar."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from tqdm import tqdm

from qa import search_index


class Command(BaseCommand):
    help = (
        "Rewrite every segment's search row (its tsvector) from the stored segments, a batch of transcripts "
        "per transaction (searches keep working meanwhile)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch", type=int, default=1000, help="Transcripts per transaction.")
        parser.add_argument("--quiet", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, batch: int, quiet: bool, **options: Any) -> None:
        with tqdm(total=search_index.segment_count(), desc="segments", unit="seg", disable=quiet) as bar:
            written = search_index.rebuild(batch=batch, progress=bar.update)
        self.stdout.write(f"Indexed {written} segments.")
