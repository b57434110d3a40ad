"""The recordings and transcript-import API: who may do what, uploads, retries, imports, tenancy and query counts."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import translation
from pytest_django import DjangoAssertNumQueries

from core import roles
from crm.models import Consumer
from merchants.models import Merchant, MerchantMembership
from qa.models import Recording, Transcript
from tests.crm import factories as f
from tests.qa import speech
from tickets import services as tickets
from tickets.models import Department, Ticket

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
CALLED_AT = datetime(2026, 11, 23, 10, 15, tzinfo=SHANGHAI)
EN = {"accept-language": "en"}
HINT = "ffmpeg -i INPUT -ac 1 -ar 16000 -c:a pcm_s16le OUTPUT.wav"
NOT_WAV = "The file is %s audio, not WAV. Convert it to PCM WAV first, e.g. with: " + HINT
ENGLISH_ONLY = (
    "The offline recogniser understands English only, and this recording is in zh: import its transcript instead."
)


@pytest.fixture(autouse=True)
def _english_and_media(tmp_path: Path, settings: Any) -> Iterator[None]:
    settings.MEDIA_ROOT = tmp_path / "media"
    with translation.override("en"):
        yield


@pytest.fixture
def shop_a() -> Merchant:
    return f.merchant("SHOP-A")


@pytest.fixture
def wang() -> Consumer:
    return f.consumer("C1", display_name="王小明")


@pytest.fixture
def ticket_a(wang: Consumer, shop_a: Merchant) -> Ticket:
    dept = Department.objects.create(code="after-sales", name="售后")
    return tickets.open_ticket(wang, subject="耳机坏了", department=dept, order=f.order(wang, shop_a))


def wav_upload(data: bytes | None = None, name: str = "call.wav") -> io.BytesIO:
    audio = io.BytesIO(data if data is not None else speech.wav(b"\1\0" * 800))
    audio.name = name
    return audio


def upload(client: Client, **fields: Any) -> Any:
    body = {"audio": wav_upload(), "consumer": "C1", "language": "en", **fields}
    return client.post("/api/recordings/", {k: v for k, v in body.items() if v is not None}, headers=EN)


def recording(agent: User, consumer: Consumer, **fields: Any) -> Recording:
    fields = {"language": "en", "called_at": CALLED_AT, **fields}
    return Recording.objects.create(audio=ContentFile(b"RIFF", name="r.wav"), agent=agent, consumer=consumer, **fields)


def post_json(client: Client, url: str, data: Any) -> Any:
    return client.post(url, json.dumps(data), content_type="application/json", headers=EN)


def transcript_doc(**overrides: Any) -> dict[str, Any]:
    return {
        "external_id": "pbx-1",
        "agent": "agent1",
        "consumer": "C1",
        "started_at": "2026-11-23T10:15:00+08:00",
        "segments": [
            {"speaker": "agent", "start": 0, "end": 2, "text": "您好"},
            {"speaker": "consumer", "start": 2.5, "end": 4, "text": "我要退款"},
        ],
        **overrides,
    }


# --- Who may ---------------------------------------------------------------------------------------


@pytest.fixture
def people(make_user: Callable[..., User], shop_a: Merchant, wang: Consumer) -> dict[str, User]:
    staff = make_user("staff-a", roles.MERCHANT_STAFF)
    MerchantMembership.objects.create(user=staff, merchant=shop_a)
    return {
        "agent": make_user("agent1", roles.AGENT),
        "supervisor": make_user("supervisor1", roles.SUPERVISOR),
        "business": make_user("biz", roles.BUSINESS),
        "merchant_staff": staff,
    }


def calls(rec: Recording) -> list[tuple[str, str, Callable[[Client], Any]]]:
    return [
        ("get", "/api/recordings/", lambda c: c.get("/api/recordings/")),
        ("post", "/api/recordings/", lambda c: upload(c)),
        ("get", "detail", lambda c: c.get(f"/api/recordings/{rec.pk}/")),
        ("post", "retry", lambda c: c.post(f"/api/recordings/{rec.pk}/retry/")),
        ("post", "import", lambda c: post_json(c, "/api/transcripts/import/", transcript_doc())),
    ]


@pytest.mark.parametrize("who", ["anonymous", "business", "merchant_staff"])
def test_anonymous_business_and_merchant_staff_are_refused_everywhere(
    people: dict[str, User], wang: Consumer, client_for: Callable[[User], Client], who: str
) -> None:
    rec = recording(people["agent"], wang, status=Recording.Status.FAILED)
    client = Client() if who == "anonymous" else client_for(people[who])
    for method, what, call in calls(rec):
        assert call(client).status_code == 403, (method, what)
    rec.refresh_from_db()
    assert rec.status == "failed"
    assert Recording.objects.count() == 1 and Transcript.objects.count() == 0


def test_agents_upload_and_follow_recordings_but_neither_retry_nor_import(
    people: dict[str, User], wang: Consumer, client_for: Callable[[User], Client]
) -> None:
    rec = recording(people["agent"], wang, status=Recording.Status.FAILED)
    client = client_for(people["agent"])
    expected = {"/api/recordings/": 200, "detail": 200, "retry": 403, "import": 403}
    for method, what, call in calls(rec):
        status = call(client).status_code
        assert status == (202 if method == "post" and what == "/api/recordings/" else expected[what]), what
    rec.refresh_from_db()
    assert rec.status == "failed" and Transcript.objects.count() == 0


def test_supervisors_may_do_everything_here(
    people: dict[str, User], wang: Consumer, client_for: Callable[[User], Client]
) -> None:
    rec = recording(people["agent"], wang, status=Recording.Status.FAILED)
    client = client_for(people["supervisor"])
    assert [call(client).status_code for _m, _w, call in calls(rec)] == [200, 202, 200, 202, 201]


# --- Uploads ----------------------------------------------------------------------------------------


def test_an_upload_answers_202_with_the_pending_recording_and_queues_it(
    people: dict[str, User], ticket_a: Ticket, client_for: Callable[[User], Client],
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    with django_capture_on_commit_callbacks() as queued:
        response = upload(client_for(people["agent"]), ticket=ticket_a.pk, called_at="2026-11-23T10:15:00+08:00")
    assert response.status_code == 202, response.content
    rec = Recording.objects.get()
    assert response.json() == {
        "id": rec.pk,
        "status": "pending",
        "failure_reason": "",
        "attempts": 0,
        "language": "en",
        "agent": "agent1",
        "consumer": "C1",
        "ticket": ticket_a.pk,
        "called_at": "2026-11-23T10:15:00+08:00",
        "duration_seconds": None,
        "uploaded_by": "agent1",
        "created_at": response.json()["created_at"],
        "transcribed_at": None,
        "transcript": None,
    }
    assert len(queued) == 1


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"audio": None}, {"audio": ["No file was submitted."]}),
        ({"audio": wav_upload(b"ID3" + b"\0" * 40, "call.mp3")},
         {"audio": [NOT_WAV % "MP3"]}),
        ({"consumer": None}, {"consumer": ["This field is required."]}),
        ({"consumer": "C404"}, {"consumer": ["No such consumer."]}),
        ({"ticket": 999999}, {"ticket": ["No such ticket."]}),
        ({"language": "fr"}, {"language": ['"fr" is not a valid choice.']}),
        ({"language": "zh"}, {"language": [ENGLISH_ONLY]}),
        ({"called_at": "yesterday"}, {"called_at": [
            "Datetime has wrong format. Use one of these formats instead: "
            "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
        ]}),
        ({"agent": "supervisor1"}, {"agent": ["You can upload only your own calls."]}),
        ({"agent": "nobody"}, {"agent": ["No such agent."]}),
    ],
)  # fmt: skip
def test_bad_uploads_are_refused_naming_the_field_and_nothing_is_stored(
    people: dict[str, User], client_for: Callable[[User], Client], fields: dict[str, Any],
    errors: dict[str, list[str]], django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    with django_capture_on_commit_callbacks() as queued:
        response = upload(client_for(people["agent"]), **fields)
    assert response.status_code == 400
    assert response.json()["errors"] == errors
    assert Recording.objects.count() == 0 and queued == []


def test_a_ticket_of_another_consumer_is_refused(
    people: dict[str, User], ticket_a: Ticket, client_for: Callable[[User], Client]
) -> None:
    f.consumer("C2")
    response = upload(client_for(people["agent"]), consumer="C2", ticket=ticket_a.pk)
    assert (response.status_code, response.json()["errors"]) == (
        400,
        {"ticket": ["This ticket is another consumer's."]},
    )


def test_supervisors_upload_other_agents_calls(people: dict[str, User], client_for: Callable[[User], Client]) -> None:
    response = upload(client_for(people["supervisor"]), agent="agent1")
    assert response.status_code == 202
    assert (response.json()["agent"], response.json()["uploaded_by"]) == ("agent1", "supervisor1")


# --- Following and retrying ----------------------------------------------------------------------------


def test_recordings_are_listed_newest_first_filtered_by_status_in_a_fixed_number_of_queries(
    people: dict[str, User], wang: Consumer, client_for: Callable[[User], Client],
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:  # fmt: skip
    agent = people["agent"]
    failed = recording(agent, wang, status=Recording.Status.FAILED, failure_reason="No speech was recognised.")
    done = recording(agent, wang, status=Recording.Status.DONE)
    transcript = Transcript.objects.create(kind="call", source="recogniser", recording=done, started_at=CALLED_AT)
    client = client_for(agent)

    rows = client.get("/api/recordings/").json()["results"]
    assert [(r["id"], r["status"], r["transcript"]) for r in rows] == [
        (done.pk, "done", transcript.pk),
        (failed.pk, "failed", None),
    ]
    assert [r["failure_reason"] for r in client.get("/api/recordings/?status=failed").json()["results"]] == [
        "No speech was recognised."
    ]
    assert client.get("/api/recordings/?agent=agent1&consumer=C1").json()["results"][0]["id"] == done.pk
    assert client.get("/api/recordings/?consumer=C2").json()["results"] == []
    assert client.get(f"/api/recordings/{done.pk}/").json()["transcript"] == transcript.pk

    for _ in range(10):
        recording(agent, f.consumer(), status=Recording.Status.PENDING)
    # session, user, "merchant staff?", the user's and the groups' permissions, then the page: none per row
    with django_assert_num_queries(6):
        assert len(client.get("/api/recordings/").json()["results"]) == 12


def test_a_failed_recording_is_retried_and_anything_else_is_left_alone(
    people: dict[str, User], wang: Consumer, client_for: Callable[[User], Client],
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    failed = recording(people["agent"], wang, status=Recording.Status.FAILED, failure_reason="x", attempts=1)
    done = recording(people["agent"], wang, status=Recording.Status.DONE, attempts=1)
    client = client_for(people["supervisor"])
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(f"/api/recordings/{failed.pk}/retry/", headers=EN)
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["failure_reason"]) == ("pending", "")
    assert len(queued) == 1

    with django_capture_on_commit_callbacks() as queued:
        response = client.post(f"/api/recordings/{done.pk}/retry/", headers=EN)
    assert (response.status_code, response.json()["errors"]) == (
        409,
        {"status": ["Only a failed recording can be retried; this one is “Transcribed”."]},
    )
    assert queued == []
    assert client.post("/api/recordings/999999/retry/").status_code == 404


def test_merchant_staff_given_the_permission_see_only_their_merchants_recordings(
    people: dict[str, User], wang: Consumer, ticket_a: Ticket, client_for: Callable[[User], Client]
) -> None:
    staff = people["merchant_staff"]
    # Reading everyone's calls (as QA does), yet only their merchant's: tenancy holds on top of the read rule.
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_recording", "search_transcript"]))
    shop_b = f.merchant("SHOP-B")
    dept = Department.objects.get()
    ticket_b = tickets.open_ticket(wang, subject="快递没到", department=dept, order=f.order(wang, shop_b))
    own = recording(people["agent"], wang, ticket=ticket_a)
    other = recording(people["agent"], wang, ticket=ticket_b)
    none = recording(people["agent"], wang)
    client = client_for(staff)
    assert [r["id"] for r in client.get("/api/recordings/").json()["results"]] == [own.pk]
    assert client.get(f"/api/recordings/{other.pk}/").status_code == 404
    assert client.get(f"/api/recordings/{none.pk}/").status_code == 404


# --- Transcript import ------------------------------------------------------------------------------


def test_a_json_transcript_is_imported_and_reimporting_replaces_it(
    people: dict[str, User], client_for: Callable[[User], Client]
) -> None:
    client = client_for(people["supervisor"])
    response = post_json(client, "/api/transcripts/import/", transcript_doc())
    assert response.status_code == 201, response.content
    transcript = Transcript.objects.get()
    assert response.json() == {
        "id": transcript.pk, "external_id": "pbx-1", "replaced": False, "segments": 2, "rejected_segments": [],
    }  # fmt: skip
    assert transcript.consumer is not None
    assert (transcript.agent, transcript.consumer.external_id, transcript.source) == (
        people["agent"], "C1", "import",
    )  # fmt: skip

    again = post_json(client, "/api/transcripts/import/", transcript_doc(segments=[{"speaker": "agent", "text": "好"}]))
    assert again.status_code == 201
    assert (again.json()["id"], again.json()["replaced"], again.json()["segments"]) == (transcript.pk, True, 1)
    assert Transcript.objects.count() == 1


def test_an_import_keeps_the_good_segments_and_lists_the_rejected_ones(
    people: dict[str, User], client_for: Callable[[User], Client]
) -> None:
    doc = transcript_doc(segments=[{"speaker": "agent", "text": "您好"}, {"speaker": "boss", "text": "x"}])
    response = post_json(client_for(people["supervisor"]), "/api/transcripts/import/", doc)
    assert response.status_code == 201
    assert response.json()["segments"] == 1
    assert response.json()["rejected_segments"] == [
        {"line": None, "segment": 2, "field": "speaker",
         "message": '"boss" is not one of agent, consumer, bot, unknown.'},
    ]  # fmt: skip


def test_an_import_with_nothing_importable_is_400_with_messages_by_field(
    people: dict[str, User], client_for: Callable[[User], Client]
) -> None:
    client = client_for(people["supervisor"])
    doc = transcript_doc(
        agent="nobody", started_at="soon", segments=[{"speaker": "agent"}, {"speaker": "x", "text": "y"}]
    )
    response = post_json(client, "/api/transcripts/import/", doc)
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "started_at": ['"soon" is not an ISO 8601 date and time like 2026-03-01T10:15:00+08:00.'],
        "segments": [
            "segment 1: text: This field is required.",
            'segment 2: speaker: "x" is not one of agent, consumer, bot, unknown.',
        ],
    }
    response = post_json(client, "/api/transcripts/import/", transcript_doc(agent="nobody"))
    assert (response.status_code, response.json()["errors"]) == (400, {"agent": ['No user has the username "nobody".']})
    response = post_json(client, "/api/transcripts/import/", [1, 2])
    assert response.status_code == 400 and list(response.json()["errors"]) == ["document"]
    response = client.post("/api/transcripts/import/", "{not json", content_type="application/json", headers=EN)
    assert response.status_code == 400
    assert response.json()["message"].startswith("JSON parse error")
    assert Transcript.objects.count() == 0


def test_a_plain_text_transcript_takes_its_metadata_from_the_query(
    people: dict[str, User], client_for: Callable[[User], Client]
) -> None:
    client = client_for(people["supervisor"])
    text = "客服：您好\n顾客：我要退款\nmanager: 我是经理\n"
    # An unencoded "+" in the offset arrives as a space; it is read as the "+" it was.
    url = "/api/transcripts/import/?external_id=txt-1&agent=agent1&consumer=C1&started_at=2026-11-23T10:15:00+08:00"
    response = client.post(url, text.encode(), content_type="text/plain; charset=utf-8", headers=EN)
    assert response.status_code == 201, response.content
    assert response.json()["segments"] == 2
    assert [(p["line"], p["field"]) for p in response.json()["rejected_segments"]] == [(3, "speaker")]
    transcript = Transcript.objects.get()
    assert transcript.started_at == CALLED_AT
    assert list(transcript.segments.values_list("speaker", "text")) == [("agent", "您好"), ("consumer", "我要退款")]

    response = client.post(url, "你好".encode("gbk"), content_type="text/plain; charset=utf-8", headers=EN)
    assert response.status_code == 400
    response = client.post(
        "/api/transcripts/import/?external_id=t2", "agent: hi", content_type="text/plain", headers=EN
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "agent": ["This field is required."],
        "started_at": ["This field is required."],
    }
