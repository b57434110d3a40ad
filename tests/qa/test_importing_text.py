"""Transcript import of plain text: English and Chinese speaker prefixes, bad lines named by line."""

from __future__ import annotations

from typing import Any

import pytest

from qa import importing
from tests.qa.importing_support import problems, segments

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_and_media")]

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
