"""Benchmark: the agent's ticket queue (the admin changelist) over a million tickets, served by daphne.

    .venv/bin/python bench/ticket_changelist.py --scale 5000   # 1,000,000 tickets, 1M consumers, 10M orders

Reuses the scratch database that `bench/seed_demo.py --scale N --keep` leaves (bench_seed_demo_<scale>, every
app's demo) or else the one `bench/rate_consumers.py --keep` leaves (bench_rating_<scale>: consumers, orders,
ratings): migrates it and, when it holds fewer than TICKETS_PER_SCALE × scale
tickets, adds them with tickets.demo (consumer ids read back from the database, personas guessed from
tiers and risk flags). Without it, seeds a new scratch database with seed_demo --scale N (dropped at
the end unless --keep).

Then vacuums the ticket tables (the steady state autovacuum leaves), starts daphne on that database
(DEBUG=0, static files collected into a temporary directory) and, logged in as the demo agent over
HTTP, times N GETs (after some warm-ups) of the changelist's default view ("my open tickets") and its
most used filters. Query counts per request are measured separately,
in this process, with Django's test Client. Target (issue 15): p95 <= 150 ms, >= 200 samples per view.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time

import _harness as h

TARGET_P95_MS = 150


def prepare_database(scale: int) -> tuple[h.ScratchDatabase, bool]:
    """The database to measure, and whether it is a new scratch one (dropped at the end)."""
    for name in (f"bench_seed_demo_{scale}", f"bench_rating_{scale}"):
        kept = h.ScratchDatabase(name)
        if kept.exists():
            kept.migrate()
            print(f"reusing {kept.name} (migrated)")
            return kept, False
    database = h.ScratchDatabase(f"bench_tickets_{scale}")
    database.create()
    database.migrate()
    _done, seconds = h.timed(lambda: h.manage("seed_demo", "--scale", str(scale), "--quiet", env=database.env()))
    print(f"seed_demo --scale {scale} into {database.name}: {seconds:.0f} s")
    return database, True


def add_missing_tickets(scale: int) -> None:
    """Top the database up to TICKETS_PER_SCALE × scale tickets with the demo's ticket seeder."""
    from django.db import transaction

    from core.models import DemoDataset
    from core.seeding import SeedContext
    from crm.models import Consumer, CreditTier, RiskFlag
    from tickets import demo
    from tickets.models import Ticket

    wanted = demo.TICKETS_PER_SCALE * scale
    have = Ticket.objects.count()
    if have >= wanted:
        print(f"{have:,} tickets already there")
        return
    dataset = DemoDataset.objects.order_by("pk").first()
    ctx = SeedContext(seed=dataset.seed if dataset else 1, scale=scale, quiet=True)
    started = time.monotonic()
    # crm's seeder does not store personas; guess them the way the rating sorted consumers into tiers.
    ranked = list(CreditTier.objects.order_by("-min_score").values_list("pk", flat=True))
    by_rank = ["premium", "loyal", "regular", "new", "risky"]
    persona_of = {tier: by_rank[min(i, len(by_rank) - 1)] for i, tier in enumerate(ranked)}
    flagged = set(
        RiskFlag.objects.filter(status__in=(RiskFlag.Status.OPEN, RiskFlag.Status.CONFIRMED)).values_list(
            "consumer_id", flat=True
        )
    )
    ids: list[int] = []
    personas: list[str] = []
    for pk, tier in Consumer.objects.order_by("pk").values_list("pk", "tier_id").iterator(chunk_size=50_000):
        ids.append(pk)
        personas.append("malicious" if pk in flagged else persona_of.get(tier, "new"))
    ctx.made.update(consumer_ids=ids, personas=personas)
    print(f"read back {len(ids):,} consumers in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    with transaction.atomic():
        counts = demo.seed_desk(ctx)
        counts.update(demo.seed_tickets(ctx, count=wanted - have))
    print(f"tickets.demo: {counts} in {time.monotonic() - started:.0f} s")


def views() -> list[tuple[str, str]]:
    """The default view and the filters agents use most (tickets/admin.py: QueueFilter, list_filter)."""
    from tickets.models import Department

    refunds = Department.objects.get(code="refunds")
    return [
        ("my open tickets (default)", ""),
        ("status = open, all agents", "?queue=all&status__exact=open"),
        (f"department {refunds.code}, open", f"?queue=open&department__id__exact={refunds.pk}"),
        ("SLA breached, open", "?queue=open&sla_state__exact=breached"),
        ("SLA at risk, open", "?queue=open&sla_state__exact=at_risk"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="Keep a newly seeded scratch database.")
    args = parser.parse_args()

    h.refuse_database_url()
    database, scratch = prepare_database(args.scale)
    static = tempfile.TemporaryDirectory(prefix="bench-static-")
    server_env = h.server_env(database, static_dir=static.name, secret="bench-ticket-changelist-not-secret",
                              REDIS_URL=h.redis_url(0), REDIS_KEY_PREFIX="bench-tickets")  # fmt: skip
    daphne = None
    try:
        h.setup_django(**{**server_env, "ALLOWED_HOSTS": "127.0.0.1,testserver", "VAR_DIR": h.var_dir()})
        add_missing_tickets(args.scale)
        # Measure the steady state autovacuum leaves (visibility map set, fresh statistics), not the
        # minutes right after a bulk load while autovacuum works through it.
        with database.connect(autocommit=True) as conn:
            _done, seconds = h.timed(lambda: conn.execute("VACUUM (ANALYZE) tickets_ticket, tickets_ticketevent"))
            print(f"VACUUM (ANALYZE) of the ticket tables: {seconds:.0f} s")
        paths = [(label, f"/admin/tickets/ticket/{query}") for label, query in views()]
        queries = h.count_queries("agent", [path for _label, path in paths])

        h.manage("collectstatic", "--noinput", "-v0", "--skip-checks", env=server_env)
        daphne, port = h.start_daphne(server_env)
        base = f"http://127.0.0.1:{port}"
        h.wait_for_http(base + "/admin/login/", daphne)
        from core.demo import DEMO_LOGINS

        agent = next(login for login in DEMO_LOGINS if login.username == "agent")
        browser = h.Browser(base)
        browser.login(agent.username, agent.password)

        from tickets.models import Ticket

        tickets = Ticket.objects.count()
        print(f"\n{tickets:,} tickets in {database.name}; {args.requests} GETs per view after {args.warmup} warm-ups")
        table, worst = [], 0.0
        for label, path in paths:
            times, _body = browser.timed_gets(path, requests=args.requests, warmup=args.warmup)
            worst = max(worst, h.percentile(times, 0.95))
            count, page = queries[path]
            rows = len(re.findall(r'class="action-select"', page))
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
        if scratch and not args.keep:
            database.drop()


if __name__ == "__main__":
    main()
