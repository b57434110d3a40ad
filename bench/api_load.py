"""Benchmark: N concurrent HTTP clients against one daphne process — the API and the ticket queue.

    .venv/bin/python bench/api_load.py --clients 200 --seconds 60
    .venv/bin/python bench/api_load.py --clients 20 --seconds 10 --url http://127.0.0.1:8000   # `make run`

Without --url it sets up a scratch database (``bench_api``: migrate, ``seed_demo``, a bench supervisor
with a session cookie) on the embedded PostgreSQL and a Redis database of its own (number 10), and
starts ``daphne config.asgi:application`` (DEBUG=0) on a free loopback port with the settings' pool
(DB_POOL_MAX, DB_POOL_TIMEOUT, passed through). With --url it uses that server's database (named by
--database, default ``servicedesk``) and makes the bench user there.

Load: each client keeps one HTTP/1.1 connection and sends, round robin, ``GET /api/tickets/``, ``POST
/api/refunds/`` (a small amount on a random demo order, a fresh idempotency key each time) and ``GET
/admin/tickets/ticket/`` (the ticket queue), as fast as answers come, for T seconds. Reported: answers by
status for each, p50/p95/p99 latency, and the most PostgreSQL connections to the database seen
(pg_stat_activity, polled every 100 ms). Target (issue 15): 0 answers of 500 or more, connections never
above the pool size.

Bounded: loopback addresses only, at most 1,000 clients and 600 seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = "bench_api"
REDIS_DB = 10
CSRF = "b" * 32
MAX_CLIENTS, MAX_SECONDS = 1000, 600


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)

    def pick(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    return f"p50 {pick(50):.0f} / p95 {pick(95):.0f} / p99 {pick(99):.0f} ms (n={len(ordered)})"


def loopback(host: str) -> bool:
    try:
        return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
    except (socket.gaierror, ValueError):
        return False


# --- setup (synchronous, Django in this process) ---------------------------------------------------


def scratch_environment() -> dict[str, str]:
    from core import embedded

    return {
        **os.environ,
        "DATABASE_URL": f"postgresql://postgres@/{DB_NAME}?host={embedded.pg_socket_dir()}",
        "REDIS_URL": embedded.redis_url(REDIS_DB),
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "LOG_LEVEL": "WARNING",
        "SEARCH_INDEX_DIR": str(ROOT / "var" / "bench-api-index"),
    }


def make_scratch_database(env: dict[str, str]) -> None:
    import psycopg

    from core import embedded

    embedded.start_postgres()
    embedded.start_redis()
    with psycopg.connect(host=str(embedded.pg_socket_dir()), user="postgres", dbname="postgres",
                         autocommit=True) as admin:  # fmt: skip
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
            admin.execute(f'CREATE DATABASE "{DB_NAME}"')
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0", "--skip-checks"], env=env, check=True, cwd=ROOT)
    # DEBUG=0 serves the admin's static files from the manifest, as serve does after collectstatic.
    subprocess.run([*manage, "collectstatic", "--noinput", "-v0", "--skip-checks"], env=env, check=True, cwd=ROOT)
    subprocess.run([*manage, "seed_demo", "--quiet", "--skip-checks"], env={**env, "DEBUG": "1"}, check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)  # fmt: skip


def prepare(env: dict[str, str]) -> tuple[str, list[str]]:
    """The bench supervisor's session cookie and the order numbers refunds are asked for."""
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL") if k in env})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.apps import apps
    from django.contrib.auth.models import Group, User
    from django.test import Client

    from core import roles
    from crm.models import Order

    roles.sync_roles(apps, roles.ROLE_PERMISSIONS)
    user, _ = User.objects.get_or_create(username="bench-api-supervisor", defaults={"is_staff": True})
    user.groups.add(Group.objects.get(name=roles.SUPERVISOR))
    client = Client()
    client.force_login(user)
    orders = list(Order.objects.order_by("pk").values_list("order_no", flat=True)[:500])
    from core.capacity import release_connections

    release_connections()  # this process's own connections must not count as the server's
    return client.cookies["sessionid"].value, orders


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    log = (ROOT / "var" / "bench-api-daphne.log").open("wb")
    from core import capacity  # settings are loaded: the same environment serve gives daphne

    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT, env={**capacity.web_environment(), **env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process, port
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("daphne did not start (var/bench-api-daphne.log)") from None
            time.sleep(0.2)


# --- the load (asyncio, one HTTP/1.1 connection per client) ---------------------------------------


class Stats:
    def __init__(self) -> None:
        self.statuses: dict[str, Counter[int]] = defaultdict(Counter)
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()
        self.max_connections = 0


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    status = int(status_line.split()[1])
    length, chunked = 0, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value.strip())
        elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readline()).strip() or b"0", 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


