"""The import_transcripts command over files: JSONL, JSON and text files, reruns, unreadable files, a crash
mid-batch, and a fixed number of queries per transcript."""

from __future__ import annotations

import csv
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError
from pytest_django import DjangoAssertNumQueries

from qa import importing
from qa.models import Segment, Transcript
from tests.qa.importing_support import document, segments

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_and_media")]


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
