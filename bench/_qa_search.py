"""bench/qa.py: search — qa.searching.search as the admin's search page calls it, timed per kind of query."""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import time
from datetime import timedelta
from typing import Any

import _harness as h
from _qa_figures import TARGET_SEARCH_P95_MS

# --- Search --------------------------------------------------------------------------------------


TERM_QUERIES = ["退款", "物流", "快递", "投诉", "发票", "地址", "赔偿", "售后", "签收", "换货", "会员", "运费", "经理",
                "律师", "抱歉", "差评"]  # fmt: skip
PHRASE_QUERIES = ['"全额退款"', '"说了多少遍"', '"七天无理由退货"', '"物流信息"', '"原路退回"', '"工作日"',
                  '"我要投诉你"', '"质量问题"', '"转运中心"', '"充电宝鼓包"', '"加我微信"', '"不在家"']  # fmt: skip
BOOLEAN_QUERIES = ["退款 AND NOT 运费", "投诉 AND 经理", "快递 OR 物流", "(退款 OR 退货) AND NOT 质量", "发票 NOT 电子",
                   "差评 AND 退款", '"全额退款" AND NOT 优惠券', "律师 OR 起诉 OR 12315"]  # fmt: skip
FILTERED_QUERIES = ["退款", '"全额退款"', "抱歉", "快递", "优惠券", "微信"]
ENGLISH_QUERIES = ["refund", "iPhone", "tracking", "PayPal", "email", "manager", "sorry", '"tracking number"']


def query_sets() -> dict[str, list[tuple[str, Any]]]:
    """The kinds of query a supervisor types on the search page, with the page's filters."""
    from django.utils import timezone

    from qa.searching import Filters

    none = Filters()
    today = timezone.localdate()
    week = Filters(speaker="agent", since=today - timedelta(days=7), until=today)
    return {
        "term": [(q, none) for q in TERM_QUERIES],
        "phrase": [(q, none) for q in PHRASE_QUERIES],
        "boolean": [(q, none) for q in BOOLEAN_QUERIES],
        "filtered (agent, last 7 days)": [(q, week) for q in FILTERED_QUERIES],
        "english": [(q, none) for q in ENGLISH_QUERIES],
    }


def breakdown(text: str, filters: Any) -> dict[str, float]:
    """search()'s steps timed one by one (ms), to see where the time goes."""
    from qa import searching
    from qa.models import Segment

    times: dict[str, float] = {}
    t0 = time.perf_counter()
    parsed = searching.parse(text)
    t1 = time.perf_counter()
    with searching.INDEX.searcher() as searcher:
        t2 = time.perf_counter()
        results = searcher.search_page(parsed, 1, pagelen=20, filter=searching._filter_query(filters),
                                       sortedby="date", reverse=True)  # fmt: skip
        found = [(int(hit["id"]), hit.fields()) for hit in results]
        _total = results.total
        t3 = time.perf_counter()
    t4 = time.perf_counter()
    texts = dict(Segment.objects.filter(pk__in=[i for i, _f in found]).values_list("id", "text"))
    t5 = time.perf_counter()
    phrases = searching._phrases(parsed)
    for value in texts.values():
        searching.highlight(searching.mask_pii(value), phrases)
    t6 = time.perf_counter()
    times.update(parse=t1 - t0, open=t2 - t1, search=t3 - t2, close=t4 - t3, db=t5 - t4, highlight=t6 - t5)
    return {k: v * 1000 for k, v in times.items()}


def run_search(args: argparse.Namespace) -> list[tuple[str, ...]]:
    from qa import searching

    table: list[tuple[str, ...]] = []
    profiles: dict[str, cProfile.Profile] = {}
    for kind, queries in query_sets().items():
        for text, filters in queries:  # warm up: the OS cache, Django's connection, Whoosh's imports
            searching.search(text, filters)
        times, totals, parts = [], [], []
        began = time.perf_counter()
        for n in range(args.queries):
            if n >= 50 and time.perf_counter() - began > args.kind_seconds:
                break  # enough samples of a slow kind; the table says how many
            text, filters = queries[n % len(queries)]
            started = time.perf_counter()
            page = searching.search(text, filters, page=1, per_page=20, mask=True)
            times.append((time.perf_counter() - started) * 1000)
            totals.append(page.total)
        for text, filters in queries:
            parts.append(breakdown(text, filters))
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            for text, filters in queries:
                searching.search(text, filters)
            profile.disable()
            profiles[kind] = profile
        p95 = h.percentile(times, 0.95)
        steps = {key: statistics.mean(p[key] for p in parts) for key in parts[0]}
        table.append((kind, f"{len(times)}", f"{statistics.median(times):.1f}", f"{p95:.1f}", f"{max(times):.1f}",
                      f"{statistics.median(totals):,.0f}", f"{max(totals):,}",
                      " ".join(f"{k} {v:.1f}" for k, v in steps.items()),
                      "met" if p95 <= TARGET_SEARCH_P95_MS else "MISSED"))  # fmt: skip
        print(f"  search [{kind}]: p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms", flush=True)
    for kind, profile in profiles.items():
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(25)
        print(f"\n--- profile: {kind} ---\n{out.getvalue()}")
    return table


def print_search(table: list[tuple[str, ...]], queries: int) -> None:
    print(f"\nSearch: qa.searching.search(), first page of 20, newest first, {queries} queries per kind after a "
          f"warm-up — target: p95 <= {TARGET_SEARCH_P95_MS} ms")  # fmt: skip
    header = ("kind", "n", "p50 ms", "p95 ms", "max ms", "hits p50", "hits max", "mean ms per step", "")
    h.print_table(header, table, left=(0, 7))
