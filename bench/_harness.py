"""What the bench scripts share: a scratch database on the embedded servers, daphne over HTTP, and the report.

The scripts run by path (``.venv/bin/python bench/x.py``), so this folder is on ``sys.path`` and they
``import _harness`` first: that puts the project's root ahead of it, so ``qa`` is the app, not ``bench/qa.py``.
"""

from __future__ import annotations

import http.cookiejar
import math
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path[:1]:
    sys.path.insert(0, str(ROOT))
MANAGE = [sys.executable, str(ROOT / "manage.py")]


# --- The scratch database ---------------------------------------------------------------------------


def refuse_database_url() -> None:
    if os.environ.get("DATABASE_URL"):
        sys.exit("Run this against the embedded server (unset DATABASE_URL): it uses a scratch database.")


def start_embedded(*, redis: bool = True) -> None:
    """The embedded PostgreSQL (and Redis), started when they are not running."""
    from core import embedded

    embedded.start_postgres()
    if redis:
        embedded.start_redis()


def var_dir() -> str:
    """The checkout's var/ folder (the embedded servers' home, the static files' usual place)."""
    from core import embedded

    return str(embedded.VAR_DIR)


def redis_url(db: int = 0) -> str:
    from core import embedded

    return embedded.redis_url(db)


class ScratchDatabase:
    """A database of the bench's own on the embedded PostgreSQL server (started if needed)."""

    def __init__(self, name: str, *, redis: bool = True) -> None:
        import psycopg

        from core import embedded

        start_embedded(redis=redis)
        self.name = name
        self.socket_dir = embedded.pg_socket_dir()
        self.admin = psycopg.connect(host=str(self.socket_dir), user="postgres", dbname="postgres", autocommit=True)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@/{self.name}?host={self.socket_dir}"

    def exists(self) -> bool:
        return self.admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [self.name]).fetchone() is not None

    def create(self) -> None:
        """A new, empty database (an old one of the name is dropped first)."""
        self.drop()
        self.admin.execute(f'CREATE DATABASE "{self.name}"')

    def ensure(self) -> None:
        if not self.exists():
            self.admin.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def env(self, **extra: str) -> dict[str, str]:
        """This process's environment pointed at the database, for manage.py and servers."""
        return {**os.environ, "DATABASE_URL": self.url, **extra}

    def connect(self, **options: Any) -> Any:
        import psycopg

        return psycopg.connect(host=str(self.socket_dir), user="postgres", dbname=self.name, **options)

    def migrate(self, env: dict[str, str] | None = None) -> None:
        manage("migrate", "-v0", "--skip-checks", env=env or self.env())


def manage(*args: str, env: dict[str, str], **options: Any) -> subprocess.CompletedProcess[Any]:
    """``manage.py <args>`` in a process of its own; a failure ends the bench."""
    return subprocess.run([*MANAGE, *args], env=env, check=True, cwd=ROOT, **options)


def setup_django(**environ: str) -> None:
    """Django in this process, on the settings ``environ`` adds to the environment."""
    os.environ.update(environ)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def close_connections() -> None:
    """Django's connections closed (when Django is set up), so that the scratch database can be dropped."""
    from django.conf import settings

    if settings.configured:
        from django.db import connections

        connections.close_all()


# --- A server over HTTP ------------------------------------------------------------------------------


def server_env(database: ScratchDatabase, *, static_dir: str, secret: str, **extra: str) -> dict[str, str]:
    """What daphne runs with: DEBUG=0 over plain HTTP on 127.0.0.1, static files from ``static_dir``."""
    return database.env(
        DEBUG="0", SECURE_SSL_REDIRECT="0", SESSION_COOKIE_SECURE="0", CSRF_COOKIE_SECURE="0",
        ALLOWED_HOSTS="127.0.0.1", SECRET_KEY=secret, VAR_DIR=static_dir, **extra,
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_daphne(env: dict[str, str], *, port: int | None = None, stderr: Any = subprocess.DEVNULL) -> Any:
    """``daphne config.asgi:application`` on 127.0.0.1; the process and its port."""
    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT, env={"DJANGO_SETTINGS_MODULE": "config.settings", **env}, stdout=subprocess.DEVNULL, stderr=stderr,
    )  # fmt: skip
    return process, port


def wait_for_http(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            sys.exit("daphne exited before answering")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    sys.exit("daphne did not answer in time")


class Browser:
    """A logged-in session over plain HTTP: cookies kept, the login form's CSRF token posted back."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> tuple[int, bytes]:
        with self.opener.open(self.base + path, timeout=60) as response:
            return response.status, response.read()

    def login(self, username: str, password: str, *, form: str = "/admin/login/", lands_on: str = "/admin/") -> None:
        """Sign in on the login page ``form``, asking to go on to ``lands_on``; the bench stops if it does not."""
        _status, page = self.get(form)
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if token is None:
            sys.exit("no CSRF token on the login page")
        fields = {
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": token[1].decode(),
            "next": lands_on,
        }
        request = urllib.request.Request(self.base + form, data=urllib.parse.urlencode(fields).encode())
        with self.opener.open(request, timeout=60) as response:
            if not response.url.endswith(lands_on):
                sys.exit(f"login as {username} failed (ended on {response.url})")

    def timed_gets(self, path: str, *, requests: int, warmup: int) -> tuple[list[float], bytes]:
        """``requests`` GETs of ``path`` after ``warmup`` untimed ones: milliseconds each, and the last body."""
        for _ in range(warmup):
            self.get(path)
        times, body = [], b""
        for _ in range(requests):
            started = time.perf_counter()
            status, body = self.get(path)
            times.append((time.perf_counter() - started) * 1000)
            if status != 200:
                sys.exit(f"{path}: HTTP {status}")
        return times, body


def count_queries(username: str, paths: Sequence[str]) -> dict[str, tuple[int, str]]:
    """Queries per page (the second GET: sessions and caches warm) and the page, with Django's test Client
    in this process, logged in as ``username``."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    plain = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
             "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # fmt: skip
    counts = {}
    with override_settings(STORAGES=plain):  # no manifest needed to render here
        for path in paths:
            client.get(path)
            with CaptureQueriesContext(connection) as captured:
                response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            counts[path] = (len(captured), response.content.decode())
    return counts


# --- Timing and the report ---------------------------------------------------------------------------


def percentile(samples: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0.95 for p95)."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def spread(milliseconds: Sequence[float]) -> str:
    """p50 / p95 / p99 of latencies in one line."""
    if not milliseconds:
        return "n/a"
    p50, p95, p99 = (percentile(milliseconds, share) for share in (0.50, 0.95, 0.99))
    return f"p50 {p50:.1f} / p95 {p95:.1f} / p99 {p99:.1f} ms (n={len(milliseconds)})"


def latency_cells(milliseconds: Sequence[float]) -> tuple[str, str, str]:
    """p50, p95 and max, formatted for a table."""
    return (f"{statistics.median(milliseconds):.1f}", f"{percentile(milliseconds, 0.95):.1f}",
            f"{max(milliseconds):.1f}")  # fmt: skip


def timed(work: Callable[[], Any]) -> tuple[Any, float]:
    """What ``work()`` returns, and the wall seconds it took."""
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.0f} s"


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, left: Sequence[int] = (0,)) -> None:
    """Columns as wide as their widest cell; those in ``left`` aligned left, the rest right; a rule under
    the header."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = (f"{c:{w}}" if i in left else f"{c:>{w}}" for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        return " ".join(cells).rstrip()

    print(line(header))
    print("-" * len(line(header)))
    for row in rows:
        print(line(row))
