"""Services queue Celery tasks by name (core.queue): after the commit, on the routed queue, eagerly when configured."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from core import health
from core.queue import enqueue
from qa import recordings, services
from radio import building as radio_building

# The bot's knowledge-base index is the one Whoosh index left, on the `search` queue (its single writer).
INDEX_KNOWLEDGE_TASK = "chat.tasks.index_knowledge_article"

APPS = ("core", "crm", "merchants", "tickets", "qa", "radio")
TASK_NAME = re.compile(r"""["']((?:""" + "|".join(APPS) + r""")\.tasks\.\w+)["']""")

Capture = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]


def queue_size(name: str) -> int:
    with current_app.connection_for_write() as connection:
        _name, size, _consumers = connection.default_channel.queue_declare(queue=name, passive=False)
        return int(size)


def purge(name: str) -> None:
    with current_app.connection_for_write() as connection:
        connection.default_channel.queue_purge(name)


@pytest.fixture
def search_queue() -> Iterator[str]:
    purge("search")
    yield "search"
    purge("search")


@pytest.mark.parametrize(
    ("task_name", "queue"),
    [
        (recordings.TRANSCRIBE_TASK, "transcription"),
        (INDEX_KNOWLEDGE_TASK, "search"),
        (services.EVALUATE_TASK, "celery"),
        (radio_building.RENDER_AUDIO_TASK, "celery"),
    ],
)
def test_a_task_queued_by_name_takes_its_routed_queue(task_name: str, queue: str) -> None:
    assert current_app.amqp.router.route({}, task_name, (), {})["queue"].name == queue


def test_every_task_a_module_names_is_a_registered_task() -> None:
    current_app.loader.import_default_modules()
    named = set()
    for app in APPS:
        for path in (Path(settings.BASE_DIR) / app).rglob("*.py"):
            if path.name != "tasks.py" and "migrations" not in path.parts:
                named.update(TASK_NAME.findall(path.read_text(encoding="utf-8")))
    assert {"qa.tasks.transcribe_recording", "radio.tasks.render_digest_audio"} <= named
    assert sorted(name for name in named if name not in current_app.tasks) == []


@pytest.mark.django_db
def test_the_message_is_sent_after_the_commit_and_never_for_a_rollback(
    search_queue: str, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        enqueue(INDEX_KNOWLEDGE_TASK, 1)
        assert queue_size(search_queue) == 0  # not before the commit
    assert queue_size(search_queue) == 1
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ZeroDivisionError), transaction.atomic():
        enqueue(INDEX_KNOWLEDGE_TASK, 3)
        raise ZeroDivisionError
    assert queue_size(search_queue) == 1


@pytest.mark.django_db
def test_in_eager_mode_the_task_runs_in_place_after_the_commit(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    purge("celery")
    cache.delete(health.HEARTBEAT_KEY)
    eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            enqueue("core.tasks.heartbeat")
            assert cache.get(health.HEARTBEAT_KEY) is None
    finally:
        current_app.conf.task_always_eager = eager
    assert cache.get(health.HEARTBEAT_KEY) is not None
    assert queue_size("celery") == 0  # nothing went through the broker
