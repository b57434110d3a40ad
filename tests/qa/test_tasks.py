"""The QA pipeline through a real Celery worker: a saved transcript is evaluated and indexed after commit."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import pytest

from qa import searching, tasks
from qa.models import Finding, Transcript
from tests.qa import factories


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.2)


@pytest.mark.django_db(transaction=True)
def test_saved_transcript_is_evaluated_and_indexed_by_the_worker(
    celery_worker: subprocess.Popen[bytes],
) -> None:
    searching.INDEX.clear()
    try:
        factories.rule("rude", "phrase", speaker="agent", terms=["爱买不买"])
        transcript = factories.transcript([("consumer", "我要退货"), ("agent", "爱买不买")])
        wait_for(lambda: Finding.objects.filter(transcript=transcript).exists())
        wait_for(lambda: Transcript.objects.filter(pk=transcript.pk, indexed_at__isnull=False).exists())
        assert Finding.objects.get().matched_text == "爱买不买"
        assert searching.search('"爱买不买"').total == 1
    finally:
        searching.INDEX.clear()


@pytest.mark.django_db
def test_sweep_picks_up_what_a_dead_worker_left_behind() -> None:
    factories.rule("rude", "phrase", speaker="agent", terms=["爱买不买"])
    transcript = factories.transcript([("agent", "爱买不买")])  # its on-commit tasks never ran
    result = tasks.sweep()
    assert result["evaluated"] == 1
    assert Finding.objects.filter(transcript=transcript).count() == 1
    assert tasks.sweep()["evaluated"] == 0
