from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import capacity, embedded
from core.demo import ensure_demo_logins


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = (
        "Run everything: embedded PostgreSQL and Redis (unless URLs are set), migrations, demo data, "
        "the ASGI server, a Celery worker and Celery beat. Ctrl-C stops them all."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--no-demo",
            action="store_true",
            help="Do not load demo data or make demo logins (never done when DEBUG=0).",
        )

    def handle(self, *args: Any, host: str, port: int, no_demo: bool, **options: Any) -> None:
        # A closed terminal (SIGHUP) or a supervisor's SIGTERM stops everything as Ctrl-C does.
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _interrupt)
        # Demo logins have published passwords: only ever on a development server.
        demo = settings.DEBUG and not no_demo
        started_servers = []
        if settings.EMBEDDED_DATABASE and embedded.start_postgres():
            started_servers.append("postgres")
        if settings.EMBEDDED_REDIS and embedded.start_redis():
            started_servers.append("redis")
        children: list[tuple[str, subprocess.Popen[bytes]]] = []
        try:
            call_command("migrate", interactive=False, verbosity=0)
            call_command("collectstatic", interactive=False, verbosity=0)
            logins = []
            if demo:
                call_command("seed_demo")
                logins = ensure_demo_logins()
            python = sys.executable
            celery = [python, "-m", "celery", "-A", "config"]
            commands = {
                "web": [python, "-m", "daphne", "-b", host, "-p", str(port), "config.asgi:application"],
                "worker": [*celery, "worker", "-l", "info", "-c", "2", "-Q", "celery,transcription", "-n", "worker@%h"],
                # The search indexes' single writer: one queue, one process.
                "indexer": [*celery, "worker", "-l", "info", "-P", "solo", "-Q", "search", "-n", "indexer@%h"],
                "beat": [*celery, "beat", "-l", "info"],
            }
            # Celery processes: the worker's parent and its two children, the indexer, beat.
            problem = capacity.shortfall(capacity.connections_needed(5), capacity.connections_available())
            if problem:
                raise CommandError(problem)
            capacity.release_connections()
            for name, command in commands.items():
                environment = capacity.web_environment() if name == "web" else capacity.celery_environment()
                # Own session: the terminal's Ctrl-C reaches only us, and we stop the children in order.
                children.append((name, subprocess.Popen(command, start_new_session=True, env=environment)))
            self._print_banner(host, port, logins)
            while True:
                for name, child in children:
                    if child.poll() is not None:
                        self.stderr.write(f"{name} exited with code {child.returncode}; stopping everything.")
                        raise SystemExit(1)
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.stdout.write("\nStopping ...")
        finally:
            # A second Ctrl-C must not cut the shutdown short.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            self._stop(children)
            if "redis" in started_servers:
                embedded.stop_redis()
            if "postgres" in started_servers:
                embedded.stop_postgres()
            embedded_kept = (settings.EMBEDDED_DATABASE and "postgres" not in started_servers) or (
                settings.EMBEDDED_REDIS and "redis" not in started_servers
            )
            if embedded_kept:
                self.stdout.write("Embedded servers that were already running are left running (make stop).")
            self.stdout.write("Stopped.")

    def _stop(self, children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
        for _name, child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for name, child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in time; killing it.")
                child.kill()
                child.wait()

    def _print_banner(self, host: str, port: int, logins: Any) -> None:
        base = f"http://{host}:{port}"
        lines = [
            "",
            "Service Desk is running.",
            f"  Admin:       {base}/admin/",
            f"  API docs:    {base}/api/docs/",
            f"  Health:      {base}/healthz",
        ]
        if logins:
            lines.append("  Demo logins (username / password, role):")
            lines += [f"    {x.username:<11} {x.password:<22} {x.role or 'superuser'}" for x in logins]
        lines += ["Press Ctrl-C to stop everything.", ""]
        self.stdout.write("\n".join(lines))
