from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from importlib import import_module
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.db import connection
from django.test import Client

from chat.models import Synonym
from core import embedded, roles
from crm.models import CreditTier, RiskPattern

_STARTED = pytest.StashKey[list[Callable[[], None]]]()


def pytest_configure(config: pytest.Config) -> None:
    """Bring up the embedded servers for a bare `pytest` run (make test has them up already)."""
    if hasattr(config, "workerinput"):  # an xdist worker: the controller did it
        return
    started = []
    if not os.environ.get("DATABASE_URL") and embedded.start_postgres():
        started.append(embedded.stop_postgres)
    if not os.environ.get("REDIS_URL") and embedded.start_redis():
        started.append(embedded.stop_redis)
    config.stash[_STARTED] = started


def pytest_unconfigure(config: pytest.Config) -> None:
    for stop in config.stash.get(_STARTED, []):
        stop()


@pytest.fixture(scope="session", autouse=True)
def _close_stray_connections(django_db_setup: None, django_db_blocker: object) -> Iterator[None]:
    """Close connections other threads left open (Channels' sync-to-async pool), so the test databases drop."""
    yield
    with django_db_blocker.unblock(), connection.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(scope="session", autouse=True)
def _roles_from_table(django_db_setup: None, django_db_blocker: object) -> None:
    """Give the role groups exactly the table's permissions.

    The migrations do that too; core's tests prove the latest frozen copy equals the table, and this
    keeps a change to the table usable in tests before its migration is written.
    """
    from django.apps import apps as django_apps

    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        roles.sync_roles(django_apps, roles.ROLE_PERMISSIONS)


LEFTOVER_TASKS_TIMEOUT = 10.0


async def stop_leftover_tasks(timeout: float = LEFTOVER_TASKS_TIMEOUT) -> None:
    """Cancel every task a test left running (a refused socket's consumer, a channel-layer receive) until it stops.

    pytest-asyncio's loop teardown cancels tasks once and waits for ever; a task that swallows one
    cancellation (Python 3.11's asyncio.wait_for does, inside libraries) would hang the run. Here each
    leftover is cancelled again until it ends, and a task that still runs after ``timeout`` fails the
    test by name instead of hanging CI.
    """
    loop = asyncio.get_running_loop()
    me = asyncio.current_task()
    deadline = loop.time() + timeout
    while left := [task for task in asyncio.all_tasks() if task is not me and not task.done()]:
        if loop.time() > deadline:
            raise RuntimeError(f"{len(left)} task(s) would not stop within {timeout} s: {left}")
        for task in left:
            task.cancel()
        await asyncio.wait(left, timeout=0.2)


@pytest.fixture
async def _leftover_tasks_stopped() -> AsyncIterator[None]:
    yield
    await stop_leftover_tasks()


@pytest.fixture(autouse=True)
def _bounded_async_teardown(request: pytest.FixtureRequest) -> None:
    """Every async test ends with its leftover tasks stopped, in bounded time (see stop_leftover_tasks)."""
    if inspect.iscoroutinefunction(getattr(request.node, "obj", None)):
        request.getfixturevalue("_leftover_tasks_stopped")


@pytest.fixture(autouse=True)
def _clean_cache() -> None:
    # The cache is a real Redis shared by the tests of one xdist worker: start each test empty.
    cache.clear()


@pytest.fixture(autouse=True)
def _data_migration_rows(request: pytest.FixtureRequest) -> None:
    """Put back the rows data migrations made (role groups, credit tiers, risk patterns, synonyms) after a transactional
    test's flush.

    pytest-xdist hands out whole files, so a plain test may run after another file's flush.
    """
    uses_db = request.node.get_closest_marker("django_db") or {"db", "transactional_db"} & set(request.fixturenames)
    if not uses_db:
        return
    request.getfixturevalue("_django_db_helper")
    from django.apps import apps as django_apps

    if not Group.objects.filter(name=roles.AGENT).exists():
        roles.sync_roles(django_apps, roles.ROLE_PERMISSIONS)
    if not CreditTier.objects.exists():
        import_module("crm.migrations.0003_seed_tiers").seed_tiers(django_apps, None)
        import_module("crm.migrations.0008_tier_return_and_dispute_privileges").grant(django_apps, None)
    if not RiskPattern.objects.exists():
        import_module("crm.migrations.0007_seed_risk_patterns").seed(django_apps, None)
    if not Synonym.objects.exists():
        import_module("chat.migrations.0006_synonyms_and_chosen_answers").seed_synonyms(django_apps, None)


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def make(username: str, role: str | None = None, *, password: str = "pw-for-tests", **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        user = User.objects.create_user(username=username, password=password, **extra)
        if role is not None:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def agent(make_user: Callable[..., User]) -> User:
    return make_user("agent1", roles.AGENT)


@pytest.fixture
def supervisor(make_user: Callable[..., User]) -> User:
    return make_user("supervisor1", roles.SUPERVISOR)


@pytest.fixture
def client_for(db: None) -> Callable[[User], Client]:
    def login(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return login


def celery_process(*args: str) -> subprocess.Popen[bytes]:
    """Start `celery -A config ARGS` in its own process, on this test's database and Redis prefix.

    It sees only committed rows: use it with transactional_db.
    """
    db = connection.settings_dict
    host, credentials = db["HOST"], f"{db['USER']}:{db['PASSWORD']}"
    if host.startswith("/"):
        url = f"postgresql://{credentials}@/{db['NAME']}?host={host}"
    else:
        url = f"postgresql://{credentials}@{host}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": url}
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", *args], cwd=settings.BASE_DIR, env=env)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def celery_worker(transactional_db: None) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker process on the real broker, using this test's database."""
    from celery import current_app

    name = f"test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}@%h"
    queues = "celery,transcription,search"
    worker = celery_process(
        "worker", "-P", "solo", "-n", name, "-Q", queues, "--without-mingle", "--without-gossip", "-l", "warning"
    )
    try:
        deadline = time.monotonic() + 30
        while not current_app.control.ping(timeout=0.5):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Celery worker did not start")
        yield worker
    finally:
        stop_process(worker)
