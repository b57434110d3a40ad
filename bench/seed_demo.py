"""Benchmark: seed_demo at scale, into a scratch database on the same PostgreSQL server.

    .venv/bin/python bench/seed_demo.py --scale 500     # 100,000 consumers, 1,000,000 orders

Prints wall time, rows per second, the peak memory of the seeding process, the CPU seconds of the seeding
process and of the PostgreSQL backends serving the scratch database (sampled twice a second: the figure that
does not depend on how busy the shared box is) and the load average before and after; seed_demo's own line
gives the seconds of each app's stage. The scratch database (bench_seed_demo_<scale>) is dropped afterwards
unless --keep (bench/ticket_changelist.py then measures the queue on it). Uses the embedded servers (started
if needed) unless DATABASE_URL is set.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import time

import _harness as h
import psutil


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="Keep the seeded database for bench/ticket_changelist.py.")
    args = parser.parse_args()

    h.refuse_database_url()
    database = h.ScratchDatabase(f"bench_seed_demo_{args.scale}")
    database.create()
    try:
        database.migrate()
        load_before = os.getloadavg()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        command = [*h.MANAGE, "seed_demo", "--scale", str(args.scale), "--seed", str(args.seed), "--quiet"]
        started = time.perf_counter()
        with subprocess.Popen(command, env=database.env(), cwd=h.ROOT) as seeding:
            server_cpu = _backends_cpu(seeding, database.name)
        elapsed = time.perf_counter() - started
        if seeding.returncode != 0:
            raise SystemExit(f"seed_demo failed ({seeding.returncode})")
        load_after = os.getloadavg()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        python_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        peak_mib = after.ru_maxrss / 1024
        with database.connect() as conn:
            consumers = conn.execute("SELECT count(*) FROM crm_consumer").fetchone()[0]
            orders = conn.execute("SELECT count(*) FROM crm_order").fetchone()[0]
    finally:
        if not args.keep:
            database.drop()
    rows = consumers + orders
    print(f"seed_demo --scale {args.scale}: {consumers:,} consumers + {orders:,} orders in {elapsed:.1f} s")
    print(f"  {rows / elapsed:,.0f} rows/s; peak memory of the seeding process {peak_mib:,.0f} MiB")
    print(f"  CPU: seeding process {python_cpu:.1f} s, its PostgreSQL backends {server_cpu:.1f} s")
    print(
        "  load average (1, 5, 15 min) before {:.1f} {:.1f} {:.1f}, after {:.1f} {:.1f} {:.1f}".format(
            *load_before, *load_after
        )
    )


def _backends_cpu(process: subprocess.Popen[bytes], database: str) -> float:
    """Until ``process`` ends: the CPU seconds (user + system) of the backends connected to ``database``, each
    backend's last sample (a backend's parallel workers are not seen)."""
    seen: dict[int, float] = {}
    while process.poll() is None:
        for backend in psutil.process_iter(["cmdline"]):
            try:
                if f" {database} " in " ".join(backend.info["cmdline"] or []) + " ":
                    seen[backend.pid] = sum(backend.cpu_times()[:2])
            except psutil.Error:
                continue
        time.sleep(0.5)
    return sum(seen.values())


if __name__ == "__main__":
    main()
