"""Transcription through a real Celery worker: an upload transcribed end to end, and a worker killed
mid-transcription loses nothing."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

from crm.models import Consumer
from qa.models import Recording, Transcript
from tests.conftest import celery_process, stop_process
from tests.qa import speech
from tests.qa.transcription_support import CALLED_AT, GREETING, REFUND

pytestmark = pytest.mark.usefixtures("english")


def wait_for(condition: Callable[[], bool], timeout: float = 60, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_a_recording_uploaded_through_the_api_is_transcribed_end_to_end_by_the_worker(
    media: Path, make_user: Callable[..., User], client_for: Callable[[User], Client],
    celery_worker: subprocess.Popen[bytes],
) -> None:  # fmt: skip
    from core import roles

    agent = make_user("caller", roles.AGENT)
    consumer = Consumer.objects.create(external_id="C-E2E", display_name="王小明", registered_at=CALLED_AT)
    audio = io.BytesIO(speech.spoken(REFUND))
    audio.name = "call.wav"
    response = client_for(agent).post(
        "/api/recordings/", {"audio": audio, "consumer": consumer.external_id, "language": "en"}
    )
    assert response.status_code == 202, response.content
    recording_id = response.json()["id"]
    assert response.json()["status"] == "pending"

    done = Recording.objects.filter(pk=recording_id, status__in=["done", "failed"])
    wait_for(done.exists, timeout=90, what="the worker to transcribe the recording")
    recording = Recording.objects.get(pk=recording_id)
    assert (recording.status, recording.failure_reason, recording.attempts) == ("done", "", 1)
    text = " ".join(Transcript.objects.get(recording=recording).segments.values_list("text", flat=True))
    assert "refund" in text.split() and "order" in text.split()


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_killed_mid_transcription_loses_nothing(
    media: Path,
    call: Callable[..., Recording],
) -> None:
    from celery import current_app

    # About 40 seconds of speech: long enough to be caught in the middle of recognising it.
    sentences = [REFUND, GREETING] * 6
    frames = b"".join(speech.pcm(sentence)[0] + speech.silence(0.6) for sentence in sentences)
    worker = celery_process(
        "worker", "-P", "prefork", "-c", "1", "-n", f"dying-{os.getpid()}@%h", "-Q", "celery,transcription,search",
        "--without-mingle", "--without-gossip", "-l", "warning",
    )  # fmt: skip
    try:
        wait_for(lambda: bool(current_app.control.ping(timeout=0.5)), timeout=30, what="the worker to start")
        recording = call(speech.wav(frames))  # queued on commit
        wait_for(Recording.objects.filter(pk=recording.pk, status="transcribing").exists, timeout=30, what="the claim")
        [child] = children_of(worker.pid)
        os.kill(child, signal.SIGKILL)  # the pool process dies mid-task, as if the OOM killer took it

        wait_for(
            Recording.objects.filter(pk=recording.pk, status__in=["done", "failed"]).exists,
            timeout=120,
            what="the redelivered task",
        )
    finally:
        stop_process(worker)
    recording.refresh_from_db()
    assert (recording.status, recording.attempts) == ("done", 2)  # claimed again by the redelivered message
    transcript = Transcript.objects.get(recording=recording)
    assert transcript.segments.count() >= 10
    assert "order" in " ".join(transcript.segments.values_list("text", flat=True)).split()
