from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone as django_timezone
from django.utils import translation

from core.values import (
    ImportFileError,
    InvalidValue,
    MalformedJson,
    choice_value,
    count_lines,
    decode_json,
    jsonl_lines,
    moment_value,
    read_field,
    show_value,
    text_value,
)

SHANGHAI = timezone(timedelta(hours=8))


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


def refusal(convert: object, value: object) -> str:
    assert callable(convert)
    with pytest.raises(InvalidValue) as caught:
        convert(value)
    return str(caught.value)


def test_show_value_quotes_as_json_and_cuts_long_values() -> None:
    assert show_value("退款") == '"退款"'
    assert show_value(Decimal("1.50")) == '"1.50"'
    assert show_value(None) == "null"
    assert show_value("x" * 50) == '"' + "x" * 36 + "..."
    assert len(show_value("x" * 50)) == 40


def test_text_value_strips_and_checks_length() -> None:
    assert text_value(5)("  abc \n") == "abc"
    assert text_value()("y" * 100_000) == "y" * 100_000
    assert refusal(text_value(3), "abcd") == "At most 3 characters, this has 4."
    assert refusal(text_value(1), "ab") == "At most 1 character, this has 2."
    assert refusal(text_value(3), 12) == "Expected text, got 12."


def test_text_value_refuses_nul_characters_with_or_without_a_limit() -> None:
    assert refusal(text_value(), "a\x00b") == "The text contains a NUL character."
    assert refusal(text_value(2), "a\x00bcdef") == "The text contains a NUL character."


def test_moment_value_takes_naive_times_in_the_current_time_zone() -> None:
    with django_timezone.override("Asia/Shanghai"):
        assert moment_value()(" 2026-03-01T10:15:00 ") == datetime(2026, 3, 1, 10, 15, tzinfo=SHANGHAI)
    assert moment_value()("2026-03-01T02:15:00Z") == datetime(2026, 3, 1, 2, 15, tzinfo=UTC)
    assert moment_value()("2026-03-01T10:15:00+08:00") == datetime(2026, 3, 1, 2, 15, tzinfo=UTC)


def test_moment_value_names_the_expected_form() -> None:
    assert refusal(moment_value(), "yesterday") == (
        '"yesterday" is not an ISO 8601 date and time like 2026-03-01T10:15:00.'
    )
    assert refusal(moment_value(offset_example=True), "yesterday") == (
        '"yesterday" is not an ISO 8601 date and time like 2026-03-01T10:15:00+08:00.'
    )
    assert refusal(moment_value(), 20260301) == "Expected an ISO 8601 date and time as text, got 20260301."


def test_choice_value_matches_exactly_unless_told_to_ignore_case() -> None:
    assert choice_value(["paid", "shipped"])(" paid ") == "paid"
    assert refusal(choice_value(["paid", "shipped"]), "Paid") == '"Paid" is not one of paid, shipped.'
    assert choice_value(["zh", "en"], ignore_case=True)(" EN ") == "en"
    assert refusal(choice_value(["zh", "en"], ignore_case=True), "fr") == '"fr" is not one of zh, en.'
    assert refusal(choice_value(["zh", "en"], ignore_case=True), 1) == "1 is not one of zh, en."


def test_choice_value_does_not_list_the_empty_choice() -> None:
    assert refusal(choice_value(["", "open", "closed"]), "shut") == '"shut" is not one of open, closed.'


def test_read_field_reports_missing_and_invalid_values_under_the_field_name() -> None:
    problems: list[tuple[str, str]] = []

    def reject(name: str, message: str) -> None:
        problems.append((name, message))

    values = {"a": " 7 ", "blank": "  ", "none": None, "bad": 5}
    assert read_field(values, "a", text_value(), "", required=True, reject=reject) == "7"
    assert read_field(values, "blank", text_value(), "d", required=False, reject=reject) == "d"
    assert read_field(values, "none", text_value(), "d", required=True, reject=reject) == "d"
    assert read_field(values, "absent", text_value(), "d", required=True, reject=reject) == "d"
    assert read_field(values, "bad", text_value(), "d", required=False, reject=reject) == "d"
    assert problems == [
        ("none", "This field is required."),
        ("absent", "This field is required."),
        ("bad", "Expected text, got 5."),
    ]


def test_decode_json_refuses_nan_and_infinity() -> None:
    assert decode_json('{"a": 1.5}') == {"a": 1.5}
    assert decode_json('{"a": 1.10}', exact_decimals=True) == {"a": Decimal("1.10")}
    for constant in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(MalformedJson) as caught:
            decode_json(f'{{"a": {constant}}}')
        assert str(caught.value) == f"Malformed JSON: {constant}."
        assert caught.value.line is None


def test_decode_json_says_where_malformed_json_breaks() -> None:
    with pytest.raises(MalformedJson) as caught:
        decode_json('{\n"a": 1,\n"b" 2}')
    assert str(caught.value) == "Malformed JSON at column 5: Expecting ':' delimiter."
    assert caught.value.line == 3


def test_decode_json_refuses_too_deep_nesting() -> None:
    with pytest.raises(MalformedJson) as caught:
        decode_json("[" * 100_000 + "]" * 100_000)
    assert str(caught.value).startswith("Malformed JSON: ")


def test_jsonl_lines_numbers_lines_as_an_editor_does() -> None:
    raw = '\ufeff{"a": 1}\r\n\n   \n{"b": "x\u2028y"}\n{"c": 3}'.encode()
    assert list(jsonl_lines(io.BytesIO(raw))) == [(1, '{"a": 1}'), (4, '{"b": "x\u2028y"}'), (5, '{"c": 3}')]


def test_count_lines_counts_every_line_or_only_non_blank_ones(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes('\ufeff{"a": 1}\n\n  \n{"b": 2}\n{"c": 3}'.encode())
    assert count_lines(path) == 5
    assert count_lines(path, skip_blank=True) == 3
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert count_lines(empty) == 0


def test_count_lines_refuses_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "gbk.jsonl"
    path.write_bytes(b'{"a": 1}\n' + '{"b": "退款"}\n'.encode("gbk"))
    with pytest.raises(ImportFileError) as caught:
        count_lines(path)
    assert str(caught.value) == "Line 2 is not UTF-8 text; save the file as UTF-8 and try again."
    with pytest.raises(ImportFileError) as caught:
        count_lines(path, skip_blank=True, name_file=True)
    assert str(caught.value) == f"{path}: line 2 is not UTF-8 text; save the file as UTF-8 and try again."


def test_count_lines_refuses_a_file_it_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "missing.jsonl"
    with pytest.raises(ImportFileError) as caught:
        count_lines(path)
    assert str(caught.value) == f"Cannot read {path}: No such file or directory."
