from __future__ import annotations

import time

from celery import current_app
from django_celery_beat.models import PeriodicTask

from tests.conftest import celery_process, stop_process


def test_celery_beat_installs_the_schedule_declared_in_code_into_the_database(transactional_db: None) -> None:
    assert current_app.conf.beat_schedule["core.heartbeat"]["task"] == "core.tasks.heartbeat"
    assert not PeriodicTask.objects.filter(name="core.heartbeat").exists()
    beat = celery_process("beat", "-l", "warning", "--schedule", "/dev/null")
    try:
        deadline = time.monotonic() + 30
        while not PeriodicTask.objects.filter(name="core.heartbeat").exists():
            assert beat.poll() is None, "celery beat exited"
            assert time.monotonic() < deadline, "celery beat did not install the schedule"
            time.sleep(0.2)
    finally:
        stop_process(beat)
    task = PeriodicTask.objects.select_related("interval").get(name="core.heartbeat")
    assert task.task == "core.tasks.heartbeat"
    assert task.interval is not None and (task.interval.every, task.interval.period) == (30, "seconds")
    assert task.enabled


def test_a_schedule_edited_in_the_admin_survives_a_beat_restart(transactional_db: None) -> None:
    from django_celery_beat.models import IntervalSchedule

    every_99 = IntervalSchedule.objects.create(every=99, period="seconds")
    PeriodicTask.objects.create(name="core.heartbeat", task="core.tasks.heartbeat", interval=every_99)
    beat = celery_process("beat", "-l", "warning", "--schedule", "/dev/null")
    try:
        deadline = time.monotonic() + 30
        while not PeriodicTask.objects.filter(name="crm.nightly_rating").exists():
            assert beat.poll() is None and time.monotonic() < deadline, "celery beat did not start"
            time.sleep(0.2)
    finally:
        stop_process(beat)
    task = PeriodicTask.objects.select_related("interval").get(name="core.heartbeat")
    assert task.interval is not None and task.interval.every == 99  # the operator's edit, not the code's 30
