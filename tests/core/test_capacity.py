"""The pools of every process `serve` starts fit in PostgreSQL's max_connections, or serve refuses to start."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from pytest_django.fixtures import Settings

from core import capacity, embedded


@pytest.mark.django_db
def test_the_default_pools_of_serve_and_two_test_workers_fit_in_the_embedded_server() -> None:
    available = capacity.connections_available()
    serve = sum(capacity.connections_needed(5).values())
    tests = 4 * settings.DB_POOL_MAX  # two xdist workers and a test Celery worker beside each

    assert (serve, available) == (25, embedded.PG_MAX_CONNECTIONS - 3)
    assert serve + tests < available
    assert capacity.shortfall(capacity.connections_needed(5), available) is None


def test_serve_names_the_settings_when_the_pools_exceed_the_server(settings: Settings) -> None:
    settings.DB_POOL_MAX = 190

    assert capacity.shortfall(capacity.connections_needed(5), 194) == (
        "The connection pools may hold 195 PostgreSQL connections (web 190, celery 5) but the server allows 194:"
        " lower DB_POOL_MAX or raise max_connections (EMBEDDED_PG_MAX_CONNECTIONS)."
    )


def test_celery_processes_get_no_pool_and_daphne_as_many_threads_as_connections() -> None:
    assert capacity.celery_environment()["DB_POOL_MAX"] == "0"
    assert capacity.web_environment()["ASGI_THREADS"] == str(settings.DB_POOL_MAX)


@pytest.mark.django_db
def test_the_embedded_server_was_given_its_max_connections() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        assert cursor.fetchone() == (str(embedded.PG_MAX_CONNECTIONS),)
