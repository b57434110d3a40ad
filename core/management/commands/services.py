from __future__ import annotations

import subprocess
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import embedded


class Command(BaseCommand):
    help = (
        "Start (up), stop (down) or show (status) the embedded PostgreSQL and Redis servers under var/; "
        "or run a command with them (exec -- CMD ...), stopping afterwards those this call started."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["up", "down", "status", "exec"])
        parser.add_argument("command", nargs="*", help="with exec: the command to run")

    def handle(self, *args: Any, action: str, command: list[str], **options: Any) -> None:
        if action == "up":
            self._up()
        elif action == "down":
            self._down(postgres=settings.EMBEDDED_DATABASE, redis=settings.EMBEDDED_REDIS)
        elif action == "status":
            self.stdout.write(f"PostgreSQL: {_state(settings.EMBEDDED_DATABASE, embedded.postgres_running)}")
            self.stdout.write(f"Redis: {_state(settings.EMBEDDED_REDIS, embedded.redis_running)}")
        else:
            self._exec(command)

    def _exec(self, command: list[str]) -> None:
        """Run ``command`` with the servers up, stopping afterwards those this call started; its exit code is ours."""
        if not command:
            raise CommandError("exec needs a command: manage.py services exec -- CMD ...")
        started = self._up()
        try:
            code = subprocess.call(command)
        finally:
            self._down(postgres="postgres" in started, redis="redis" in started)
        if code:
            raise SystemExit(code)

    def _up(self) -> set[str]:
        started = set()
        if settings.EMBEDDED_DATABASE and embedded.start_postgres():
            started.add("postgres")
        if settings.EMBEDDED_REDIS and embedded.start_redis():
            started.add("redis")
        if settings.EMBEDDED_DATABASE:
            self.stdout.write(f"PostgreSQL: {'started' if 'postgres' in started else 'running'} ({embedded.PG_DATA})")
        if settings.EMBEDDED_REDIS:
            self.stdout.write(f"Redis: {'started' if 'redis' in started else 'running'} (port {embedded.redis_port()})")
        return started

    def _down(self, *, postgres: bool, redis: bool) -> None:
        if redis:
            embedded.stop_redis()
            self.stdout.write("Redis: stopped")
        if postgres:
            embedded.stop_postgres()
            self.stdout.write("PostgreSQL: stopped")


def _state(is_embedded: bool, running: Any) -> str:
    if not is_embedded:
        return "external (URL set)"
    return "running" if running() else "stopped"
