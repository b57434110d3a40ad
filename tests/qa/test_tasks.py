"""The QA pipeline through a real Celery worker: a saved transcript is evaluated after commit."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import pytest

from qa import searching, tasks
from qa.models import Finding
from tests.qa import factories


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.2)


@pytest.mark.django_db(transaction=True)
def test_saved_transcript_is_searchable_at_once_and_evaluated_by_the_worker(
    celery_worker: subprocess.Popen[bytes],
) -> None:
    factories.rule("rude", "phrase", speaker="agent", terms=["爱买不买"])
    transcript = factories.transcript([("consumer", "我要退货"), ("agent", "爱买不买")])
    assert searching.search('"爱买不买"').total == 1  # the search rows committed with the transcript
    wait_for(lambda: Finding.objects.filter(transcript=transcript).exists())
    assert Finding.objects.get().matched_text == "爱买不买"


@pytest.mark.django_db
def test_sweep_picks_up_what_a_dead_worker_left_behind() -> None:
    factories.rule("rude", "phrase", speaker="agent", terms=["爱买不买"])
    transcript = factories.transcript([("agent", "爱买不买")])  # its on-commit tasks never ran
    result = tasks.sweep()
    assert result["evaluated"] == 1
    assert Finding.objects.filter(transcript=transcript).count() == 1
    assert tasks.sweep()["evaluated"] == 0
