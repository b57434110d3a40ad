"""Benchmark: rescore every consumer's credit rating at the issue's scale.

    .venv/bin/python bench/rate_consumers.py --scale 5000   # 1,000,000 consumers, ~10,000,000 orders

Seeds a scratch database on the embedded PostgreSQL with seed_demo (its time is printed too), then
runs `manage.py rate_consumers` in its own process and reports its wall time per stage, and the peak
resident memory of that process and of the PostgreSQL server processes (sampled every 0.2 s).
Target (the crm issue): at most 10 minutes on 2 cores, peak memory under 2 GiB.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import _harness as h
import psutil


def run_measured(command: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """Run a command; return wall seconds, its peak RSS and the PostgreSQL servers' peak RSS, in MiB."""
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    child = psutil.Process(process.pid)
    peak, pg_peak = 0, 0
    while process.poll() is None:
        try:
            peak = max(peak, child.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        pg = 0
        for proc in psutil.process_iter(["name", "memory_info"]):
            if proc.info["name"] == "postgres" and proc.info["memory_info"]:
                pg += proc.info["memory_info"].rss
        pg_peak = max(pg_peak, pg)
        time.sleep(0.2)
    output = process.stdout.read() if process.stdout else ""
    if process.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{output}")
    return time.monotonic() - started, peak / 2**20, pg_peak / 2**20, output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=5000)
    parser.add_argument("--keep", action="store_true", help="Keep the scratch database (to rerun rating only).")
    parser.add_argument("--reuse", action="store_true", help="Rate the kept scratch database without reseeding.")
    args = parser.parse_args()

    database = h.ScratchDatabase(f"bench_rating_{args.scale}")
    env = database.env()
    manage = h.MANAGE
    try:
        if not args.reuse:
            database.create()
            database.migrate()
            seconds, peak, _pg, _out = run_measured([*manage, "seed_demo", "--scale", str(args.scale), "--quiet"], env)
            print(f"seed_demo --scale {args.scale}: {seconds:.0f} s, peak {peak:,.0f} MiB")
        with database.connect() as conn:
            consumers, orders, reviews = conn.execute(
                "SELECT (SELECT count(*) FROM crm_consumer), (SELECT count(*) FROM crm_order),"
                " (SELECT count(*) FROM crm_review)"
            ).fetchone()
        seconds, peak, pg_peak, output = run_measured([*manage, "rate_consumers", "--quiet", "--no-risk"], env)
        print(f"rate_consumers: {consumers:,} consumers, {orders:,} orders, {reviews:,} reviews")
        print(f"  {seconds:.0f} s wall ({output.strip()})")
        print(f"  peak RSS: rating process {peak:,.0f} MiB; PostgreSQL processes together {pg_peak:,.0f} MiB")
        seconds, _peak, _pg, output = run_measured(
            [*manage, "shell", "-c", "from crm.risk import detect_risk_flags; print(detect_risk_flags())"], env
        )
        print(f"risk rules over all reviews: {seconds:.0f} s ({output.strip()})")
    finally:
        if not args.keep:
            database.drop()


if __name__ == "__main__":
    main()
