"""bench/qa.py: the figures — a day of the source's calls, the targets, a results row scaled to a day."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass

import _harness as h

DAY_CHARACTERS = 360_000_000  # 30,000 call-hours at ~200 characters a minute
CHARS_PER_MINUTE = 200
TARGET_EVALUATION_S = 10 * 60
EXTERNAL_PREFIX = "bench-qa:"  # the bench's transcripts; anything else in the database stops it


@dataclass
class Row:
    """One line of the results table."""

    what: str
    seconds: float
    cpu: float  # CPU seconds of the bench's processes (PostgreSQL's are not counted)
    characters: int
    bytes: int
    note: str = ""

    def cells(self) -> tuple[str, ...]:
        rate = self.characters / self.seconds
        mb = self.bytes / self.seconds / 1e6
        scale = DAY_CHARACTERS / self.characters
        return (self.what, f"{self.seconds:,.1f}", f"{self.cpu:,.1f}", f"{rate / 1e3:,.1f}", f"{mb:,.3f}",
                h.duration(self.seconds * scale), h.duration(self.cpu * scale), self.note)  # fmt: skip


def cpu_seconds() -> float:
    """CPU time of this process, of its children that have ended, and of its PostgreSQL backend."""
    import psutil
    from django.db import connection

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = psutil.Process(cursor.fetchone()[0]).cpu_times()
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime + backend.user + backend.system


def load() -> str:
    return "load average " + " ".join(f"{n:.1f}" for n in os.getloadavg())


def print_rows(title: str, rows: list[Row], target: str) -> None:
    width = max(len(row.what) for row in rows)
    print(f"\n{title} — target: {target}")
    columns = ("wall s", 8), ("CPU s", 8), ("k chars/s", 10), ("MB/s", 7), ("day, wall", 10), ("day, CPU", 9)
    print(f"{'':{width}} " + " ".join(f"{name:>{w}}" for name, w in columns) + "  notes")
    for row in rows:
        c = row.cells()
        print(f"{c[0]:{width}} {c[1]:>8} {c[2]:>8} {c[3]:>10} {c[4]:>7} {c[5]:>10} {c[6]:>9}  {c[7]}")
    print(
        "(day: scaled to 360 M characters. CPU: of the bench's processes and their PostgreSQL backends together;"
        " on a box of its own with N busy processes a day takes about day-CPU / N)"
    )
