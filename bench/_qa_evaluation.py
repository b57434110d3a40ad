"""bench/qa.py: rule evaluation — evaluate_transcripts in one process, in several, and once per call."""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import time
from pathlib import Path

from _qa_figures import Row, cpu_seconds, load
from _qa_setup import Corpus

QA_SCRIPT = Path(__file__).with_name("qa.py")  # runs worker_evaluate with --worker-evaluate

# --- Evaluation ----------------------------------------------------------------------------------


def reset_findings() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE qa_finding CASCADE")  # only ever on the bench's database (see main)
        cursor.execute("UPDATE qa_transcript SET evaluated_at = NULL")
        cursor.execute("VACUUM (ANALYZE) qa_transcript")


def evaluate_range(ids: list[int], batch: int) -> tuple[float, float, int]:
    """What the worker does: evaluate_transcripts over ``ids`` in batches. (compile s, total s, hits)."""
    from qa import evaluation

    started = time.perf_counter()
    evaluation.active_rules()  # compiles the 500 rules once per process
    compiled = time.perf_counter() - started
    hits = 0
    for start in range(0, len(ids), batch):
        hits += evaluation.evaluate_transcripts(ids[start : start + batch])
    return compiled, time.perf_counter() - started, hits


def evaluate_parallel(ids: list[int], processes: int, batch: int) -> tuple[float, list[str]]:
    """Evaluate disjoint id ranges in ``processes`` processes at once; wall seconds and their reports."""
    share = math.ceil(len(ids) / processes)
    ranges = [ids[i * share : (i + 1) * share] for i in range(processes)]
    started = time.perf_counter()
    workers = [
        subprocess.Popen(
            [sys.executable, str(QA_SCRIPT), "--worker-evaluate", str(part[0]), str(part[-1]), "--batch", str(batch)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for part in ranges
        if part
    ]
    outputs = []
    for worker in workers:
        out, _err = worker.communicate()
        if worker.returncode:
            sys.exit(f"evaluation worker failed ({worker.returncode})")
        outputs.append(out.strip())
    return time.perf_counter() - started, outputs


def worker_evaluate(first: int, last: int, batch: int) -> None:
    from qa.models import Transcript

    ids = list(Transcript.objects.filter(pk__gte=first, pk__lte=last).order_by("pk").values_list("pk", flat=True))
    cpu = cpu_seconds()
    compiled, seconds, hits = evaluate_range(ids, batch)
    cpu = cpu_seconds() - cpu
    print(f"{cpu:.3f}|{len(ids):,} transcripts, {hits:,} hits, {seconds:.1f} s (compile {compiled:.2f} s)")


def count_findings() -> int:
    from qa.models import Finding

    return Finding.objects.count()


def run_evaluation(args: argparse.Namespace, data: Corpus) -> list[Row]:
    rows = []
    for processes in args.eval_processes:
        reset_findings()
        cpu = cpu_seconds()
        if processes == 1:
            compiled, seconds, hits = evaluate_range(data.ids, args.batch)
            note = f"{hits:,} hits, {count_findings():,} findings; rules compiled in {compiled:.2f} s"
        else:
            seconds, reports = evaluate_parallel(data.ids, processes, args.batch)
            note = f"{count_findings():,} findings; " + "; ".join(r.split("|", 1)[1] for r in reports)
        cpu = cpu_seconds() - cpu
        if processes > 1:  # the workers' own figures, with their PostgreSQL backends
            cpu = sum(float(r.split("|", 1)[0]) for r in reports)
        rows.append(Row(f"evaluate_transcripts, {processes} process(es), batches of {args.batch}", seconds, cpu,
                        data.characters, data.bytes, note))  # fmt: skip
        print(f"  evaluation, {processes} process(es): {seconds:.1f} s, CPU {cpu:.1f} s ({note}; {load()})", flush=True)
    # One call per transcript, as save_transcript queues it (qa.tasks.evaluate_transcript), on a sample.
    from django.db import connection

    from qa import evaluation

    sample = data.ids[:: max(1, len(data.ids) // args.per_call_sample)][: args.per_call_sample]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM qa_finding WHERE transcript_id = ANY(%s)", [sample])
        cursor.execute(
            "SELECT coalesce(sum(char_length(text)), 0), coalesce(sum(octet_length(text)), 0) FROM qa_segment"
            " WHERE transcript_id = ANY(%s)",
            [sample],
        )
        characters, size = cursor.fetchone()
    started, cpu = time.perf_counter(), cpu_seconds()
    for transcript_id in sample:
        evaluation.evaluate_transcripts([transcript_id])
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    rows.append(Row("evaluate_transcripts([id]) per call, 1 process", seconds, cpu, characters, size,
                    f"{len(sample):,} transcripts sampled, {seconds / len(sample) * 1000:.1f} ms each"))  # fmt: skip
    return rows
