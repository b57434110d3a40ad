"""bench/qa.py: indexing — the whole index rebuilt (and variants), then the worker's steady state."""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

from _qa_figures import Row, cpu_seconds, load
from _qa_setup import Corpus

# --- Indexing ------------------------------------------------------------------------------------

# name -> (transcripts per writer, writer options); "rebuild" is qa.searching.rebuild as it stands.
INDEX_VARIANTS: dict[str, tuple[int, dict[str, Any]]] = {
    "rebuild": (1000, {"limitmb": 256}),
    "batch5000": (5000, {"limitmb": 512}),
    "one-writer": (0, {"limitmb": 512}),
    "procs2": (5000, {"procs": 2, "limitmb": 256}),
    "procs2-multisegment": (5000, {"procs": 2, "multisegment": True, "limitmb": 256}),
}


def index_segments() -> tuple[int, int]:
    """Documents and segments (Whoosh's, not ours) in the index."""
    from qa.searching import INDEX

    ix = INDEX.index()
    return ix.doc_count(), len(ix._segments())


def run_indexing(args: argparse.Namespace, data: Corpus) -> list[Row]:
    from qa import searching

    rows = []
    for name in args.index_variants:
        batch, options = INDEX_VARIANTS[name]
        started, cpu = time.perf_counter(), cpu_seconds()
        if name == "rebuild":
            written = searching.rebuild(data.ids)
        else:
            searching.INDEX.clear()
            step = batch or len(data.ids)
            written = 0
            for start in range(0, len(data.ids), step):
                written += searching.index_transcripts(data.ids[start : start + step], fresh=True,
                                                       writer_options=options)  # fmt: skip
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        docs, parts = index_segments()
        assert written == docs == data.segments, (written, docs, data.segments)
        label = "rebuild()" if name == "rebuild" else f"index_transcripts(fresh=True) x {batch or len(data.ids)}"
        note = f"{options}, {parts} index segment(s), {_size(searching.INDEX.path) / 2**20:,.0f} MiB on disk"
        rows.append(Row(f"{label} [{name}]", seconds, cpu, data.characters, data.bytes, note))
        print(f"  indexing [{name}]: {seconds:.1f} s, CPU {cpu:.1f} s ({note}; {load()})", flush=True)
    # The search worker's steady state: batches of 500 transcripts into the full index, replacing what
    # is there (delete by transcript, add, commit with Whoosh's merge policy).
    from django.db import connection

    sample = data.ids[len(data.ids) // 2 :][: 500 * args.steady_batches]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(char_length(text)), 0), coalesce(sum(octet_length(text)), 0) FROM qa_segment"
            " WHERE transcript_id = ANY(%s)",
            [sample],
        )
        characters, size = cursor.fetchone()
    started, cpu = time.perf_counter(), cpu_seconds()
    for start in range(0, len(sample), 500):
        searching.index_transcripts(sample[start : start + 500])
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    docs, parts = index_segments()
    assert docs == data.segments, (docs, data.segments)
    rows.append(Row("index_transcripts(500 ids) into the full index", seconds, cpu, characters, size,
                    f"{math.ceil(len(sample) / 500)} batch(es), {seconds / math.ceil(len(sample) / 500):.1f} s each; "
                    f"{parts} index segment(s) after"))  # fmt: skip
    return rows


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
