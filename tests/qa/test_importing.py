"""Transcript import: JSON, JSONL and plain text; bad input named by field, line and segment; reruns replace."""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from io import StringIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import translation
from pytest_django import DjangoAssertNumQueries

from qa import importing, recordings
from qa.models import Recording, Segment, Transcript
from qa.segments import SegmentIn
from qa.services import save_transcript
from tests.crm import factories as f
from tickets import services as tickets
from tickets.models import Department

SHANGHAI = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english_and_media(tmp_path: Path, settings: Any) -> Iterator[None]:
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


def document(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "external_id": "pbx-1",
        "agent": "agent1",
        "consumer": "C1",
        "started_at": "2026-11-23T10:15:00+08:00",
        "language": "zh",
        "segments": [
            {"speaker": "agent", "start": 0, "end": 3.2, "text": "您好，请问有什么可以帮您？"},
            {"speaker": "consumer", "start": 3.6, "end": 7.9, "text": "我要退款"},
        ],
    }
    doc.update(overrides)
    return doc


def segments(transcript: Transcript) -> list[tuple[int, str, int | None, int | None, str]]:
    return list(transcript.segments.order_by("seq").values_list("seq", "speaker", "start_ms", "end_ms", "text"))


def problems(items: list[importing.Problem]) -> list[tuple[int | None, int | None, str, str]]:
    return [(p.line, p.segment, p.field, p.message) for p in items]


# --- JSON ---------------------------------------------------------------------------------------


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


# --- Plain text -----------------------------------------------------------------------------------

TEXT = """# 2026-11-23 10:15 的电话
客服：您好，请问有什么可以帮您？
顾客: 我买的耳机坏了，我要退款。

[00:08.1-00:09] agent: 好的，我帮您查一下订单。
Consumer：OK, thanks.
"""


def test_plain_text_with_english_and_chinese_prefixes_and_full_width_colons(people: dict[str, Any]) -> None:
    outcome = importing.import_text(
        TEXT, {"external_id": "txt-1", "agent": "agent1", "consumer": "C1", "started_at": "2026-11-23T10:15:00+08:00"}
    )
    assert outcome.errors == [] and outcome.rejected_segments == []
    assert outcome.transcript is not None
    assert segments(outcome.transcript) == [
        (0, "agent", None, None, "您好，请问有什么可以帮您？"),
        (1, "consumer", None, None, "我买的耳机坏了，我要退款。"),
        (2, "agent", 8100, 9000, "好的，我帮您查一下订单。"),
        (3, "consumer", None, None, "OK, thanks."),
    ]
    assert outcome.transcript.source == "import"


def test_bad_text_lines_are_named_by_line_and_the_good_ones_saved(people: dict[str, Any]) -> None:
    text = "\n".join(
        [
            "agent: 您好",
            "没有说话人的一行",
            "经理：我是经理",
            "consumer:",
            "[00:09-00:08] agent: 倒着的时间",
            "[1.2.3-2:00] agent: 坏的时间",
            "[00:01-00:02 agent: 括号没关",
            "顾客：谢谢",
        ]
    )
    outcome = importing.import_text(
        text, {"external_id": "txt-2", "agent": "agent1", "started_at": "2026-11-23T10:15:00+08:00"}
    )
    assert outcome.transcript is not None
    assert segments(outcome.transcript) == [(0, "agent", None, None, "您好"), (1, "consumer", None, None, "谢谢")]
    labels = "agent:, consumer:, bot:, 客服：, 顾客："
    assert problems(outcome.rejected_segments) == [
        (2, None, "speaker", f"The line does not start with a speaker ({labels})."),
        (3, None, "speaker", f'"经理" is not a speaker; use {labels}.'),
        (4, None, "text", "Nothing is said after the speaker."),
        (5, None, "time", "The end (8 s) is before the start (9 s)."),
        (6, None, "time", '"1.2.3" is not a time like 01:15.5.'),
        (7, None, "speaker", f"The line does not start with a speaker ({labels})."),
    ]


def test_a_text_with_no_good_line_is_refused(people: dict[str, Any]) -> None:
    outcome = importing.import_text(
        "hello\nworld", {"external_id": "txt-3", "agent": "agent1", "started_at": "2026-11-23T10:15:00+08:00"}
    )
    assert outcome.transcript is None
    assert [(p.field, p.message) for p in outcome.errors] == [
        ("segments", "No segment could be imported: all 2 are rejected.")
    ]


# --- The command ----------------------------------------------------------------------------------


