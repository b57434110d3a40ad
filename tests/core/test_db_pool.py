"""A bounded connection pool: a request that cannot get a connection in time is a 503 with Retry-After."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Protocol, cast

import psycopg
import pytest
from django.conf import settings
from django.db import OperationalError, connection, connections
from django.test import Client
from psycopg_pool import ConnectionPool

from core.api import api_error, unavailable

EN = {"Accept-Language": "en"}
BUSY = {"code": "unavailable", "message": "The service is busy; try again in a few seconds."}


class Pooled(Protocol):
    """What Django's PostgreSQL wrapper adds for its pool (django-stubs leaves it out)."""

    @property
    def pool(self) -> ConnectionPool | None: ...

    def close_pool(self) -> None: ...


def pooled() -> Pooled:
    return cast(Pooled, connection)


def test_every_process_has_a_bounded_pool_and_no_persistent_connections() -> None:
    database = settings.DATABASES["default"]

    assert database["OPTIONS"]["pool"] == {
        "min_size": settings.DB_POOL_MIN,
        "max_size": settings.DB_POOL_MAX,
        "timeout": settings.DB_POOL_TIMEOUT,
    }
    assert database["CONN_MAX_AGE"] == 0
    pool = pooled().pool
    assert pool is not None and pool.max_size == settings.DB_POOL_MAX


@pytest.fixture
def pool_of_one(transactional_db: None) -> Iterator[threading.Event]:
    """The pool shrunk to one connection, which another thread holds until the event is set."""
    options = connection.settings_dict["OPTIONS"]
    original = options["pool"]
    connection.close()
    pooled().close_pool()
    options["pool"] = {"min_size": 1, "max_size": 1, "timeout": 0.3}
    release, held = threading.Event(), threading.Event()

    def hold() -> None:
        connections["default"].ensure_connection()
        held.set()
        release.wait(10)
        connections["default"].close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    try:
        yield release
    finally:
        release.set()
        holder.join(10)
        connection.close()
        pooled().close_pool()
        options["pool"] = original


@pytest.mark.parametrize("url", ["/api/tickets/", "/admin/tickets/ticket/"])
def test_a_request_that_cannot_get_a_connection_is_a_503_with_retry_after(
    url: str, pool_of_one: threading.Event
) -> None:
    client = Client(raise_request_exception=False)
    client.cookies[settings.SESSION_COOKIE_NAME] = "x" * 32  # the session is read from the database

    response = client.get(url, headers=EN)

    assert (response.status_code, response["Retry-After"]) == (503, str(settings.DB_POOL_RETRY_AFTER))
    if url.startswith("/api/"):
        assert response.json() == BUSY
    else:
        assert response.content.decode() == BUSY["message"]


def test_the_connection_comes_back_and_requests_are_answered_again(pool_of_one: threading.Event) -> None:
    client = Client(raise_request_exception=False)
    client.cookies[settings.SESSION_COOKIE_NAME] = "x" * 32
    assert client.get("/api/tickets/", headers=EN).status_code == 503

    pool_of_one.set()

    response = client.get("/api/tickets/", headers=EN)
    assert response.status_code == 403  # no such session, so not logged in: the database answered


@pytest.fixture
def database_down(transactional_db: None) -> Iterator[Callable[[bool], None]]:
    """``database_down(pooled)``: this process's database is a closed port (the server down), with or without
    a pool (a Celery process, or ``DB_POOL_MAX=0``, connects directly). Put back at the end."""
    settings_dict = connection.settings_dict
    saved, options = dict(settings_dict), dict(settings_dict["OPTIONS"])

    def down(with_pool: bool) -> None:
        connection.close()
        pooled().close_pool()
        settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", "1"
        settings_dict["OPTIONS"] = {**options, "pool": {"min_size": 1, "max_size": 2, "timeout": 0.5}}
        if not with_pool:
            del settings_dict["OPTIONS"]["pool"]

    try:
        yield down
    finally:
        connection.close()
        pooled().close_pool()
        settings_dict.update(saved)
        settings_dict["OPTIONS"] = options


@pytest.mark.parametrize("with_pool", [True, False], ids=["pool", "no-pool"])
@pytest.mark.parametrize("url", ["/api/tickets/", "/admin/tickets/ticket/"])
def test_a_database_that_refuses_connections_is_a_503_with_retry_after(
    url: str, with_pool: bool, database_down: Callable[[bool], None]
) -> None:
    client = Client(raise_request_exception=False)
    client.cookies[settings.SESSION_COOKIE_NAME] = "x" * 32
    database_down(with_pool)

    response = client.get(url, headers=EN)

    assert (response.status_code, response["Retry-After"]) == (503, str(settings.DB_POOL_RETRY_AFTER))
    if url.startswith("/api/"):
        assert response.json() == BUSY
    else:
        assert response.content.decode() == BUSY["message"]


def _failure_of(statement: str, *, terminated: bool = False) -> OperationalError:
    """The error Django raises for ``statement`` on a connection of its own (its backend killed first)."""
    connection.ensure_connection()
    if terminated:
        pid = connection.connection.info.backend_pid
        with psycopg.connect(connection.connection.info.dsn, password=connection.settings_dict["PASSWORD"]) as other:
            other.execute("SELECT pg_terminate_backend(%s)", [pid])
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    except OperationalError as error:
        return error
    finally:
        connection.close()
    raise AssertionError(f"{statement} did not fail")


def test_a_connection_lost_under_a_query_is_unavailable_but_a_querys_own_failure_is_a_bug(
    transactional_db: None,
) -> None:
    lost = _failure_of("SELECT 1", terminated=True)  # 57P01 (admin shutdown) or no SQLSTATE (connection gone)
    cancelled = _failure_of("SET LOCAL statement_timeout = 1; SELECT pg_sleep(1)")  # 57014: the query's own

    assert (api_error(lost), api_error(cancelled)) == (unavailable(), None)
