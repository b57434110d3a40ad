"""The outbox (core.queue): a committed change always has its task, sent at the commit or by the sweep later.

The broker is made unreachable by pointing Celery at a closed port (its producer pool dropped), which is
what a Redis outage looks like to a publisher: the connection is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import current_app
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client
from django.utils import timezone

from core import queue
from core.models import QueuedTask
from qa.models import Recording, Transcript
from tests.core.test_queue import purge, queue_size
from tests.crm import factories as f
from tests.qa.test_recordings_api import post_json, transcript_doc, upload

pytestmark = pytest.mark.django_db
Capture = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]
TASK = "chat.tasks.index_knowledge_article"  # on the `search` queue, which these tests purge


def _reset_producers() -> None:
    current_app._pool = None
    current_app.amqp._producer_pool = None


@pytest.fixture
def broker() -> Iterator[Callable[[bool], None]]:
    """``broker(False)`` makes the broker unreachable, ``broker(True)`` brings it back; back at the end."""
    url = current_app.conf.broker_url
    purge("search")
    purge("transcription")

    def up(reachable: bool) -> None:
        current_app.conf.broker_url = url if reachable else "redis://127.0.0.1:1/0"
        _reset_producers()

    try:
        yield up
    finally:
        up(True)
        purge("search")
        purge("transcription")


def test_a_committed_task_is_sent_and_its_row_deleted_and_a_rollback_leaves_neither(
    broker: Callable[[bool], None], django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        queue.enqueue(TASK, 7)
        assert list(QueuedTask.objects.values_list("task_name", "args")) == [(TASK, [7])]
    assert QueuedTask.objects.count() == 0
    assert queue_size("search") == 1
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ZeroDivisionError), transaction.atomic():
        queue.enqueue(TASK, 8)
        raise ZeroDivisionError
    assert QueuedTask.objects.count() == 0
    assert queue_size("search") == 1


def test_a_task_the_broker_refuses_stays_in_the_outbox_and_the_sweep_sends_it_once_the_broker_is_back(
    broker: Callable[[bool], None], django_capture_on_commit_callbacks: Capture
) -> None:
    broker(False)
    with django_capture_on_commit_callbacks(execute=True):
        queue.enqueue(TASK, 7, full=True)  # no exception reaches the caller
    row = QueuedTask.objects.get()
    assert (row.task_name, row.args, row.kwargs, row.attempts) == (TASK, [7], {"full": True}, 1)
    assert "OperationalError" in row.last_error
    assert queue.sweep_outbox() == 0  # within the commit's grace: not yet the sweep's
    QueuedTask.objects.update(send_after=timezone.now())
    assert queue.sweep_outbox() == 0  # still down: kept, due again at once
    row.refresh_from_db()
    assert row.attempts == 2
    assert row.send_after <= timezone.now()
    broker(True)
    assert queue_size("search") == 0
    assert queue.sweep_outbox() == 1
    assert QueuedTask.objects.count() == 0
    assert queue_size("search") == 1
    assert queue.sweep_outbox() == 0  # nothing sent twice


def test_the_sweep_leaves_rows_another_sweep_has_claimed(broker: Callable[[bool], None]) -> None:
    due = timezone.now() - timedelta(seconds=1)
    QueuedTask.objects.bulk_create([QueuedTask(task_name=TASK, args=[n], send_after=due) for n in (1, 2)])
    claimed = QueuedTask.objects.filter(args=[1]).get()
    claimed.send_after = timezone.now() + queue.SWEEP_CLAIM
    claimed.save(update_fields=["send_after"])
    assert queue.sweep_outbox() == 1
    assert list(QueuedTask.objects.values_list("args", flat=True)) == [[1]]
    assert queue_size("search") == 1


def test_the_sweep_is_a_beat_entry_every_minute() -> None:
    entry = current_app.conf.beat_schedule["core.sweep_outbox"]
    assert entry["task"] == "core.tasks.sweep_outbox"
    assert str(entry["schedule"]) == "<crontab: * * * * * (m/h/dM/MY/d)>"


def test_a_recording_uploaded_while_the_broker_is_down_is_accepted_and_queued_after_recovery(
    broker: Callable[[bool], None],
    make_user: Callable[..., User],
    client_for: Callable[[User], Client],
    django_capture_on_commit_callbacks: Capture,
    tmp_path: Path,
    settings: Any,
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    f.consumer("C1")
    agent = make_user("agent1", "agent")
    broker(False)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client_for(agent))
    assert response.status_code == 202, response.content
    recording = Recording.objects.get()
    assert (response.json()["id"], recording.status) == (recording.pk, "pending")
    row = QueuedTask.objects.get()
    assert (row.task_name, row.args) == ("qa.tasks.transcribe_recording", [recording.pk])
    broker(True)
    QueuedTask.objects.update(send_after=timezone.now())
    assert queue.sweep_outbox() == 1
    assert queue_size("transcription") == 1
    assert QueuedTask.objects.count() == 0


@pytest.mark.django_db(transaction=True)  # the import's own commit sends its task, in the request
def test_a_transcript_imported_while_the_broker_is_down_is_saved_answered_202_and_evaluated_after_recovery(
    broker: Callable[[bool], None], make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    f.consumer("C1")
    make_user("agent1", "agent")
    client = client_for(make_user("supervisor1", "supervisor"))
    purge("celery")
    broker(False)
    response = post_json(client, "/api/transcripts/import/", transcript_doc())
    assert response.status_code == 202, response.content
    transcript = Transcript.objects.get()
    assert response.json() == {
        "id": transcript.pk, "external_id": "pbx-1", "replaced": False, "segments": 2, "rejected_segments": [],
    }  # fmt: skip
    row = QueuedTask.objects.get()
    assert (row.task_name, row.args, row.attempts) == ("qa.tasks.evaluate_transcript", [transcript.pk], 1)
    broker(True)
    again = post_json(client, "/api/transcripts/import/", transcript_doc())
    assert (again.status_code, again.json()["replaced"]) == (201, True)  # the broker took this one at once
    QueuedTask.objects.update(send_after=timezone.now())
    assert queue.sweep_outbox() == 1
    assert queue_size("celery") == 2
    assert (QueuedTask.objects.count(), Transcript.objects.count()) == (0, 1)
    purge("celery")
