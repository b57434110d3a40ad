"""Benchmark: how long `make run` takes to serve a green /healthz, and to stop on Ctrl-C.

    .venv/bin/python bench/startup.py [--port 8000]

Run it twice: the first run on a fresh checkout includes creating the databases and loading the
demo data; the second is the everyday start. Prints both times, and fails if any process that
`make run` started is still alive after Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import _harness as h
import psutil


def healthz(port: int) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return json.load(response)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    if healthz(args.port) is not None:
        sys.exit(f"Something already answers on port {args.port}; stop it first.")

    started = time.monotonic()
    run = subprocess.Popen(
        ["make", "run"], cwd=h.ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    while (report := healthz(args.port)) is None or report.get("status") != "ok":
        if run.poll() is not None or time.monotonic() - started > args.timeout:
            sys.exit(f"make run did not become healthy (last report: {report})")
        time.sleep(0.2)
    ready = time.monotonic() - started
    family = psutil.Process(run.pid).children(recursive=True)

    stopping = time.monotonic()
    os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
    run.wait(timeout=60)
    stopped = time.monotonic() - stopping
    survivors = [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    print(f"make run: /healthz green after {ready:.1f} s; Ctrl-C stopped everything in {stopped:.1f} s")
    if survivors:
        sys.exit(f"still running after Ctrl-C: {[p.cmdline() for p in survivors]}")


if __name__ == "__main__":
    main()
