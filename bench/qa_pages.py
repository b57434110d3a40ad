"""Benchmark: the QA desk's lists a supervisor opens — the findings queue and the transcript list — over HTTP.

    .venv/bin/python bench/qa_pages.py                # the demo (seed_demo --scale 1)
    .venv/bin/python bench/qa_pages.py --scale 20     # twenty times the demo's calls, chats and findings

Seeds a scratch database (bench_qa_pages_<scale>) with seed_demo, starts daphne on it (DEBUG=0, static
files collected into a temporary directory) and, logged in as the demo supervisor over HTTP, times N GETs
(after some warm-ups) of each view: the queue as it opens (open findings), all findings, one rule, the
transcript list, and its search box with a Chinese phrase. Query counts per request are measured
separately, in this process, with Django's test Client. Target: p95 <= 300 ms (issue 14). The database is
dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import urllib.parse

import _harness as h

TARGET_P95_MS = 300


def views() -> list[tuple[str, str]]:
    from qa.models import Rule

    banned = Rule.objects.get(name="服务禁语")
    phrase = urllib.parse.quote('"全额退款"')
    return [
        ("findings queue (open, default)", "/admin/qa/finding/"),
        ("findings, all states", "/admin/qa/finding/?status=all"),
        (f"findings of rule {banned.pk}", f"/admin/qa/finding/?rule__id__exact={banned.pk}"),
        ("transcript list", "/admin/qa/transcript/"),
        ('transcript list, search "全额退款"', f"/admin/qa/transcript/?q={phrase}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="Keep the scratch database.")
    args = parser.parse_args()

    h.refuse_database_url()
    database = h.ScratchDatabase(f"bench_qa_pages_{args.scale}")
    static = tempfile.TemporaryDirectory(prefix="bench-static-")
    server_env = h.server_env(database, static_dir=static.name, secret="bench-qa-pages-not-secret",
                              REDIS_URL=h.redis_url(0), REDIS_KEY_PREFIX="bench-qa-pages")  # fmt: skip
    daphne = None
    try:
        if database.exists():
            database.migrate()
            print(f"reusing {database.name}")
        else:
            database.create()
            database.migrate()
            _done, seconds = h.timed(
                lambda: h.manage("seed_demo", "--scale", str(args.scale), "--quiet", env=database.env())
            )
            print(f"seed_demo --scale {args.scale} into {database.name}: {seconds:.0f} s")
        h.setup_django(**{**server_env, "ALLOWED_HOSTS": "127.0.0.1,testserver", "VAR_DIR": h.var_dir()})
        from core.demo import DEMO_LOGINS, ensure_demo_logins
        from qa.models import Finding, Transcript

        ensure_demo_logins()
        with database.connect(autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
        paths = views()
        queries = h.count_queries("supervisor", [path for _label, path in paths])

        h.manage("collectstatic", "--noinput", "-v0", "--skip-checks", env=server_env)
        daphne, port = h.start_daphne(server_env)
        base = f"http://127.0.0.1:{port}"
        h.wait_for_http(base + "/admin/login/", daphne)
        supervisor = next(login for login in DEMO_LOGINS if login.username == "supervisor")
        browser = h.Browser(base)
        browser.login(supervisor.username, supervisor.password)

        print(
            f"\n{Transcript.objects.count():,} transcripts, {Finding.objects.count():,} findings "
            f"({Finding.objects.filter(status='open').count():,} open) in {database.name}; "
            f"{args.requests} GETs per view after {args.warmup} warm-ups"
        )
        table, worst = [], 0.0
        for label, path in paths:
            times, _body = browser.timed_gets(path, requests=args.requests, warmup=args.warmup)
            worst = max(worst, h.percentile(times, 0.95))
            count, page = queries[path]
            table_html = re.search(r'<table id="result_list">(.*?)</table>', page, re.S)
            rows = table_html[1].count("<tr") - 1 if table_html else 0
            table.append((label, *h.latency_cells(times), f"{count}", f"{rows}"))
        h.print_table(("view", "p50 ms", "p95 ms", "max ms", "queries", "rows"), table)
        verdict = "met" if worst <= TARGET_P95_MS else "MISSED"
        print(f"\ntarget p95 <= {TARGET_P95_MS} ms: {verdict} (worst p95 {worst:.1f} ms)")
    finally:
        if daphne is not None:
            daphne.terminate()
            daphne.wait(timeout=30)
        static.cleanup()
        h.close_connections()
        if not args.keep:
            database.drop()


if __name__ == "__main__":
    main()
