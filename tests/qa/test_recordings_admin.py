"""The recordings' admin: upload, follow, retry; who may; a fixed number of queries per list."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from core import roles
from core.models import QueuedTask
from crm.models import Consumer
from merchants.models import MerchantMembership
from qa.models import Recording, Transcript
from qa.recordings import TRANSCRIBE_TASK
from tests.crm import factories as f
from tests.qa import speech

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
ADD = "/admin/qa/recording/add/"
LIST = "/admin/qa/recording/"
EN = {"accept-language": "en"}


@pytest.fixture(autouse=True)
def _english_and_media(tmp_path: Path, settings: Any) -> Iterator[None]:
    settings.MEDIA_ROOT = tmp_path / "media"
    with translation.override("en"):
        yield


@pytest.fixture
def wang() -> Consumer:
    return f.consumer("C1", display_name="王小明")


def recording(agent: User, consumer: Consumer, **fields: Any) -> Recording:
    fields = {"language": "en", "called_at": datetime(2026, 11, 23, 10, 15, tzinfo=SHANGHAI), **fields}
    return Recording.objects.create(
        audio=ContentFile(speech.wav(b"\0" * 80), name="r.wav"), agent=agent, consumer=consumer, **fields
    )


def form(agent: User, consumer: Consumer, data: bytes, **fields: Any) -> dict[str, Any]:
    return {
        "audio": SimpleUploadedFile("call.wav", data, content_type="audio/wav"),
        "agent": agent.pk,
        "consumer": consumer.pk,
        "ticket": "",
        "language": "en",
        "called_at_0": "2026-11-23",
        "called_at_1": "10:15:00",
        **fields,
    }


def test_an_agent_uploads_a_call_which_is_queued_for_transcription(
    agent: User, wang: Consumer, client_for: Callable[[User], Client], django_capture_on_commit_callbacks: Any
) -> None:
    client = client_for(agent)
    page = client.get(ADD, headers=EN)
    assert page.status_code == 200
    # An agent uploads their own calls only.
    assert [user.username for user in page.context["adminform"].form.fields["agent"].queryset] == ["agent1"]

    with django_capture_on_commit_callbacks() as queued:
        response = client.post(ADD, form(agent, wang, speech.wav(b"\1\0" * 400)), headers=EN)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    rec = Recording.objects.get()
    assert (rec.status, rec.agent, rec.uploaded_by, rec.consumer) == ("pending", agent, agent, wang)
    assert rec.called_at == datetime(2026, 11, 23, 10, 15, tzinfo=SHANGHAI)
    assert len(queued) == 1


def test_an_agent_cannot_upload_another_agents_call(
    agent: User, supervisor: User, wang: Consumer, client_for: Callable[[User], Client]
) -> None:
    response = client_for(agent).post(ADD, form(supervisor, wang, speech.wav(b"\1\0" * 400)), headers=EN)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "agent": ["Select a valid choice. That choice is not one of the available choices."]
    }
    assert Recording.objects.count() == 0


def test_audio_the_recogniser_cannot_read_is_refused_on_the_form(
    agent: User, wang: Consumer, client_for: Callable[[User], Client]
) -> None:
    response = client_for(agent).post(ADD, form(agent, wang, b"ID3" + b"\0" * 60), headers=EN)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "audio": [
            "The file is MP3 audio, not WAV. Convert it to PCM WAV first, e.g. with: "
            "ffmpeg -i INPUT -ac 1 -ar 16000 -c:a pcm_s16le OUTPUT.wav"
        ]
    }
    response = client_for(agent).post(ADD, form(agent, wang, speech.wav(b"\0" * 80), language="zh"), headers=EN)
    assert list(response.context["adminform"].form.errors) == ["language"]
    assert Recording.objects.count() == 0


def test_supervisors_upload_for_any_agent(
    supervisor: User, agent: User, make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    make_user("biz", roles.BUSINESS)
    choices = client_for(supervisor).get(ADD).context["adminform"].form.fields["agent"].queryset
    assert sorted(user.username for user in choices) == ["agent1", "supervisor1"]


def test_the_list_shows_status_reason_attempts_duration_and_transcript_in_fixed_queries(
    supervisor: User, agent: User, wang: Consumer, client_for: Callable[[User], Client]
) -> None:
    failed = recording(agent, wang, status="failed", attempts=2, failure_reason="No speech was recognised.")
    done = recording(agent, wang, status="done", attempts=1, duration_seconds=75.2)
    transcript = Transcript.objects.create(kind="call", source="recogniser", recording=done, started_at=done.called_at)
    client = client_for(supervisor)

    with CaptureQueriesContext(connection) as few:
        response = client.get(LIST, headers=EN)
    assert response.status_code == 200
    html = response.content.decode()
    assert "No speech was recognised." in html and "Failed" in html and "Transcribed" in html
    assert "1:15" in html  # the duration
    assert f'href="/admin/qa/transcript/{transcript.pk}/change/"' in html
    assert [row.pk for row in response.context["cl"].result_list] == [done.pk, failed.pk]

    for _ in range(10):
        recording(agent, f.consumer(), status="pending")
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(LIST).context["cl"].result_list) == 12
    assert len(few) == len(many)


def test_supervisors_retry_failed_recordings_and_other_statuses_stay(
    supervisor: User, agent: User, wang: Consumer, client_for: Callable[[User], Client],
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    failed = recording(agent, wang, status="failed", attempts=1, failure_reason="x")
    done = recording(agent, wang, status="done", attempts=1)
    with django_capture_on_commit_callbacks() as queued:
        response = client_for(supervisor).post(
            LIST, {"action": "retry", "_selected_action": [failed.pk, done.pk]}, headers=EN, follow=True
        )
    texts = [str(message) for message in response.context["messages"]]
    assert texts == [
        "1 recording is queued for transcription again.",
        "1 recording had not failed and was left as it is.",
    ]
    failed.refresh_from_db()
    done.refresh_from_db()
    assert (failed.status, failed.failure_reason, done.status) == ("pending", "", "done")
    assert len(queued) == 1


def test_retrying_many_recordings_costs_as_many_queries_as_retrying_one(
    supervisor: User, agent: User, wang: Consumer, client_for: Callable[[User], Client],
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    client = client_for(supervisor)
    client.get(LIST)  # the session and the permissions are cached alike for both posts

    def retry(count: int) -> tuple[int, int]:
        chosen = [recording(agent, wang, status="failed", failure_reason="x").pk for _ in range(count)]
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks() as queued:
            client.post(LIST, {"action": "retry", "_selected_action": chosen})
        assert Recording.objects.filter(pk__in=chosen, status="pending").count() == count
        assert len(queued) == 1  # one send of the outbox rows after the commit
        return len(queries), QueuedTask.objects.filter(task_name=TRANSCRIBE_TASK, args__0__in=chosen).count()

    one, queued_one = retry(1)
    many, queued_many = retry(10)
    assert (queued_one, queued_many) == (1, 10)
    assert one == many


def test_agents_cannot_retry(agent: User, wang: Consumer, client_for: Callable[[User], Client]) -> None:
    failed = recording(agent, wang, status="failed", failure_reason="x")
    client = client_for(agent)
    assert "retry" not in client.get(LIST).context["cl"].model_admin.get_actions(client.get(LIST).wsgi_request)
    client.post(LIST, {"action": "retry", "_selected_action": [failed.pk]})
    failed.refresh_from_db()
    assert failed.status == "failed"


def test_a_recording_is_read_only_after_the_upload_and_its_audio_can_be_played(
    supervisor: User, agent: User, wang: Consumer, client_for: Callable[[User], Client]
) -> None:
    rec = recording(agent, wang, status="failed", failure_reason="x")
    client = client_for(supervisor)
    page = client.get(f"{LIST}{rec.pk}/change/", headers=EN)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="_save"' not in html
    assert f'src="/admin/qa/recording/{rec.pk}/audio/"' in html
    other = f.consumer("C2")
    client.post(f"{LIST}{rec.pk}/change/", {"consumer": other.pk, "language": "zh"})
    rec.refresh_from_db()
    assert (rec.consumer, rec.language) == (wang, "en")

    audio = client.get(f"/admin/qa/recording/{rec.pk}/audio/")
    assert audio.status_code == 200 and audio["Content-Type"] == "audio/wav"
    assert b"".join(audio.streaming_content)[:4] == b"RIFF"  # type: ignore[attr-defined]


def test_the_audio_is_served_by_byte_range_so_that_the_player_can_seek(
    supervisor: User, agent: User, wang: Consumer, client_for: Callable[[User], Client]
) -> None:
    rec = recording(agent, wang)
    data = rec.audio.open("rb").read()
    rec.audio.close()
    url = f"/admin/qa/recording/{rec.pk}/audio/"
    client = client_for(supervisor)

    def body(response: Any) -> bytes:
        return b"".join(response.streaming_content)

    whole = client.get(url)
    assert (whole.status_code, whole["Accept-Ranges"], body(whole)) == (200, "bytes", data)
    part = client.get(url, headers={"range": "bytes=4-11"})
    assert (part.status_code, part["Content-Range"], part["Content-Length"]) == (206, f"bytes 4-11/{len(data)}", "8")
    assert (part["Content-Type"], body(part)) == ("audio/wav", data[4:12])
    rest = client.get(url, headers={"range": "bytes=40-"})
    assert (rest["Content-Range"], body(rest)) == (f"bytes 40-{len(data) - 1}/{len(data)}", data[40:])
    tail = client.get(url, headers={"range": "bytes=-10"})
    assert body(tail) == data[-10:]
    beyond = client.get(url, headers={"range": f"bytes={len(data)}-"})
    assert (beyond.status_code, beyond["Content-Range"]) == (416, f"bytes */{len(data)}")
    assert body(client.get(url, headers={"range": "pages=1-2"})) == data  # a range we do not know: the whole file


def test_the_audio_of_a_recording_missing_from_storage_is_not_found(
    supervisor: User, agent: User, wang: Consumer, client_for: Callable[[User], Client]
) -> None:
    rec = recording(agent, wang)
    rec.audio.storage.delete(rec.audio.name)
    assert client_for(supervisor).get(f"/admin/qa/recording/{rec.pk}/audio/").status_code == 404


def test_merchant_staff_and_business_users_cannot_open_recordings(
    make_user: Callable[..., User], agent: User, wang: Consumer, client_for: Callable[[User], Client]
) -> None:
    rec = recording(agent, wang)
    staff = make_user("staff-a", roles.MERCHANT_STAFF)
    MerchantMembership.objects.create(user=staff, merchant=f.merchant("SHOP-A"))
    for user in (staff, make_user("biz", roles.BUSINESS)):
        client = client_for(user)
        assert client.get(LIST).status_code == 403
        assert client.get(ADD).status_code == 403
        assert client.get(f"/admin/qa/recording/{rec.pk}/audio/").status_code in (403, 404)
