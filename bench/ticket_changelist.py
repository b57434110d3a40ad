"""Benchmark: the agent's ticket queue (the admin changelist) over a million tickets, served by daphne.

    .venv/bin/python bench/ticket_changelist.py --scale 5000   # 1,000,000 tickets, 1M consumers, 10M orders

Reuses the scratch database that `bench/rate_consumers.py --keep` leaves (bench_rating_<scale>:
consumers, orders, ratings): migrates it and, when it holds fewer than TICKETS_PER_SCALE × scale
tickets, adds them with tickets.demo (consumer ids read back from the database, personas guessed from
tiers and risk flags). Without it, seeds a new scratch database with seed_demo --scale N (dropped at
the end unless --keep).

Then vacuums the ticket tables (the steady state autovacuum leaves), starts daphne on that database
(DEBUG=0, static files collected into a temporary directory) and, logged in as the demo agent over
HTTP, times N GETs (after some warm-ups) of the changelist's default view ("my open tickets") and its
most used filters. Query counts per request are measured separately,
in this process, with Django's test Client. Target: p95 <= 300 ms.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import math
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_P95_MS = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare_database(args: argparse.Namespace, socket_dir: Path, admin: Any) -> tuple[str, bool]:
    """The database to measure, and whether it is a new scratch one (dropped at the end)."""
    kept = f"bench_rating_{args.scale}"
    exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [kept]).fetchone()
    manage = [sys.executable, str(ROOT / "manage.py")]
    if exists:
        env = {**os.environ, "DATABASE_URL": f"postgresql://postgres@/{kept}?host={socket_dir}"}
        subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
        print(f"reusing {kept} (migrated)")
        return kept, False
    name = f"bench_tickets_{args.scale}"
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{name}"')
    env = {**os.environ, "DATABASE_URL": f"postgresql://postgres@/{name}?host={socket_dir}"}
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
    started = time.monotonic()
    subprocess.run([*manage, "seed_demo", "--scale", str(args.scale), "--quiet"], env=env, check=True)
    print(f"seed_demo --scale {args.scale} into {name}: {time.monotonic() - started:.0f} s")
    return name, True


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


def count_queries(paths: list[tuple[str, str]]) -> dict[str, tuple[int, int]]:
    """Queries and rows shown per view, measured in this process with the test Client."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(get_user_model().objects.get(username="agent"))
    plain = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
             "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # fmt: skip
    result = {}
    with override_settings(STORAGES=plain):  # no manifest needed to render here
        for _label, query in paths:
            client.get(f"/admin/tickets/ticket/{query}")  # warm the session and caches
            with CaptureQueriesContext(connection) as captured:
                response = client.get(f"/admin/tickets/ticket/{query}")
            assert response.status_code == 200, (query, response.status_code)
            rows = len(re.findall(r'class="action-select"', response.content.decode()))
            result[query] = (len(captured), rows)
    return result


class Browser:
    """A logged-in session over plain HTTP: cookies kept, the CSRF token posted back."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> tuple[int, bytes]:
        with self.opener.open(self.base + path, timeout=60) as response:
            return response.status, response.read()

    def login(self, username: str, password: str) -> None:
        _status, page = self.get("/admin/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if token is None:
            sys.exit("no CSRF token on the login page")
        form = {"username": username, "password": password, "csrfmiddlewaretoken": token[1].decode(), "next": "/admin/"}
        data = urllib.parse.urlencode(form).encode()
        request = urllib.request.Request(self.base + "/admin/login/?next=/admin/", data=data)
        with self.opener.open(request, timeout=60) as response:
            if not response.url.endswith("/admin/"):
                sys.exit(f"login as {username} failed (ended on {response.url})")


def wait_for(base: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            sys.exit("daphne exited before answering")
        try:
            urllib.request.urlopen(base + "/admin/login/", timeout=2).read()
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    sys.exit("daphne did not answer in time")


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]  # nearest rank


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="Keep a newly seeded scratch database.")
    args = parser.parse_args()

    import psycopg

    from core import embedded

    if os.environ.get("DATABASE_URL"):
        sys.exit("Run this against the embedded server (unset DATABASE_URL): it uses scratch databases.")
    embedded.start_postgres()
    embedded.start_redis()
    socket_dir = embedded.pg_socket_dir()
    admin = psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True)
    name, scratch = prepare_database(args, socket_dir, admin)
    url = f"postgresql://postgres@/{name}?host={socket_dir}"
    static = tempfile.TemporaryDirectory(prefix="bench-static-")
    server_env = {
        **os.environ, "DATABASE_URL": url, "DEBUG": "0", "SECURE_SSL_REDIRECT": "0", "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0", "ALLOWED_HOSTS": "127.0.0.1", "SECRET_KEY": "bench-ticket-changelist-not-secret",
        "VAR_DIR": static.name, "REDIS_URL": embedded.redis_url(0), "REDIS_KEY_PREFIX": "bench-tickets",
    }  # fmt: skip
    daphne: subprocess.Popen[bytes] | None = None
    try:
        os.environ.update({**server_env, "ALLOWED_HOSTS": "127.0.0.1,testserver", "VAR_DIR": str(embedded.VAR_DIR)})
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        add_missing_tickets(args.scale)
        # Measure the steady state autovacuum leaves (visibility map set, fresh statistics), not the
        # minutes right after a bulk load while autovacuum works through it.
        with psycopg.connect(host=str(socket_dir), user="postgres", dbname=name, autocommit=True) as conn:
            started = time.monotonic()
            conn.execute("VACUUM (ANALYZE) tickets_ticket, tickets_ticketevent")
            print(f"VACUUM (ANALYZE) of the ticket tables: {time.monotonic() - started:.0f} s")
        paths = views()
        queries = count_queries(paths)

        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "collectstatic", "--noinput", "-v0"], env=server_env, check=True)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        daphne = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            cwd=ROOT, env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(base, daphne)
        from core.demo import DEMO_LOGINS

        agent = next(login for login in DEMO_LOGINS if login.username == "agent")
        browser = Browser(base)
        browser.login(agent.username, agent.password)

        from tickets.models import Ticket

        tickets = Ticket.objects.count()
        print(f"\n{tickets:,} tickets in {name}; {args.requests} GETs per view after {args.warmup} warm-ups")
        header = f"{'view':34} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'queries':>8} {'rows':>6}"
        print(header)
        print("-" * len(header))
        worst = 0.0
        for label, query in paths:
            path = f"/admin/tickets/ticket/{query}"
            for _ in range(args.warmup):
                browser.get(path)
            times = []
            for _ in range(args.requests):
                started = time.perf_counter()
                status, _body = browser.get(path)
                times.append((time.perf_counter() - started) * 1000)
                if status != 200:
                    sys.exit(f"{path}: HTTP {status}")
            p95 = percentile(times, 0.95)
            worst = max(worst, p95)
            count, rows = queries[query]
            print(f"{label:34} {statistics.median(times):8.1f} {p95:8.1f} {max(times):8.1f} {count:8d} {rows:6d}")
        verdict = "met" if worst <= TARGET_P95_MS else "MISSED"
        print(f"\ntarget p95 <= {TARGET_P95_MS} ms: {verdict} (worst p95 {worst:.1f} ms)")
    finally:
        if daphne is not None:
            daphne.terminate()
            daphne.wait(timeout=30)
        static.cleanup()
        from django.conf import settings

        if settings.configured:
            from django.db import connections

            connections.close_all()
        if scratch and not args.keep:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
