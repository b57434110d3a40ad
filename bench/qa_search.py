"""Benchmark: transcript search in PostgreSQL (qa.searching) — indexing throughput and query latency.

    .venv/bin/python bench/qa_search.py                    # 1,000,000 segments
    .venv/bin/python bench/qa_search.py --segments 100000  # a quick run

Generates calls with bench/qa.py's generator (Chinese agent and consumer turns, order numbers, some
English) and COPYs them into qa_transcript/qa_segment without search rows. Then:

- indexing: ``qa.search_index.rebuild`` (what ``manage.py reindex`` runs: read segments, tokenise in
  Python, COPY into qa_segmentsearch with its GIN and date indexes in place), segments per second of
  wall time and of CPU (this process plus its PostgreSQL backend);
- truth: for a few phrases, the number of segments ``qa.search_query.matching`` finds equals the number
  whose text contains the phrase (``strpos`` over qa_segment);
- search: ``qa.searching.search`` as the admin's search page calls it (first page of 20, newest
  first, PII masking and highlighting), --queries per kind: term, phrase, boolean, filtered, English
  and terms with no match; p50/p95/max and how many of the queries were capped at 1,000+.

Database: a scratch database ``bench_qa_search`` on the embedded server (dropped at the end unless
--keep; --reuse runs again on a kept one), or DATABASE_URL if set (it must hold only the bench's calls).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import _harness as h  # first: it puts the project's root ahead of bench/
from _qa_figures import EXTERNAL_PREFIX, load
from _qa_search import query_sets
from _qa_setup import seed

ROOT = h.ROOT

TARGET_SEGMENTS_PER_S = 5000
TARGET_P95_MS = 100
NO_MATCH_QUERIES = ["火星", '"量子纠缠"', "恐龙蛋", '"月球背面发货"', "xylophone", '"不存在的短语"', "饕餮", "zzyzx"]
TRUTH_PHRASES = ["全额退款", "说了多少遍", "七天无理由退货", "物流信息", "加我微信"]


def cpu_seconds() -> float:
    """CPU time of this process and of its PostgreSQL backend."""
    import resource

    import psutil
    from django.db import connection

    own = resource.getrusage(resource.RUSAGE_SELF)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = psutil.Process(cursor.fetchone()[0]).cpu_times()
    return own.ru_utime + own.ru_stime + backend.user + backend.system


def run_indexing(segments: int) -> None:
    from django.db import connection

    from core.search import tsvector
    from qa import search_index
    from qa.models import Segment

    texts = list(Segment.objects.order_by("pk").values_list("text", flat=True)[:100_000])
    started = time.process_time()
    for text in texts:
        tsvector.__wrapped__(text)  # the tokenizer itself, not its cache of repeated texts
    tokenise = len(texts) / (time.process_time() - started)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE qa_segmentsearch")
    wall, cpu = time.perf_counter(), cpu_seconds()
    written = search_index.rebuild(batch=2000)
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    assert written == segments, (written, segments)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) qa_segmentsearch")
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('qa_segmentsearch')), "
                       "pg_size_pretty(pg_relation_size('qa_segmentsearch_vector'))")  # fmt: skip
        total_size, gin_size = cursor.fetchone()
    rate, cpu_rate = written / wall, written / cpu
    print(f"\nIndexing — target >= {TARGET_SEGMENTS_PER_S:,} segments/s on one core")
    print(f"  tokenise only (tsvector(), one core): {tokenise:,.0f} segments/s")
    print(f"  rebuild (read + tokenise + COPY, GIN in place): {written:,} segments in {wall:,.1f} s wall = "
          f"{rate:,.0f}/s; {cpu:,.1f} s CPU (Python + backend) = {cpu_rate:,.0f}/s of one core "
          f"({'met' if cpu_rate >= TARGET_SEGMENTS_PER_S else 'MISSED'}); a day of 18 M segments: "
          f"{18e6 / cpu_rate / 3600:.2f} h of one core")  # fmt: skip
    print(f"  table with indexes {total_size}, of which GIN {gin_size}")


def run_truth() -> None:
    from django.db import connection

    from qa import search_query

    print("\nTruth (segments matched = segments containing the phrase):")
    for phrase in TRUTH_PHRASES:
        found = search_query.matching(f'"{phrase}"').count()
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM qa_segment WHERE strpos(text, %s) > 0", [phrase])
            truth = cursor.fetchone()[0]
        print(f"  {phrase}: {found:,} = {truth:,} {'ok' if found == truth else 'DIFFERENT'}")
        assert found == truth, phrase


def run_search(queries: int) -> list[tuple[str, ...]]:
    from qa import searching
    from qa.search_query import Filters

    kinds = query_sets()
    kinds["no match"] = [(q, Filters()) for q in NO_MATCH_QUERIES]
    table: list[tuple[str, ...]] = []
    for kind, cases in kinds.items():
        for text, filters in cases:  # warm up
            searching.search(text, filters)
        times, capped, totals = [], 0, []
        for n in range(queries):
            text, filters = cases[n % len(cases)]
            started = time.perf_counter()
            page = searching.search(text, filters, page=1, per_page=20, mask=True)
            times.append((time.perf_counter() - started) * 1000)
            capped += page.capped
            totals.append(page.total)
        p95 = h.percentile(times, 0.95)
        table.append((kind, f"{len(times)}", f"{statistics.median(times):.1f}", f"{p95:.1f}", f"{max(times):.1f}",
                      f"{capped}", f"{min(totals):,}", "met" if p95 <= TARGET_P95_MS else "MISSED"))  # fmt: skip
        print(f"  search [{kind}]: p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms", flush=True)
    return table


def print_table(table: list[tuple[str, ...]]) -> None:
    header = ("kind", "n", "p50 ms", "p95 ms", "max ms", "1,000+", "fewest hits", "")
    widths = [max(len(r[i]) for r in [*table, header]) for i in range(len(header))]
    print(f"\nSearch: qa.searching.search(), first page of 20, newest first — target p95 <= {TARGET_P95_MS} ms")
    for row in [header, *table]:
        print(" ".join(f"{c:{w}}" if i == 0 else f"{c:>{w}}" for i, (c, w) in enumerate(zip(row, widths, strict=True))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30, help="The calls' dates spread over this many days.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--queries", type=int, default=200, help="Timed searches per kind.")
    parser.add_argument("--stages", default="seed,index,truth,search")
    parser.add_argument("--reuse", action="store_true", help="Use the calls already in the scratch database.")
    parser.add_argument("--keep", action="store_true", help="Keep the scratch database.")
    args = parser.parse_args()
    stages = set(args.stages.split(","))

    import psycopg

    from core import embedded

    admin, scratch = None, None
    if not os.environ.get("DATABASE_URL"):
        embedded.start_postgres()
        socket_dir = embedded.pg_socket_dir()
        scratch = "bench_qa_search"
        admin = psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True)
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [scratch]).fetchone()
        if not (exists and args.reuse):
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{scratch}"')
        os.environ["DATABASE_URL"] = f"postgresql://postgres@/{scratch}?host={socket_dir}"
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0", "--skip-checks"], check=True)
    h.setup_django()
    from django.db import connection

    from qa.models import Segment, Transcript

    try:
        if Transcript.objects.exclude(external_id__startswith=EXTERNAL_PREFIX).exists():
            sys.exit(f"{connection.settings_dict['NAME']} holds transcripts the bench did not make.")
        print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, {load()}")
        if "seed" in stages and not Transcript.objects.exists():
            made = seed(args.segments, args.days, args.seed)
            print(f"generated and copied {made['calls']:,.0f} calls, {made['segments']:,.0f} segments in "
                  f"{made['seconds']:.0f} s", flush=True)  # fmt: skip
        segments = Segment.objects.count()
        print(f"{Transcript.objects.count():,} calls, {segments:,} segments", flush=True)
        if "index" in stages:
            run_indexing(segments)
        if "truth" in stages:
            run_truth()
        if "search" in stages:
            print_table(run_search(args.queries))
        print(f"({load()})")
    finally:
        from django.db import connections

        connections.close_all()
        if admin is not None and scratch and not args.keep:
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


if __name__ == "__main__":
    main()
