"""Benchmark: seed_demo at scale, into a scratch database on the same PostgreSQL server.

    .venv/bin/python bench/seed_demo.py --scale 500     # 100,000 consumers, 1,000,000 orders

Prints wall time, rows per second, the peak memory of the seeding process and the load average before and
after (the box is shared); seed_demo's own line gives the seconds of each app's stage. The scratch database
is dropped afterwards. Uses the embedded servers (started if needed) unless DATABASE_URL is set.
"""

from __future__ import annotations

import argparse
import os
import resource

import _harness as h


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    h.refuse_database_url()
    database = h.ScratchDatabase("bench_seed_demo")
    database.create()
    try:
        database.migrate()
        load_before = os.getloadavg()
        _done, elapsed = h.timed(
            lambda: h.manage(
                "seed_demo", "--scale", str(args.scale), "--seed", str(args.seed), "--quiet", env=database.env()
            )
        )
        load_after = os.getloadavg()
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        with database.connect() as conn:
            consumers = conn.execute("SELECT count(*) FROM crm_consumer").fetchone()[0]
            orders = conn.execute("SELECT count(*) FROM crm_order").fetchone()[0]
    finally:
        database.drop()
    rows = consumers + orders
    print(f"seed_demo --scale {args.scale}: {consumers:,} consumers + {orders:,} orders in {elapsed:.1f} s")
    print(f"  {rows / elapsed:,.0f} rows/s; peak memory of the seeding process {peak_mib:,.0f} MiB")
    print(
        "  load average (1, 5, 15 min) before {:.1f} {:.1f} {:.1f}, after {:.1f} {:.1f} {:.1f}".format(
            *load_before, *load_after
        )
    )


if __name__ == "__main__":
    main()
