"""Benchmark: seed_demo at scale, into a scratch database on the same PostgreSQL server.

    .venv/bin/python bench/seed_demo.py --scale 500     # 100,000 consumers, 1,000,000 orders

Prints wall time, rows per second and the peak memory of the seeding process. The scratch database
is dropped afterwards. Uses the embedded servers (started if needed) unless DATABASE_URL is set.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    import psycopg

    from core import embedded

    if os.environ.get("DATABASE_URL"):
        sys.exit("Run this against the embedded server (unset DATABASE_URL): it creates a scratch database.")
    embedded.start_postgres()
    embedded.start_redis()
    socket_dir = embedded.pg_socket_dir()
    name = "bench_seed_demo"
    admin = psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.execute(f'CREATE DATABASE "{name}"')
    env = {**os.environ, "DATABASE_URL": f"postgresql://postgres@/{name}?host={socket_dir}"}
    manage = [sys.executable, str(ROOT / "manage.py")]
    try:
        subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
        started = time.monotonic()
        subprocess.run(
            [*manage, "seed_demo", "--scale", str(args.scale), "--seed", str(args.seed)], env=env, check=True
        )
        elapsed = time.monotonic() - started
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        with psycopg.connect(host=str(socket_dir), user="postgres", dbname=name) as conn:
            consumers = conn.execute("SELECT count(*) FROM crm_consumer").fetchone()[0]  # type: ignore[index]
            orders = conn.execute("SELECT count(*) FROM crm_order").fetchone()[0]  # type: ignore[index]
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    rows = consumers + orders
    print(f"seed_demo --scale {args.scale}: {consumers:,} consumers + {orders:,} orders in {elapsed:.1f} s")
    print(f"  {rows / elapsed:,.0f} rows/s; peak memory of the seeding process {peak_mib:,.0f} MiB")


if __name__ == "__main__":
    main()
