"""The morning build: one frozen, ordered digest per channel per day, however often and however many run it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from subprocess import Popen

import pytest
from celery import current_app
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from core import roles
from radio import building, services
from radio.models import Digest, DigestItem, Nomination, Placement
from radio.tasks import build_morning_digests
from tests.conftest import celery_process, stop_process
from tests.radio import factories as rf

DAY = date(2026, 11, 23)


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour, minute))


@pytest.mark.django_db
def test_digest_orders_by_customers_then_severity_then_recency_and_freezes_items(agent: User, supervisor: User) -> None:
    logistics = rf.channel("logistics", "快递")
    old_severe = rf.approved(agent, supervisor, [logistics], quote="旧的严重", severity=4, nominated_at=at(1))
    new_mild = rf.approved(agent, supervisor, [logistics], quote="新的一般", severity=2, nominated_at=at(3))
    old_mild = rf.approved(agent, supervisor, [logistics], quote="旧的一般", severity=2, nominated_at=at(2))
    crowd = rf.nomination(agent, quote="很多人说", severity=1, nominated_at=at(0))
    services.merge_nominations(crowd, [rf.nomination(agent, quote=f"dup{i}") for i in range(2)], by=supervisor)
    services.approve_nomination(crowd, [logistics], by=supervisor, now=at(7))
    created = building.build_digests(DAY, now=at(8, 30))
    digest = Digest.objects.get(pk__in=created, channel=logistics)
    items = list(digest.items.order_by("position"))
    assert [i.nomination_id for i in items] == [crowd.pk, old_severe.pk, new_mild.pk, old_mild.pk]
    assert [i.position for i in items] == [1, 2, 3, 4]
    assert (digest.items_count, digest.customers, digest.covers_until) == (4, 6, at(8, 30))
    assert digest.figures == {"severity": {"1": 1, "2": 2, "4": 1}, "sources": {"ticket": 4}, "severe": 1}
    assert items[0].headline == "很多人说" and items[0].note == "这周第三次了"
    assert digest.audio_status == Digest.Audio.PENDING
    services.edit_headline(crowd, "改过的标题", by=supervisor)
    assert DigestItem.objects.get(pk=items[0].pk).headline == "很多人说"  # frozen


@pytest.mark.django_db
def test_a_channel_with_nothing_new_gets_an_honest_empty_digest(agent: User, supervisor: User) -> None:
    quiet, busy = rf.channel("quiet"), rf.channel("busy")
    rf.channel("closed", active=False)
    rf.approved(agent, supervisor, [busy], nominated_at=at(1))
    building.build_digests(DAY, now=at(8, 30))
    empty = Digest.objects.get(channel=quiet)
    assert (empty.items_count, empty.customers, empty.audio_status) == (0, 0, Digest.Audio.NONE)
    assert not Digest.objects.filter(channel__code="closed").exists()


@pytest.mark.django_db
def test_running_twice_gives_one_digest_and_later_approvals_wait_for_tomorrow(agent: User, supervisor: User) -> None:
    logistics = rf.channel("logistics")
    rf.approved(agent, supervisor, [logistics], at=at(7))
    assert len(building.build_digests(DAY, now=at(8, 30))) == 1
    late = rf.approved(agent, supervisor, [logistics], at=at(9))
    assert building.build_digests(DAY, now=at(10)) == []  # the same day again: nothing
    assert Digest.objects.get(channel=logistics, day=DAY).items_count == 1
    tomorrow = DAY + timedelta(days=1)
    building.build_digests(tomorrow, now=at(8, 30, tomorrow))
    assert list(Digest.objects.get(day=tomorrow).items.values_list("nomination_id", flat=True)) == [late.pk]
    assert Placement.objects.filter(digest__isnull=True).count() == 0


@pytest.mark.django_db
def test_an_approval_after_the_cutoff_is_left_for_the_next_digest(agent: User, supervisor: User) -> None:
    logistics = rf.channel("logistics")
    rf.approved(agent, supervisor, [logistics], at=at(8, 31))
    building.build_digests(DAY, now=at(8, 30))
    assert Digest.objects.get(day=DAY).items_count == 0
    assert Placement.objects.get().digest_id is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_build_one_digest_per_channel_per_day(make_user: Callable[..., User]) -> None:
    agent, curator = make_user("agent-r", roles.AGENT), make_user("curator-r", roles.SUPERVISOR)
    channels = [rf.channel(f"c{i}") for i in range(5)]
    for i in range(30):
        rf.approved(agent, curator, [channels[i % 5], channels[(i + 1) % 5]], at=at(7), quote=f"第{i}条")
    barrier = threading.Barrier(4)
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(building.build_digests(DAY, now=at(8, 30)))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(len(r) for r in results) == [0, 0, 0, 5]  # one run built them all; the others found them built
    assert Digest.objects.filter(day=DAY).count() == 5
    assert DigestItem.objects.count() == 60  # every placement once, in exactly one digest
    assert set(Digest.objects.values_list("items_count", flat=True)) == {12}


@pytest.mark.django_db(transaction=True)
def test_two_workers_running_the_task_at_once_build_one_digest_per_channel(
    make_user: Callable[..., User], celery_worker: Popen[bytes]
) -> None:
    agent, curator = make_user("agent-w", roles.AGENT), make_user("curator-w", roles.SUPERVISOR)
    logistics, refunds = rf.channel("logistics"), rf.channel("refunds")
    rf.approved(agent, curator, [logistics, refunds])
    second = celery_process("worker", "-P", "solo", "-n", "radio-second@%h", "-Q", "celery", "--without-mingle",
                            "--without-gossip", "-l", "warning")  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while len(current_app.control.ping(timeout=0.5)) < 2:
            assert second.poll() is None and time.monotonic() < deadline, "the second worker did not start"
        results = [build_morning_digests.delay() for _ in range(4)]
        deadline = time.monotonic() + 60
        while Digest.objects.count() < 2 or Digest.objects.filter(audio_status=Digest.Audio.PENDING).exists():
            assert time.monotonic() < deadline, "the task did not run"
            time.sleep(0.2)
        time.sleep(1)  # let the other runs finish: they must add nothing
        assert all(r.id for r in results)
    finally:
        stop_process(second)
    today = timezone.localdate()
    assert sorted(Digest.objects.filter(day=today).values_list("channel__code", flat=True)) == ["logistics", "refunds"]
    assert DigestItem.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_morning_task_is_registered_in_django_celery_beat_with_its_schedule() -> None:
    entry = current_app.conf.beat_schedule["radio.morning_digests"]
    assert entry["task"] == "radio.tasks.build_morning_digests"
    assert not PeriodicTask.objects.filter(name="radio.morning_digests").exists()
    beat = celery_process("beat", "-l", "warning", "--schedule", "/dev/null")
    try:
        deadline = time.monotonic() + 30
        while not PeriodicTask.objects.filter(name="radio.morning_digests").exists():
            assert beat.poll() is None, "celery beat exited"
            assert time.monotonic() < deadline, "celery beat did not install the schedule"
            time.sleep(0.2)
    finally:
        stop_process(beat)
    task = PeriodicTask.objects.select_related("crontab").get(name="radio.morning_digests")
    assert task.task == "radio.tasks.build_morning_digests" and task.enabled
    assert task.crontab is not None
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("30", "8", "*")
    assert str(task.crontab.timezone) == "Asia/Shanghai"


@pytest.mark.django_db
def test_an_item_without_a_headline_goes_on_air_under_the_start_of_its_quote(agent: User, supervisor: User) -> None:
    logistics, app = rf.channel("logistics", "快递"), rf.channel("app", "应用")
    short = rf.approved(agent, supervisor, [logistics], quote="快递  三天\n没动了", nominated_at=at(1))
    forty = rf.approved(agent, supervisor, [logistics], quote="一" * 40, nominated_at=at(2))
    longer = rf.approved(agent, supervisor, [logistics, app], quote="二" * 20 + "\n\n" + "三" * 30, nominated_at=at(3))
    titled = rf.approved(agent, supervisor, [logistics], quote="有标题的", nominated_at=at(4))
    services.edit_headline(titled, "  驿站代收  ", by=supervisor)
    building.build_digests(DAY, now=at(8, 30))
    items = DigestItem.objects.select_related("digest__channel").order_by("digest__channel__code", "position")
    cut = "二" * 20 + " " + "三" * 18 + "…"  # 39 characters of the quote on one line, then the ellipsis
    assert [(i.digest.channel.code, i.nomination_id, i.headline) for i in items] == [
        ("app", longer.pk, cut),
        ("logistics", titled.pk, "驿站代收"),
        ("logistics", longer.pk, cut),
        ("logistics", forty.pk, "一" * 40),
        ("logistics", short.pk, "快递 三天 没动了"),
    ]
    shown = Nomination.objects.in_bulk([short.pk, forty.pk, longer.pk, titled.pk])
    assert [str(shown[n.pk]) for n in (short, forty, longer, titled)] == [
        "快递 三天 没动了",
        "一" * 40,
        cut,
        "驿站代收",
    ]