def build(kind: str, host: str, cookie: str, orders: list[str]) -> bytes:
    headers = [f"Host: {host}", f"Cookie: sessionid={cookie}; csrftoken={CSRF}", "Accept-Language: en"]
    if kind == "refund":
        body = json.dumps({"order": random.choice(orders), "amount": "0.01", "reason": "bench",
                           "idempotency_key": uuid.uuid4().hex}).encode()  # fmt: skip
        headers += ["Content-Type: application/json", f"Content-Length: {len(body)}", f"X-CSRFToken: {CSRF}",
                    f"Referer: http://{host}/"]  # fmt: skip
        return ("POST /api/refunds/ HTTP/1.1\r\n" + "\r\n".join(headers) + "\r\n\r\n").encode() + body
    target = "/api/tickets/" if kind == "tickets" else "/admin/tickets/ticket/"
    return (f"GET {target} HTTP/1.1\r\n" + "\r\n".join(headers) + "\r\n\r\n").encode()


async def client(index: int, host: str, port: int, cookie: str, orders: list[str], stop: float, stats: Stats) -> None:
    kinds = ["tickets", "refund", "queue"]
    turn = index % len(kinds)
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    while time.monotonic() < stop:
        kind = kinds[turn % len(kinds)]
        turn += 1
        started = time.monotonic()
        try:
            if connection is None:
                connection = await asyncio.open_connection(host, port)
            status = await asyncio.wait_for(exchange(*connection, build(kind, f"{host}:{port}", cookie, orders)), 120)
        except (TimeoutError, OSError, ConnectionError, asyncio.IncompleteReadError, ValueError) as error:
            stats.errors[type(error).__name__] += 1
            if connection is not None:
                connection[1].close()
            connection = None
            await asyncio.sleep(0.1)
            continue
        stats.statuses[kind][status] += 1
        stats.latency[kind].append((time.monotonic() - started) * 1000)
    if connection is not None:
        connection[1].close()


async def watch_connections(database: str, stop: float, stats: Stats) -> None:
    import psycopg

    from core import embedded

    with psycopg.connect(host=str(embedded.pg_socket_dir()), user="postgres", dbname="postgres",
                         autocommit=True) as conn:  # fmt: skip
        while time.monotonic() < stop:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'"
                " AND pid <> pg_backend_pid()",
                [database],
            ).fetchone()
            stats.max_connections = max(stats.max_connections, int(row[0]) if row else 0)
            await asyncio.sleep(0.1)


async def run_load(args: argparse.Namespace, host: str, port: int, cookie: str, orders: list[str],
                   database: str) -> Stats:  # fmt: skip
    stats = Stats()
    stop = time.monotonic() + args.seconds
    tasks = [client(i, host, port, cookie, orders, stop, stats) for i in range(args.clients)]
    await asyncio.gather(watch_connections(database, stop + 1, stats), *tasks)
    return stats


def report(args: argparse.Namespace, stats: Stats) -> None:
    total = sum(sum(counter.values()) for counter in stats.statuses.values())
    failed = sum(n for counter in stats.statuses.values() for status, n in counter.items() if status >= 500)
    print(f"{args.clients} clients x {args.seconds} s: {total} answers ({total / args.seconds:.0f}/s), "
          f"{failed} of 500 or more, connection errors {dict(stats.errors) or 0}")  # fmt: skip
    everything: list[float] = []
    for kind in ("tickets", "refund", "queue"):
        everything += stats.latency[kind]
        print(f"  {kind:8} {dict(sorted(stats.statuses[kind].items()))}  {percentiles(stats.latency[kind])}")
    print(f"  all      {percentiles(everything)}")
    print(f"  most PostgreSQL connections to the database: {stats.max_connections}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--url", help="a running server on a loopback address (e.g. `make run`'s)")
    parser.add_argument("--database", default="servicedesk", help="with --url: the server's database name")
    args = parser.parse_args()
    if not (1 <= args.clients <= MAX_CLIENTS and 1 <= args.seconds <= MAX_SECONDS):
        parser.error(f"clients must be 1-{MAX_CLIENTS} and seconds 1-{MAX_SECONDS}")
    server = None
    if args.url:
        parts = urlparse(args.url)
        host, port = parts.hostname or "", parts.port or 80
        if not loopback(host):
            parser.error("only loopback addresses")
        from core import embedded

        env = {**os.environ, "DATABASE_URL": f"postgresql://postgres@/{args.database}?host={embedded.pg_socket_dir()}"}
        database = args.database
    else:
        env = scratch_environment()
        make_scratch_database(env)
        host, database = "127.0.0.1", DB_NAME
    cookie, orders = prepare(env)
    try:
        if not args.url:
            server, port = start_server(env)
        from django.conf import settings

        print(f"pool: DB_POOL_MAX={settings.DB_POOL_MAX} DB_POOL_TIMEOUT={settings.DB_POOL_TIMEOUT}s; "
              f"{len(orders)} orders")  # fmt: skip
        stats = asyncio.run(run_load(args, host, port, cookie, orders, database))
        report(args, stats)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    main()
