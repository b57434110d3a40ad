from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from core.demo import DemoLogin, ensure_demo_logins
from core.supervisor import Supervisor


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
        supervisor = Supervisor(self.stdout.write, self.stderr.write)
        supervisor.start_embedded()
        try:
            logins = _prepare(demo=not no_demo)
            supervisor.start_children(host, port)
            self._print_banner(host, port, logins)
            supervisor.watch()
        except KeyboardInterrupt:
            self.stdout.write("\nStopping ...")
        finally:
            supervisor.stop()

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


def _prepare(*, demo: bool) -> list[DemoLogin]:
    """Migrate and collect static files; with ``demo`` (and DEBUG), load the demo data and return its logins."""
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    # Demo logins have published passwords: only ever on a development server.
    if not (settings.DEBUG and demo):
        return []
    call_command("seed_demo")
    return ensure_demo_logins()
