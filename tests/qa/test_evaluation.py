from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from qa import evaluation, services
from qa.models import Finding, Rule
from tests.qa import factories

pytestmark = pytest.mark.django_db


def test_new_transcript_is_evaluated_against_active_rules_only(make_user) -> None:  # type: ignore[no-untyped-def]
    agent = make_user("a1")
    active = factories.rule("退款", "keyword", terms=["退款"], severity=3, category="risk")
    factories.rule("inactive", "keyword", terms=["退款"], active=False)
    transcript = factories.transcript([("agent", "您好"), ("consumer", "我要申请退款")], agent=agent)
    assert evaluation.evaluate_transcripts([transcript.pk]) == 1
    finding = Finding.objects.get()
    assert (finding.rule, finding.rule_version.number, finding.agent, finding.severity, finding.category) == (
        active, 1, agent, 3, "risk",
    )  # fmt: skip
    assert finding.segment is not None
    assert (finding.segment.seq, finding.matched_text, finding.start, finding.end) == (1, "退款", 4, 6)
    assert finding.occurred_at == transcript.started_at + timedelta(seconds=5)
    transcript.refresh_from_db()
    assert transcript.evaluated_at is not None


def test_evaluating_again_never_duplicates_findings_even_after_a_new_rule_version() -> None:
    rule = factories.rule("退款", "keyword", terms=["退款"])
    transcript = factories.transcript([("consumer", "退款退款")])
    factories.rule("greeting", "required", speaker="consumer", terms=["您好"])
    evaluation.evaluate_transcripts([transcript.pk])
    evaluation.evaluate_transcripts([transcript.pk])
    assert Finding.objects.count() == 3  # two 退款 and one missing greeting
    services.update_rule(rule, terms=["退款", "赔偿"])
    evaluation.evaluate_transcripts([transcript.pk])
    assert Finding.objects.count() == 3
    assert set(Finding.objects.filter(rule=rule).values_list("rule_version__number", flat=True)) == {1}


def test_a_loaded_history_stores_its_findings_already_reviewed_where_it_says_so(make_user) -> None:  # type: ignore[no-untyped-def]
    supervisor = make_user("sv")
    factories.rule("退款", "keyword", terms=["退款"])
    old = factories.transcript([("consumer", "退款")], started_at=timezone.now() - timedelta(days=10))
    recent = factories.transcript([("consumer", "我要退款")])
    at = timezone.now() - timedelta(days=9)
    asked = []

    def reviewed(occurred_at):  # type: ignore[no-untyped-def]
        asked.append(occurred_at)
        old_enough = occurred_at < timezone.now() - timedelta(days=3)
        return evaluation.Verdict(Finding.Status.CONFIRMED, supervisor.pk, "已核实", at) if old_enough else None

    assert evaluation.evaluate_transcripts([old.pk, recent.pk], reviewed=reviewed) == 2
    fields = ("transcript", "status", "reviewed_by", "reviewed_at", "note")
    assert sorted(Finding.objects.values_list(*fields)) == sorted([
        (old.pk, "confirmed", supervisor.pk, at, "已核实"), (recent.pk, "open", None, None, ""),
    ])  # fmt: skip
    assert len(asked) == 2
    # Evaluated again (a new transcript's task), nothing is asked about or changed.
    evaluation.evaluate_transcripts([old.pk])
    assert Finding.objects.filter(status="confirmed").count() == 1 and Finding.objects.count() == 2


def test_editing_a_rule_freezes_the_old_version_that_findings_cite() -> None:
    rule = factories.rule("rude", "keyword", terms=["滚"], severity=2)
    evaluation.evaluate_transcripts([factories.transcript([("agent", "你滚")]).pk])
    services.update_rule(rule, terms=["滚", "闭嘴"], severity=4)
    rule.refresh_from_db()
    assert rule.version == 2
    assert list(rule.versions.values_list("number", "severity", "terms")) == [(2, 4, ["滚", "闭嘴"]), (1, 2, ["滚"])]
    old = Finding.objects.get()
    assert (old.rule_version.number, old.rule_version.terms, old.severity) == (1, ["滚"], 2)
    evaluation.evaluate_transcripts([factories.transcript([("agent", "闭嘴")]).pk])
    new = Finding.objects.get(matched_text="闭嘴")
    assert (new.rule_version.number, new.severity) == (2, 4)


def test_a_change_that_does_not_touch_matching_keeps_the_version() -> None:
    rule = factories.rule("rude", "keyword", terms=["滚"])
    services.update_rule(rule, description="agents swearing at consumers")
    rule.refresh_from_db()
    assert (rule.version, rule.versions.count()) == (1, 1)


def test_an_invalid_rule_is_refused_with_the_field_named() -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        factories.rule("bad", "regex", pattern="(unclosed")
    assert "pattern" in error.value.message_dict
    assert not Rule.objects.exists()


def test_backtest_reports_what_a_draft_would_flag_and_writes_nothing() -> None:
    rule = factories.rule("angry", "keyword", terms=["投诉"], active=False)
    factories.transcript([("consumer", "我要投诉你们")])
    factories.transcript([("consumer", "投诉！投诉！")], started_at=timezone.now() - timedelta(days=3))
    factories.transcript([("consumer", "投诉")], started_at=timezone.now() - timedelta(days=30))
    factories.transcript([("consumer", "谢谢")])
    result = evaluation.backtest(rule, days=7)
    assert (result.transcripts, result.flagged_transcripts, result.hits) == (3, 2, 3)
    assert sorted(s.text[s.start : s.end] for s in result.samples) == ["投诉", "投诉", "投诉"]
    assert not Finding.objects.exists()


def test_chat_timelines_are_qad_like_calls(make_user) -> None:  # type: ignore[no-untyped-def]
    from qa import chats
    from qa.models import Transcript
    from tests.crm.factories import consumer
    from tickets import services as ticket_services
    from tickets.models import Department, Ticket

    agent = make_user("chat-agent")
    factories.rule("rude", "keyword", speaker="agent", terms=["爱买不买"])
    department = Department.objects.create(code="chat", name="Chat")
    ticket = ticket_services.open_ticket(
        consumer=consumer(), subject="chat", kind="consultation", channel=Ticket.Channel.CHAT, department=department
    )
    ticket_services.add_message(ticket, body="我的快递呢", author_kind="consumer")
    ticket_services.add_message(ticket, body="爱买不买", author_kind="agent", author=agent)
    assert chats.stale_chat_ids() == [ticket.pk]
    assert chats.collect_chats([ticket.pk]) == 1
    transcript = Transcript.objects.get(ticket=ticket)
    assert (transcript.kind, transcript.agent) == ("chat", agent)
    assert list(transcript.segments.values_list("speaker", "text")) == [
        ("consumer", "我的快递呢"),
        ("agent", "爱买不买"),
    ]
    evaluation.evaluate_transcripts([transcript.pk])
    assert Finding.objects.get().matched_text == "爱买不买"
    assert chats.stale_chat_ids() == []
    ticket_services.add_message(ticket, body="好的", author_kind="consumer")
    assert chats.stale_chat_ids() == [ticket.pk]
    chats.collect_chats([ticket.pk])
    assert Transcript.objects.get(ticket=ticket).segments.count() == 3
    assert Finding.objects.count() == 1  # the finding's segment was unchanged, so it stays
