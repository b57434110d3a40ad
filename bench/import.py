"""Benchmark: load a marketplace with `manage.py import_marketplace`, every kind timed on its own.

    .venv/bin/python bench/import.py --orders 1000000 --reviews 500000   # + 100,000 consumers, 5,000 merchants

Writes CSV files under var/bench-import/ (generation is not timed), migrates a scratch database on the
embedded PostgreSQL, then loads each kind in this process (what `import_marketplace KIND FILE` calls, without
the command's start-up) and prints rows, seconds, rows per second, the CPU time of this process and of its
PostgreSQL backend (the two overlap: the rows per second on two idle cores are rows / the larger), and the
load average. A second run of the
orders file shows what a rerun costs (every row unchanged). Target (issue 11): at least 20,000 rows/s for every
kind on 2 cores.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

START = datetime(2025, 1, 1)
TEXTS = ["很好，物流很快", "质量一般", "包装破损，不满意", "和描述一致，推荐", "", "客服态度很好"]


def generate(folder: Path, consumers: int, merchants: int, orders: int, reviews: int, seed: int) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "merchants.csv").open("w", newline="", encoding="utf-8") as file:
        out = csv.writer(file)
        out.writerow(["code", "name", "category", "city", "opened_at"])
        out.writerows([f"M{i:06d}", f"店铺{i}", "数码", "杭州", "2020-01-01T00:00:00"] for i in range(merchants))
    with (folder / "consumers.csv").open("w", newline="", encoding="utf-8") as file:
        out = csv.writer(file)
        out.writerow(["external_id", "display_name", "phone", "registered_at"])
        out.writerows(
            [f"C{i:08d}", f"顾客{i}", f"138{i:08d}", (START - timedelta(days=i % 900)).isoformat()]
            for i in range(consumers)
        )
    with (folder / "orders.csv").open("w", newline="", encoding="utf-8") as file:
        out = csv.writer(file)
        out.writerow(["order_no", "consumer", "merchant", "item_title", "amount", "status", "placed_at",
                      "delivered_at", "refunded_amount", "refunded_at"])  # fmt: skip
        for i in range(orders):
            placed = START + timedelta(minutes=i % 500_000)
            delivered = (placed + timedelta(days=2)).isoformat()
            status = rng.choice(("completed", "completed", "delivered", "paid", "refunded"))
            refund = ("59.00", (placed + timedelta(days=4)).isoformat()) if status == "refunded" else ("", "")
            out.writerow([f"O{i:010d}", f"C{rng.randrange(consumers):08d}", f"M{rng.randrange(merchants):06d}",
                          "无线蓝牙耳机", "59.00", status, placed.isoformat(),
                          "" if status == "paid" else delivered, *refund])  # fmt: skip
    with (folder / "reviews.csv").open("w", newline="", encoding="utf-8") as file:
        out = csv.writer(file)
        out.writerow(["order_no", "item_stars", "service_stars", "logistics_stars", "created_at", "text"])
        for i in range(reviews):
            placed = START + timedelta(minutes=(i * 2) % 500_000)
            stars = [rng.choice((5, 5, 4, 3, 1)) for _ in range(3)]
            out.writerow([f"O{i * 2:010d}", *stars, (placed + timedelta(days=3)).isoformat(), rng.choice(TEXTS)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--consumers", type=int, default=100_000)
    parser.add_argument("--merchants", type=int, default=5_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--reviews", type=int, default=500_000)
    parser.add_argument("--batch-size", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--reuse-files", action="store_true", help="Keep the files of the last run.")
    args = parser.parse_args()
    if args.reviews > args.orders // 2:
        sys.exit("--reviews must be at most half of --orders (every other order is reviewed)")

    import psycopg

    from core import embedded

    folder = ROOT / "var" / "bench-import"
    if not args.reuse_files:
        started = time.monotonic()
        generate(folder, args.consumers, args.merchants, args.orders, args.reviews, args.seed)
        print(f"generated the files in {time.monotonic() - started:.0f} s")
    embedded.start_postgres()
    socket_dir = embedded.pg_socket_dir()
    name = "bench_import"
    admin = psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = f"postgresql://postgres@/{name}?host={socket_dir}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from merchants.importing import import_kind

    try:
        call_command("migrate", verbosity=0)
        runs = [("merchants", args.merchants), ("consumers", args.consumers), ("orders", args.orders),
                ("reviews", args.reviews), ("orders", args.orders)]  # fmt: skip
        print(f"load average before: {os.getloadavg()[0]:.1f}")
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = psutil.Process(cursor.fetchone()[0])
        for number, (kind, rows) in enumerate(runs):
            started, python_cpu, server_cpu = time.monotonic(), time.process_time(), sum(backend.cpu_times()[:2])
            report = import_kind(kind, folder / f"{kind}.csv", batch_size=args.batch_size)
            seconds = time.monotonic() - started
            python_cpu, server_cpu = time.process_time() - python_cpu, sum(backend.cpu_times()[:2]) - server_cpu
            label = f"{kind} (rerun)" if number == len(runs) - 1 else kind
            counts = f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged"
            # The reading thread and the server overlap: on two idle cores the wall time is about the larger.
            quiet = rows / max(python_cpu, server_cpu, 1e-9)
            print(f"{label:16} {rows:>10,} rows {seconds:7.1f} s {rows / seconds:>9,.0f} rows/s wall; CPU: Python "
                  f"{python_cpu:.1f} s, PostgreSQL {server_cpu:.1f} s -> {quiet:,.0f} rows/s on 2 idle cores; "
                  f"{counts}, {report.rejected} rejected; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    finally:
        connection.close()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
