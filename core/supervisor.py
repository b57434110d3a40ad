"""What ``manage.py serve`` runs: the embedded servers it had to start, then the four children — daphne, the
Celery worker, the search indexer and beat — each in its own session, watched until one exits or a signal
comes, and stopped in order (TERM, then KILL after 15 s), the embedded servers last.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable

from django.conf import settings
from django.core.management.base import CommandError

from core import capacity, embedded

Child = tuple[str, "subprocess.Popen[bytes]"]
STOP_SECONDS = 15


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def child_commands(host: str, port: int) -> dict[str, list[str]]:
    python = sys.executable
    celery = [python, "-m", "celery", "-A", "config"]
    return {
        "web": [python, "-m", "daphne", "-b", host, "-p", str(port), "config.asgi:application"],
        "worker": [*celery, "worker", "-l", "info", "-c", "2", "-Q", "celery,transcription", "-n", "worker@%h"],
        # The search indexes' single writer: one queue, one process.
        "indexer": [*celery, "worker", "-l", "info", "-P", "solo", "-Q", "search", "-n", "indexer@%h"],
        "beat": [*celery, "beat", "-l", "info"],
    }


class Supervisor:
    """The processes of one ``serve``; ``say`` and ``complain`` write to its stdout and stderr."""

    def __init__(self, say: Callable[[str], object], complain: Callable[[str], object]) -> None:
        self.say, self.complain = say, complain
        self.started: list[str] = []
        self.children: list[Child] = []

    def start_embedded(self) -> None:
        # A closed terminal (SIGHUP) or a supervisor's SIGTERM stops everything as Ctrl-C does.
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _interrupt)
        if settings.EMBEDDED_DATABASE and embedded.start_postgres():
            self.started.append("postgres")
        if settings.EMBEDDED_REDIS and embedded.start_redis():
            self.started.append("redis")

    def start_children(self, host: str, port: int) -> None:
        # Celery processes: the worker's parent and its two children, the indexer, beat.
        problem = capacity.shortfall(capacity.connections_needed(5), capacity.connections_available())
        if problem:
            raise CommandError(problem)
        capacity.release_connections()
        for name, command in child_commands(host, port).items():
            environment = capacity.web_environment() if name == "web" else capacity.celery_environment()
            # Own session: the terminal's Ctrl-C reaches only us, and we stop the children in order.
            self.children.append((name, subprocess.Popen(command, start_new_session=True, env=environment)))

    def watch(self) -> None:
        """Until a child exits (then everything stops, exit code 1) or Ctrl-C."""
        try:
            while True:
                for name, child in self.children:
                    if child.poll() is not None:
                        self.complain(f"{name} exited with code {child.returncode}; stopping everything.")
                        raise SystemExit(1)
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.say("\nStopping ...")

    def stop(self) -> None:
        # A second Ctrl-C must not cut the shutdown short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self._stop_children()
        if "redis" in self.started:
            embedded.stop_redis()
        if "postgres" in self.started:
            embedded.stop_postgres()
        kept = (settings.EMBEDDED_DATABASE and "postgres" not in self.started) or (
            settings.EMBEDDED_REDIS and "redis" not in self.started
        )
        if kept:
            self.say("Embedded servers that were already running are left running (make stop).")
        self.say("Stopped.")

    def _stop_children(self) -> None:
        for _name, child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for name, child in self.children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.complain(f"{name} did not stop in time; killing it.")
                child.kill()
                child.wait()
