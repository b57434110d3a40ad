"""Benchmark: QA at the source's scale — rules over a day of Chinese calls, the index, and search.

    .venv/bin/python bench/qa.py                      # 1,000,000 segments (~31,000 calls, ~29 M characters)
    .venv/bin/python bench/qa.py --segments 50000     # a quick run

Generates customer-service calls as the recogniser would hand them over (agent and consumer turns at
~200 spoken characters a minute: greetings, order numbers, refund and logistics talk, complaints, the
odd phone number read out, some English) and loads them with COPY into qa_transcript/qa_segment.
Creates 500 active rules of every kind with ``qa.services.create_rule``. Then, end to end:

- evaluation: ``qa.evaluation.evaluate_transcripts`` over every transcript in batches of 500 (reading
  segments from PostgreSQL, writing findings), in one process and in two processes over disjoint id
  ranges, and one call per transcript (what ``save_transcript`` queues) on a sample;
Transcript search (its index written with the transcript, and its queries) is ``bench/qa_search.py``'s.

Figures are extrapolated to the source's day: 30,000 call-hours, ~360 M characters. Target (2 cores):
evaluation of a day against 500 rules <= 10 min.

Database: DATABASE_URL if set (it must exist; it must hold no transcripts but the bench's), else a
scratch database ``bench_qa`` on the embedded server, dropped at the end unless --keep.

This file runs the stages; each job lives beside it: ``_qa_calls.py`` (generating calls), ``_qa_setup.py``
(rules, loading the calls, what the corpus holds), ``_qa_evaluation.py`` and ``_qa_figures.py`` (targets,
CPU accounting, rows scaled to a day); ``_qa_search.py`` holds the kinds of query ``bench/qa_search.py``
times; ``_harness.py`` is every bench's scratch database and reporting.
"""

from __future__ import annotations

import argparse
import os
import sys

import _harness as h
from _qa_evaluation import run_evaluation, worker_evaluate
from _qa_figures import (
    CHARS_PER_MINUTE,
    DAY_CHARACTERS,
    EXTERNAL_PREFIX,
    TARGET_EVALUATION_S,
    Row,
    print_rows,
)
from _qa_setup import Corpus, corpus, create_rules, seed


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=1_000_000, help="Segments to generate (default 1,000,000).")
    parser.add_argument("--rules", type=int, default=500, help="Active rules (default 500).")
    parser.add_argument("--days", type=int, default=30, help="The calls' dates spread over this many days.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stages", default="seed,evaluate")
    parser.add_argument("--eval-processes", default="1,2", help="Evaluate with these many processes, e.g. 1,2.")
    parser.add_argument("--batch", type=int, default=500, help="Transcripts per evaluate_transcripts call.")
    parser.add_argument("--per-call-sample", type=int, default=1000, help="Transcripts evaluated one per call.")
    parser.add_argument("--reuse", action="store_true", help="Use the calls and rules already in the database.")
    parser.add_argument("--keep", action="store_true", help="Keep the scratch database.")
    parser.add_argument("--worker-evaluate", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.eval_processes = [int(n) for n in args.eval_processes.split(",") if n]
    args.stages = set(args.stages.split(","))
    return args


def open_database(args: argparse.Namespace) -> h.ScratchDatabase | None:
    """DATABASE_URL when it is set, else the scratch database bench_qa (kept as it is with --reuse); migrated."""
    database = None
    if not os.environ.get("DATABASE_URL"):
        database = h.ScratchDatabase("bench_qa", redis=False)
        if not (args.reuse and database.exists()):
            database.create()
        os.environ["DATABASE_URL"] = database.url
    h.manage("migrate", "-v0", "--skip-checks", env=dict(os.environ))
    h.setup_django()
    return database


def check_corpus(args: argparse.Namespace) -> bool:
    """Whether the bench's calls are there already; stops on a database that holds anyone else's."""
    from django.db import connection

    from qa.models import Transcript

    name = connection.settings_dict["NAME"]
    if Transcript.objects.exclude(external_id__startswith=EXTERNAL_PREFIX).exists():
        sys.exit(f"{name} holds transcripts the bench did not make; use another database.")
    have = Transcript.objects.exists()
    if have and not args.reuse:
        sys.exit(f"{name} already holds the bench's calls: pass --reuse, or drop it.")
    return have


def prepare(args: argparse.Namespace) -> Corpus:
    """The calls and the rules (made unless they are there), and what the corpus holds."""
    from django.db import connection
    from django.db.models import Count

    from qa.models import Rule

    have = check_corpus(args)
    print(f"database {connection.settings_dict['NAME']}")
    if "seed" in args.stages and not have:
        made = seed(args.segments, args.days, args.seed)
        print(f"  generated and copied {made['calls']:,.0f} calls, {made['segments']:,.0f} segments, "
              f"{made['characters']:,.0f} characters in {made['seconds']:.1f} s", flush=True)  # fmt: skip
    if not Rule.objects.filter(active=True).exists():
        seconds = create_rules(args.rules, args.seed)
        print(f"  created {args.rules} active rules with create_rule in {seconds:.1f} s", flush=True)
    data = corpus()
    kinds = dict(Rule.objects.filter(active=True).values_list("kind").annotate(n=Count("id")).order_by())
    print(f"\n{data.transcripts:,} calls, {data.segments:,} segments, {data.characters:,} characters "
          f"({data.bytes / 2**20:,.0f} MiB of UTF-8, {data.hours:,.0f} call-hours at {CHARS_PER_MINUTE} "
          f"characters a minute = {data.characters / DAY_CHARACTERS:.1%} of a day); {sum(kinds.values())} active "
          f"rules {kinds}", flush=True)  # fmt: skip
    return data


def run(args: argparse.Namespace, data: Corpus) -> None:
    """The chosen stages, then their tables."""
    results: list[tuple[str, list[Row], str]] = []
    if "evaluate" in args.stages:
        results.append(("Rule evaluation (PostgreSQL in, findings out)", run_evaluation(args, data),
                        f"a day <= {TARGET_EVALUATION_S // 60} min"))  # fmt: skip
    for title, rows, target in results:
        print_rows(title, rows, target)


def main() -> None:
    args = arguments()
    if args.worker_evaluate:
        h.setup_django()
        first, last = args.worker_evaluate
        worker_evaluate(first, last, args.batch)
        return
    database = open_database(args)
    try:
        run(args, prepare(args))
    finally:
        h.close_connections()
        if database is not None and not args.keep:
            database.drop()


if __name__ == "__main__":
    main()
