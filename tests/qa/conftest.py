"""The QA tests' shared fixtures: English messages (with media under tmp_path for the import tests), the
people of a call, and a recording uploaded as one (transcription)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.utils import translation

from qa import recordings
from qa.models import Recording
from tests.crm import factories as f
from tests.qa.transcription_support import CALLED_AT
from tickets import services as tickets
from tickets.models import Department


@pytest.fixture
def english_and_media(tmp_path: Path, settings: Any) -> Iterator[None]:
    settings.MEDIA_ROOT = tmp_path / "media"  # recordings' audio stays out of var/media
    with translation.override("en"):
        yield


@pytest.fixture
def people(agent: User) -> dict[str, Any]:
    wang = f.consumer("C1", display_name="王小明")
    li = f.consumer("C2", display_name="李华")
    dept = Department.objects.create(code="after-sales", name="售后")
    ticket = tickets.open_ticket(wang, subject="耳机坏了", department=dept, body="左耳没声音")
    return {"agent": agent, "wang": wang, "li": li, "ticket": ticket}


@pytest.fixture
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.fixture
def media(tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Uploaded audio goes to a temporary folder, here and in worker processes started after this fixture."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    monkeypatch.setenv("MEDIA_ROOT", str(root))
    return root


@pytest.fixture
def call(db: None, agent: User, media: Path) -> Callable[..., Recording]:
    consumer = f.consumer("C1", display_name="王小明")

    def upload(data: bytes, **fields: Any) -> Recording:
        fields = {"language": "en", "called_at": CALLED_AT, **fields}
        recording = Recording(audio=ContentFile(data, name="call.wav"), agent=agent, consumer=consumer, **fields)
        return recordings.upload_recording(recording, by=agent)

    return upload
