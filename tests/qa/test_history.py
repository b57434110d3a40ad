"""Applying a rule to the stored transcripts of the last N days: a background run, its progress, its version."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from celery import current_app
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from pytest_django import DjangoAssertNumQueries

from qa import evaluation, services
from qa.models import Finding, Rule, RuleRun, Transcript
from tests.qa import factories
from tests.qa.test_tasks import wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager() -> Iterator[None]:
    """Tasks queued by name run in place after the commit (core.queue's eager mode)."""
    before = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = before


def history(days_ago: list[int]) -> list[Transcript]:
    """Calls stored before the rule existed, one per age in days, each with one promise and one refusal."""
    now = timezone.now()
    return [
        factories.transcript(
            [("agent", "我保证给您退款"), ("agent", "这个没法保证退款"), ("consumer", "我保证不退款")],
            started_at=now - timedelta(days=age, hours=1),
        )
        for age in days_ago
    ]


def promise_rule(**fields: Any) -> Rule:
    return factories.rule(
        "承诺退款", "proximity", active=False, speaker="agent", terms=["保证"], near_terms=["退款"], distance=3,
        negations=["没法"], negation_window=1, **fields,
    )  # fmt: skip


def test_a_rule_applied_to_the_last_days_finds_stored_calls_once_with_its_version(
    eager: None, supervisor: User, django_capture_on_commit_callbacks: Any
) -> None:
    recent, _old = history([1, 10])
    rule = promise_rule()
    with django_capture_on_commit_callbacks(execute=True) as queued:
        run = services.apply_rule_to_history(rule, days=7, by=supervisor)
    assert len(queued) == 1
    run.refresh_from_db()
    assert (run.status, run.days, run.transcripts_total, run.transcripts_done, run.findings_added) == (
        "done", 7, 1, 1, 1,
    )  # fmt: skip
    assert run.rule_version.number == 1 and run.requested_by == supervisor
    assert run.started_at is not None and run.finished_at is not None and run.percent == 100
    finding = Finding.objects.get()
    assert (finding.transcript, finding.rule_version, finding.matched_text, finding.status) == (
        recent, run.rule_version, "保证给您退款", "open",
    )  # fmt: skip
    # Again, after a new version: nothing is added twice, and the second run cites version 2.
    services.update_rule(rule, by=supervisor, severity=3)
    with django_capture_on_commit_callbacks(execute=True):
        again = services.apply_rule_to_history(rule, days=30, by=supervisor)
    again.refresh_from_db()
    assert (again.rule_version.number, again.transcripts_total, again.findings_added) == (2, 2, 1)
    assert Finding.objects.count() == 2
    assert sorted(Finding.objects.values_list("rule_version__number", flat=True)) == [1, 2]


def test_the_run_uses_the_version_it_was_asked_with_even_if_the_rule_changes_meanwhile(supervisor: User) -> None:
    history([1])
    rule = promise_rule()
    run = services.apply_rule_to_history(rule, days=3, by=supervisor)  # queued; no worker yet
    services.update_rule(rule, by=supervisor, terms=["一定"])  # v2 would find nothing
    assert evaluation.apply_rule_run(run.pk) == 1
    assert Finding.objects.get().rule_version == run.rule_version


def test_a_duplicate_message_does_nothing_and_only_a_redelivery_takes_over_a_running_run(supervisor: User) -> None:
    history([1, 2])
    run = services.apply_rule_to_history(promise_rule(), days=7, by=supervisor)
    assert evaluation.apply_rule_run(run.pk) == 2
    assert evaluation.apply_rule_run(run.pk) == 0  # done: a duplicate message finds nothing to claim
    # A worker died mid-run: the run is left running, with part of its work stored.
    RuleRun.objects.filter(pk=run.pk).update(status="running", transcripts_done=1)
    assert evaluation.apply_rule_run(run.pk) == 0
    assert RuleRun.objects.get(pk=run.pk).status == "running"
    assert evaluation.apply_rule_run(run.pk, redelivered=True) == 2
    run.refresh_from_db()
    assert (run.status, run.transcripts_done, run.findings_added, Finding.objects.count()) == ("done", 2, 2, 2)


def test_a_run_taken_over_by_a_redelivery_refuses_the_first_workers_writes(supervisor: User) -> None:
    history([1, 2])
    run = services.apply_rule_to_history(promise_rule(), days=7, by=supervisor)
    # Worker A claimed the run and is still working when the broker redelivers its message to worker B.
    first_claim = timezone.now() - timedelta(minutes=90)
    RuleRun.objects.filter(pk=run.pk).update(status="running", started_at=first_claim)
    first = RuleRun.objects.select_related("rule_version").get(pk=run.pk)
    assert evaluation.apply_rule_run(run.pk, redelivered=True) == 2
    # Worker A goes on, under its own claim: nothing it does reaches the run any more.
    mine = RuleRun.objects.filter(pk=run.pk, started_at=first_claim, status="running")
    assert evaluation._apply(first, mine) is False
    run.refresh_from_db()
    assert (run.status, run.transcripts_done, run.transcripts_total, run.findings_added) == ("done", 2, 2, 2)
    assert run.started_at != first_claim and Finding.objects.count() == 2


@pytest.mark.parametrize("days", [0, 91, -1, "7", True, 7.0])
def test_bad_days_are_refused_naming_the_field_and_nothing_is_queued(
    days: Any, supervisor: User, django_capture_on_commit_callbacks: Any
) -> None:
    rule = promise_rule()
    with (
        django_capture_on_commit_callbacks() as queued,
        pytest.raises(ValidationError) as refused,
        translation.override("en"),
    ):
        services.apply_rule_to_history(rule, days=days, by=supervisor)
    assert refused.value.message_dict == {"days": ["Days must be a whole number from 1 to 90."]}
    assert (queued, RuleRun.objects.count()) == ([], 0)


def test_the_backtest_page_applies_the_rule_and_shows_the_runs_progress(
    eager: None, client_for: Callable[[User], Client], supervisor: User,
    django_capture_on_commit_callbacks: Any, django_assert_num_queries: DjangoAssertNumQueries,
) -> None:  # fmt: skip
    history([1, 2, 40])
    rule = promise_rule()
    client = client_for(supervisor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:qa_rule_apply", args=[rule.pk]), {"days": "14"})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:qa_rule_backtest", args=[rule.pk]) + "?days=14#runs"
    run = RuleRun.objects.get()
    assert (run.days, run.status, run.findings_added) == (14, "done", 2)
    html = client.get(response["Location"]).content.decode()  # in Chinese, the default
    assert "历史运行" in html and "应用到历史" in html
    assert f'data-run="{run.pk}" data-status="done"' in html
    assert "2 / 2" in html and '<progress max="100" value="100">' in html
    progress = client.get(reverse("admin:qa_rule_runs", args=[rule.pk]), HTTP_ACCEPT_LANGUAGE="en").json()
    assert progress["runs"][0] | {"started": "", "finished": ""} == {
        "id": run.pk, "status": "done", "status_label": "Done", "percent": 100, "done": 2, "total": 2, "added": 2,
        "started": "", "finished": "",
    }  # fmt: skip
    # Session, user, tenancy, the rule with its count, permissions (user, groups), the runs: whatever the runs.
    with django_assert_num_queries(7):
        client.get(reverse("admin:qa_rule_runs", args=[rule.pk]))


@pytest.mark.parametrize(("days", "error"), [("0", "Ensure this value is greater than or equal to 1."),
                                             ("100", "Ensure this value is less than or equal to 90."),
                                             ("a week", "Enter a whole number.")])  # fmt: skip
def test_the_page_refuses_bad_days_naming_the_field(
    days: str, error: str, client_for: Callable[[User], Client], supervisor: User,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    rule = promise_rule()
    with django_capture_on_commit_callbacks() as queued:
        response = client_for(supervisor).post(
            reverse("admin:qa_rule_apply", args=[rule.pk]), {"days": days}, HTTP_ACCEPT_LANGUAGE="en"
        )
    assert response.status_code == 400
    assert response.context["apply_form"].errors == {"days": [error]}
    assert f"Days: {error}" in response.content.decode()
    assert (queued, RuleRun.objects.count()) == ([], 0)


def test_agents_cannot_apply_a_rule_nor_read_its_runs(client_for: Callable[[User], Client], agent: User) -> None:
    rule = promise_rule()
    client = client_for(agent)
    assert client.post(reverse("admin:qa_rule_apply", args=[rule.pk]), {"days": "7"}).status_code == 403
    assert client.get(reverse("admin:qa_rule_runs", args=[rule.pk])).status_code == 403
    assert RuleRun.objects.count() == 0


def test_apply_is_a_post(client_for: Callable[[User], Client], supervisor: User) -> None:
    rule = promise_rule()
    assert client_for(supervisor).get(reverse("admin:qa_rule_apply", args=[rule.pk])).status_code == 405
    assert RuleRun.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_runs_the_job_in_the_background(celery_worker: subprocess.Popen[bytes]) -> None:
    history([1, 2, 3])
    run = services.apply_rule_to_history(promise_rule(), days=7)
    wait_for(lambda: RuleRun.objects.get(pk=run.pk).status == "done")
    run.refresh_from_db()
    assert (run.transcripts_done, run.transcripts_total, run.findings_added) == (3, 3, 3)