def write(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(*args: str) -> tuple[list[str], str | None]:
    """Run the command quietly; its stdout lines and the CommandError's message (None: it succeeded)."""
    out = StringIO()
    try:
        call_command("import_transcripts", *args, stdout=out, stderr=StringIO(), verbosity=0)
    except CommandError as error:
        return out.getvalue().splitlines(), str(error)
    return out.getvalue().splitlines(), None


def jsonl(*docs: dict[str, Any] | str) -> list[str]:
    import json

    return [doc if isinstance(doc, str) else json.dumps(doc, ensure_ascii=False) for doc in docs]


def test_a_jsonl_file_imports_its_good_transcripts_and_reports_the_rest_by_line(
    people: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        "calls.jsonl",
        *jsonl(
            document(external_id="a"),
            document(external_id="b", segments=[{"speaker": "agent", "text": "好"}, {"speaker": "boss", "text": "x"}]),
            "",
            document(external_id="c", agent="nobody"),
            '{"external_id": "d", "segments": [',
            document(external_id="e", consumer="C2"),
        ),
    )
    report = tmp_path / "problems.csv"
    out = StringIO()
    with pytest.raises(CommandError) as error:
        call_command("import_transcripts", str(path), "--report", str(report), stdout=out)

    assert str(error.value) == (
        "2 transcript(s) refused and 1 segment(s) left out; the good ones were saved. Fix the input and run again:"
        " what is in is replaced, not duplicated."
    )
    assert out.getvalue().splitlines() == [
        "3 transcript(s) imported (0 replacing an earlier import), 5 segment(s); 2 refused, 1 segment(s) left out",
        'calls.jsonl, line 2, segment 2: speaker: "boss" is not one of agent, consumer, bot, unknown.',
        'calls.jsonl, line 4: agent: No user has the username "nobody".',
        "calls.jsonl, line 5: document: Malformed JSON at column 35: Expecting value.",
    ]
    assert "100%" in capsys.readouterr().err  # the progress bar ran to the end
    assert sorted(Transcript.objects.values_list("external_id", flat=True), key=str) == ["a", "b", "e"]
    assert Transcript.objects.get(external_id="e").consumer == people["li"]
    with report.open(encoding="utf-8") as file:
        assert list(csv.reader(file)) == [
            ["file", "line", "segment", "field", "message"],
            ["calls.jsonl", "2", "2", "speaker", '"boss" is not one of agent, consumer, bot, unknown.'],
            ["calls.jsonl", "4", "", "agent", 'No user has the username "nobody".'],
            ["calls.jsonl", "5", "", "document", "Malformed JSON at column 35: Expecting value."],
        ]


def test_rerunning_a_file_replaces_what_is_in_and_duplicates_nothing(people: dict[str, Any], tmp_path: Path) -> None:
    path = write(tmp_path, "calls.jsonl", *jsonl(document(external_id="a"), document(external_id="b")))
    assert run(str(path)) == (
        ["2 transcript(s) imported (0 replacing an earlier import), 4 segment(s); 0 refused, 0 segment(s) left out"],
        None,
    )
    ids = dict(Transcript.objects.values_list("external_id", "pk"))
    assert run(str(path))[0] == [
        "2 transcript(s) imported (2 replacing an earlier import), 4 segment(s); 0 refused, 0 segment(s) left out"
    ]
    assert dict(Transcript.objects.values_list("external_id", "pk")) == ids
    assert Segment.objects.count() == 4


def test_text_files_take_their_metadata_from_the_options_and_their_ids_from_their_names(
    people: dict[str, Any], tmp_path: Path
) -> None:
    first = write(tmp_path, "call-0001.txt", "客服：您好", "顾客：我要退款")
    second = write(tmp_path, "call-0002.txt", "agent: hello", "nobody: hi")
    lines, error = run(str(first), str(second), "--agent", "agent1", "--consumer", "C1",
                       "--started-at", "2026-11-23T10:15:00+08:00", "--language", "zh")  # fmt: skip

    assert lines == [
        "2 transcript(s) imported (0 replacing an earlier import), 3 segment(s); 0 refused, 1 segment(s) left out",
        'call-0002.txt, line 2: speaker: "nobody" is not a speaker; use agent:, consumer:, bot:, 客服：, 顾客：.',
    ]
    assert error is not None
    assert sorted(Transcript.objects.values_list("external_id", flat=True), key=str) == ["call-0001", "call-0002"]
    assert segments(Transcript.objects.get(external_id="call-0001")) == [
        (0, "agent", None, None, "您好"),
        (1, "consumer", None, None, "我要退款"),
    ]
    # One file: --external-id names it.
    assert run(str(first), "--external-id", "pbx-77", "--agent", "agent1",
               "--started-at", "2026-11-23T10:15:00+08:00")[1] is None  # fmt: skip
    assert Transcript.objects.filter(external_id="pbx-77").exists()


def test_a_text_file_without_the_required_metadata_is_refused(people: dict[str, Any], tmp_path: Path) -> None:
    path = write(tmp_path, "call.txt", "agent: hello")
    lines, error = run(str(path))
    assert lines == [
        "0 transcript(s) imported (0 replacing an earlier import), 0 segment(s); 1 refused, 0 segment(s) left out",
        "call.txt: agent: This field is required.",
        "call.txt: started_at: This field is required.",
    ]
    assert error is not None


def test_a_json_file_is_one_transcript_and_its_syntax_errors_have_a_line(
    people: dict[str, Any], tmp_path: Path
) -> None:
    import json

    good = tmp_path / "good.json"
    good.write_text(json.dumps(document(external_id="j1"), ensure_ascii=False, indent=2), encoding="utf-8")
    bad = write(tmp_path, "bad.json", "{", '  "external_id": "j2",', '  "segments": [}', "}")
    lines, error = run(str(good), str(bad))
    assert error is not None
    assert lines == [
        "1 transcript(s) imported (0 replacing an earlier import), 2 segment(s); 1 refused, 0 segment(s) left out",
        "bad.json, line 3: document: Malformed JSON at column 16: Expecting value.",
    ]
    assert list(Transcript.objects.values_list("external_id", flat=True)) == ["j1"]


def test_unreadable_files_are_refused_before_anything_is_imported(people: dict[str, Any], tmp_path: Path) -> None:
    good = write(tmp_path, "a.jsonl", *jsonl(document(external_id="a")))
    latin = tmp_path / "b.jsonl"
    latin.write_bytes(b'{"external_id": "b"}\n{"agent": "caf\xe9"}\n')
    assert run(str(good), str(latin)) == (
        [],
        f"{latin}: line 2 is not UTF-8 text; save the file as UTF-8 and try again.",
    )
    odd = write(tmp_path, "calls.csv", "x")
    assert run(str(odd)) == ([], f"Cannot tell the format of {odd} from its extension; pass --format.")
    assert (
        run(str(tmp_path / "missing.jsonl"))[1]
        == f"Cannot read {tmp_path / 'missing.jsonl'}: No such file or directory."
    )
    assert Transcript.objects.count() == 0
    # --format overrides the extension.
    assert run(str(odd.rename(tmp_path / "calls.log")), "--format", "text", "--agent", "agent1",
               "--started-at", "2026-11-23T10:15:00+08:00")[1] is not None  # "x" has no speaker  # fmt: skip


def test_a_crash_in_the_second_batch_keeps_the_first_and_a_rerun_completes_it(
    transactional_db: None, people: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "calls.jsonl", *jsonl(*(document(external_id=f"t{i}") for i in range(1, 6))))
    real_save, calls = importing._save, []

    def save_then_fail_in_second_batch(parsed: importing.Parsed, lookups: Any) -> importing.Imported:
        calls.append(parsed.external_id)
        outcome = real_save(parsed, lookups)  # saved, then the batch fails before its commit
        if len(calls) == 4:
            raise DatabaseError("server closed the connection unexpectedly")
        return outcome

    monkeypatch.setattr(importing, "_save", save_then_fail_in_second_batch)
    lines, error = run(str(path), "--batch-size", "2")

    assert calls == ["t1", "t2", "t3", "t4"]
    assert lines == [
        "2 transcript(s) imported (0 replacing an earlier import), 4 segment(s); 0 refused, 0 segment(s) left out"
    ]
    assert error == (
        "The database refused the transcripts of calls.jsonl (lines 3 to 4) (server closed the connection"
        " unexpectedly); none of them was written. Those before them are imported: fix the cause and import the"
        " same files again to continue."
    )
    assert sorted(Transcript.objects.values_list("external_id", flat=True), key=str) == ["t1", "t2"]

    monkeypatch.undo()
    assert run(str(path), "--batch-size", "2")[1] is None
    assert sorted(Transcript.objects.values_list("external_id", flat=True), key=str) == ["t1", "t2", "t3", "t4", "t5"]
    assert Segment.objects.count() == 10


def test_a_crash_in_a_batch_spanning_files_names_the_files(
    transactional_db: None, people: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    first = write(tmp_path, "a.jsonl", *jsonl(document(external_id="a1")))
    second = tmp_path / "b.json"
    second.write_text(json.dumps(document(external_id="b1")), encoding="utf-8")

    def fail(parsed: importing.Parsed, lookups: Any) -> importing.Imported:
        raise DatabaseError("disk full")

    monkeypatch.setattr(importing, "_save", fail)
    _lines, error = run(str(first), str(second), "--batch-size", "2")
    assert error is not None and error.startswith("The database refused the transcripts of a.jsonl, b.json (disk full)")
    assert Transcript.objects.count() == 0


def test_a_bulk_import_costs_a_fixed_number_of_queries_per_transcript(
    people: dict[str, Any], tmp_path: Path, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    def load(name: str, count: int) -> None:
        path = write(tmp_path, f"{name}.jsonl", *jsonl(*(document(external_id=f"{name}-{i}") for i in range(count))))
        assert importing.import_files([path], batch_size=100).imported == count

    # Per batch: its savepoint and release, the agents, the consumers and the transcripts already stored (no
    # ticket or recording is named). Per transcript: its savepoint and release, and qa.services.save_transcript's
    # 9 (savepoints, the transcript it replaces, its insert, its segments' insert, clearing its search rows; their
    # COPY goes past the query log; its evaluation's outbox row): no lookup of its own.
    with django_assert_num_queries(5 + 11 * 1):
        load("one", 1)
    with django_assert_num_queries(5 + 11 * 10):
        load("ten", 10)


def test_a_batch_size_below_one_is_refused(people: dict[str, Any], tmp_path: Path) -> None:
    path = write(tmp_path, "calls.jsonl", *jsonl(document()))
    assert run(str(path), "--batch-size", "0") == ([], "--batch-size must be at least 1.")
    assert Transcript.objects.count() == 0
