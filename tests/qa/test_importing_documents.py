"""Transcript import of one JSON document: metadata and timed segments, reruns replace, bad input named by
field and segment, an uploaded recording's transcript, and an import racing the worker."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.files.base import ContentFile
from django.db import connection, transaction

from qa import importing, recordings
from qa.models import Recording, Segment, Transcript
from qa.segments import SegmentIn
from qa.services import save_transcript
from tests.qa.importing_support import document, problems, segments

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_and_media")]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_json_transcript_is_saved_with_its_metadata_and_timed_segments(people: dict[str, Any]) -> None:
    outcome = importing.import_document(document(ticket=people["ticket"].pk))

    assert outcome.errors == [] and outcome.rejected_segments == []
    transcript = outcome.transcript
    assert transcript is not None and outcome.replaced is False and outcome.segments == 2
    transcript.refresh_from_db()
    assert (transcript.kind, transcript.source, transcript.external_id, transcript.language) == (
        "call", "import", "pbx-1", "zh",
    )  # fmt: skip
    assert (transcript.agent, transcript.consumer, transcript.ticket) == (
        people["agent"], people["wang"], people["ticket"],
    )  # fmt: skip
    assert transcript.department == people["ticket"].department
    assert transcript.started_at == datetime(2026, 11, 23, 10, 15, tzinfo=SHANGHAI)
    assert transcript.duration_seconds == 7.9  # the last segment's end
    assert transcript.characters == len("您好，请问有什么可以帮您？") + len("我要退款")
    assert segments(transcript) == [
        (0, "agent", 0, 3200, "您好，请问有什么可以帮您？"),
        (1, "consumer", 3600, 7900, "我要退款"),
    ]


def test_the_consumer_defaults_to_the_tickets_and_a_time_without_offset_is_local(people: dict[str, Any]) -> None:
    doc = document(consumer=None, ticket=people["ticket"].pk, started_at="2026-11-23T10:15:00", duration=60)
    outcome = importing.import_document(doc)
    assert outcome.transcript is not None
    assert outcome.transcript.consumer == people["wang"]
    assert outcome.transcript.started_at == datetime(2026, 11, 23, 10, 15, tzinfo=SHANGHAI)
    assert outcome.transcript.duration_seconds == 60


def test_importing_the_same_external_id_again_replaces_the_transcript(people: dict[str, Any]) -> None:
    first = importing.import_document(document())
    again = importing.import_document(
        document(segments=[{"speaker": "consumer", "text": "算了不退了"}], language="en", consumer="C2")
    )

    assert first.transcript is not None and again.transcript is not None
    assert again.transcript.pk == first.transcript.pk
    assert again.replaced is True
    assert Transcript.objects.count() == 1
    transcript = Transcript.objects.get()
    assert (transcript.language, transcript.consumer) == ("en", people["li"])
    assert segments(transcript) == [(0, "consumer", None, None, "算了不退了")]
    assert Segment.objects.count() == 1


def test_importing_an_identical_document_twice_changes_nothing(people: dict[str, Any]) -> None:
    importing.import_document(document())
    before = list(Segment.objects.order_by("seq").values_list("pk", "text"))
    importing.import_document(document())
    assert list(Segment.objects.order_by("seq").values_list("pk", "text")) == before  # segments kept, not rewritten


def test_bad_segments_are_left_out_named_by_number_and_field_and_the_good_ones_saved(people: dict[str, Any]) -> None:
    doc = document(
        segments=[
            {"speaker": "agent", "start": 0, "end": 2, "text": "您好"},
            {"speaker": "customer", "text": "我要退款"},
            {"speaker": "consumer", "text": "   "},
            {"speaker": "consumer", "start": "soon", "end": 4, "text": "快点"},
            {"speaker": "agent", "start": 9, "end": 8, "text": "好的"},
            "agent: 这不是对象",
            {"speaker": "consumer", "start": -1, "text": "负数"},
            {"speaker": "consumer", "start": 10, "end": 12, "text": "谢谢"},
        ]
    )
    outcome = importing.import_document(doc)

    assert outcome.transcript is not None
    assert segments(outcome.transcript) == [(0, "agent", 0, 2000, "您好"), (1, "consumer", 10000, 12000, "谢谢")]
    assert problems(outcome.rejected_segments) == [
        (None, 2, "speaker", '"customer" is not one of agent, consumer, bot, unknown.'),
        (None, 3, "text", "This field is required."),
        (None, 4, "start", 'Expected a number of seconds, got "soon".'),
        (None, 5, "end", "The end (8 s) is before the start (9 s)."),
        (None, 6, "segment", 'Expected an object like {"speaker": "agent", "text": "..."}, got "agent: 这不是对象".'),
        (None, 7, "start", "-1 is outside 0 to 86400 seconds."),
    ]


def test_a_transcript_without_a_good_segment_is_refused_whole(people: dict[str, Any]) -> None:
    outcome = importing.import_document(document(segments=[{"speaker": "x", "text": "a"}, {"speaker": "agent"}]))
    assert outcome.transcript is None
    assert problems(outcome.errors) == [(None, None, "segments", "No segment could be imported: all 2 are rejected.")]
    assert problems(outcome.rejected_segments) == [
        (None, 1, "speaker", '"x" is not one of agent, consumer, bot, unknown.'),
        (None, 2, "text", "This field is required."),
    ]
    assert Transcript.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"external_id": None}, [("external_id", "This field is required.")]),
        ({"external_id": "x" * 101}, [("external_id", "At most 100 characters, this has 101.")]),
        ({"agent": None}, [("agent", "This field is required.")]),
        ({"agent": "nobody"}, [("agent", 'No user has the username "nobody".')]),
        ({"consumer": "C404"}, [("consumer", 'No consumer has the external id "C404".')]),
        ({"ticket": 999999}, [("ticket", "No ticket has the number 999999.")]),
        ({"ticket": "first"}, [("ticket", 'Expected a whole number id, got "first".')]),
        ({"recording": 999999}, [("recording", "No recording has the id 999999.")]),
        ({"started_at": "yesterday"},
         [("started_at", '"yesterday" is not an ISO 8601 date and time like 2026-03-01T10:15:00+08:00.')]),
        ({"started_at": None}, [("started_at", "This field is required.")]),
        ({"language": "fr"}, [("language", '"fr" is not one of zh, en.')]),
        ({"duration": "long"}, [("duration", 'Expected a number of seconds, got "long".')]),
        ({"segments": None}, [("segments", "This field is required.")]),
        ({"segments": "agent: hi"}, [("segments", 'Expected a list of segments, got "agent: hi".')]),
        ({"segments": []}, [("segments", "A transcript needs at least one segment.")]),
    ],
)  # fmt: skip
def test_bad_metadata_refuses_the_transcript_naming_the_field(
    people: dict[str, Any], overrides: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    outcome = importing.import_document(document(**overrides))
    assert outcome.transcript is None
    assert [(p.field, p.message) for p in outcome.errors] == expected
    assert Transcript.objects.count() == 0


def test_a_ticket_of_another_consumer_is_refused(people: dict[str, Any]) -> None:
    outcome = importing.import_document(document(consumer="C2", ticket=people["ticket"].pk))
    assert [(p.field, p.message) for p in outcome.errors] == [
        ("ticket", f"Ticket {people['ticket'].pk} is another consumer's.")
    ]


def test_a_document_that_is_not_an_object_is_refused(db: None) -> None:
    outcome = importing.import_document(["not", "an", "object"])
    assert [(p.field, p.message) for p in outcome.errors] == [
        (
            "document",
            'Expected one JSON object like {"external_id": "...", "segments": [...]}, got ["not", "an", "object"].',
        )
    ]


def test_a_transcript_for_an_uploaded_recording_marks_it_done_and_takes_its_details(
    people: dict[str, Any],
) -> None:
    recording = Recording.objects.create(
        audio=ContentFile(b"RIFF", name="call.wav"), agent=people["agent"], consumer=people["wang"],
        ticket=people["ticket"], language="en", called_at=datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI),
        status=Recording.Status.FAILED, failure_reason="The offline recogniser understands English only",
    )  # fmt: skip
    outcome = importing.import_document(
        {"external_id": "vendor-9", "recording": recording.pk, "segments": [{"speaker": "agent", "text": "hello"}]}
    )
    assert outcome.errors == []
    transcript = outcome.transcript
    assert transcript is not None and transcript.recording == recording
    assert (transcript.agent, transcript.consumer, transcript.ticket, transcript.language, transcript.started_at) == (
        people["agent"], people["wang"], people["ticket"], "en", recording.called_at,
    )  # fmt: skip
    recording.refresh_from_db()
    assert (recording.status, recording.failure_reason) == ("done", "")
    assert recording.transcribed_at is not None


@pytest.mark.django_db(transaction=True)
def test_an_import_racing_the_worker_storing_the_same_recording_waits_instead_of_deadlocking(
    people: dict[str, Any],
) -> None:
    recording = Recording.objects.create(
        audio=ContentFile(b"RIFF", name="call.wav"), agent=people["agent"], consumer=people["wang"],
        language="en", called_at=datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI), status=Recording.Status.TRANSCRIBING,
    )  # fmt: skip
    locked = threading.Event()
    errors: list[BaseException] = []
    imported: list[importing.Imported] = []

    def worker() -> None:  # what recordings._store does: lock the recording, then save its transcript
        try:
            with transaction.atomic():
                row = Recording.objects.select_for_update().get(pk=recording.pk)
                locked.set()
                time.sleep(0.5)  # the import is now under way
                save_transcript(
                    kind="call", source="recogniser", segments=[SegmentIn("agent", "recognised")],
                    started_at=row.called_at, agent=row.agent, consumer=row.consumer, recording=row,
                )  # fmt: skip
                recordings.mark_transcribed(row, duration_seconds=1.0)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    def importer() -> None:
        try:
            locked.wait(5)
            doc = {
                "external_id": "vendor-1",
                "recording": recording.pk,
                "segments": [{"speaker": "agent", "text": "导入"}],
            }
            imported.append(importing.import_document(doc))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker), threading.Thread(target=importer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert imported[0].errors == [] and imported[0].replaced is True  # it waited, then replaced the worker's
    transcript = Transcript.objects.get()
    assert (transcript.recording_id, transcript.source, transcript.external_id) == (recording.pk, "import", "vendor-1")
    assert list(transcript.segments.values_list("text", flat=True)) == ["导入"]
    recording.refresh_from_db()
    assert recording.status == "done"
