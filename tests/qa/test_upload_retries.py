"""A retried recording upload (the answer was lost, the client sends it again) stores one recording, not two.

The Idempotency-Key header names an upload; keys are the uploader's own, as refunds' are.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client

from core import roles
from qa.models import Recording
from tests.crm import factories as f
from tests.qa.test_recordings_api import upload, wav_upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(tmp_path: Path, settings: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def people(make_user: Callable[..., User]) -> dict[str, User]:
    f.consumer("C1")
    f.consumer("C2")
    return {"agent": make_user("agent1", roles.AGENT), "other": make_user("agent2", roles.AGENT)}


def keyed(client: Client, key: str, **fields: Any) -> Any:
    body = {"audio": wav_upload(), "consumer": "C1", "language": "en", **fields}
    return client.post("/api/recordings/", body, headers={"accept-language": "en", "Idempotency-Key": key})


def test_a_retried_upload_with_its_key_answers_200_with_the_first_recording_and_stores_nothing_new(
    people: dict[str, User], client_for: Callable[[User], Client], django_capture_on_commit_callbacks: Any
) -> None:
    client = client_for(people["agent"])
    with django_capture_on_commit_callbacks() as queued:
        first = keyed(client, "call-42")
        again = keyed(client, "call-42")
    assert (first.status_code, again.status_code) == (202, 200)
    recording = Recording.objects.get()
    assert first.json()["id"] == again.json()["id"] == recording.pk
    assert recording.idempotency_key == "call-42"
    assert len(queued) == 1  # queued for transcription once
    assert len(list((Path(recording.audio.storage.location) / "recordings").rglob("*.wav"))) == 1


def test_another_users_same_key_is_an_upload_of_their_own_and_never_sees_the_first(
    people: dict[str, User], client_for: Callable[[User], Client]
) -> None:
    mine = keyed(client_for(people["agent"]), "call-42")
    theirs = keyed(client_for(people["other"]), "call-42")
    assert (mine.status_code, theirs.status_code) == (202, 202)
    assert mine.json()["id"] != theirs.json()["id"]
    assert theirs.json()["agent"] == theirs.json()["uploaded_by"] == "agent2"
    assert sorted(Recording.objects.values_list("uploaded_by__username", "idempotency_key")) == [
        ("agent1", "call-42"), ("agent2", "call-42"),
    ]  # fmt: skip


def test_uploads_without_a_key_are_each_stored(people: dict[str, User], client_for: Callable[[User], Client]) -> None:
    client = client_for(people["agent"])
    assert (upload(client).status_code, upload(client).status_code) == (202, 202)
    assert list(Recording.objects.values_list("idempotency_key", flat=True)) == ["", ""]


def test_the_same_key_for_another_consumers_call_is_409_and_stores_nothing(
    people: dict[str, User], client_for: Callable[[User], Client]
) -> None:
    client = client_for(people["agent"])
    keyed(client, "call-42")
    response = keyed(client, "call-42", consumer="C2")
    message = "This key was used for another recording."
    assert response.status_code == 409
    assert response.json() == {"code": "conflict", "message": message, "errors": {"idempotency_key": [message]}}
    assert list(Recording.objects.values_list("consumer__external_id", flat=True)) == ["C1"]


def test_a_key_longer_than_64_characters_is_400_and_stores_nothing(
    people: dict[str, User], client_for: Callable[[User], Client]
) -> None:
    response = keyed(client_for(people["agent"]), "k" * 65)
    assert response.status_code == 400
    assert response.json()["errors"] == {"idempotency_key": ["An idempotency key of 1 to 64 characters is required."]}
    assert Recording.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_uploads_racing_with_one_key_store_one_recording(
    people: dict[str, User], client_for: Callable[[User], Client]
) -> None:
    start = threading.Barrier(2)
    answers: list[int] = []

    def send() -> None:
        client = client_for(people["agent"])
        start.wait(5)
        try:
            answers.append(keyed(client, "call-42").status_code)
        finally:
            connection.close()

    racers = [threading.Thread(target=send) for _ in range(2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(30)
    assert sorted(answers) == [200, 202]  # the loser answers with the winner's recording
    recording = Recording.objects.get()
    assert len(list((Path(recording.audio.storage.location) / "recordings").rglob("*.wav"))) == 1
