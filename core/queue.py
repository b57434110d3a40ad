"""Queueing Celery tasks by name, through an outbox: services never import their app's tasks, and nothing
a committed change asked for is lost when the broker is down.

A service that wants work done in the background names the task (``"qa.tasks.evaluate_transcript"``)
instead of importing it, so ``tasks`` (which calls services) and ``services`` never import each other.

``enqueue`` writes a ``QueuedTask`` row in the current transaction, next to the change that needs the
work: a rolled-back change queues nothing, a committed one always has its row. Once the transaction
commits the message is sent and the row deleted (outside a transaction, at once). When the broker
cannot take it (Redis down), the row stays and the request that caused it carries on: the caller has
been answered "accepted". ``sweep_outbox`` (beat, every minute, ``core.tasks.sweep_outbox``) sends the
rows left over. A message may so be sent twice (the broker took it but the delete did not happen):
every task queued through here tolerates a second delivery.

``send_task`` routes by the task's name, so ``CELERY_TASK_ROUTES`` applies as it does to ``delay()``
(``*.tasks.transcribe_*`` to ``transcription``, ``*.tasks.index_*`` to ``search``). It ignores
``CELERY_TASK_ALWAYS_EAGER``, which ``delay()`` honours, so eager mode runs the registered task here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta

from celery import current_app
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.models import QueuedTask

log = logging.getLogger(__name__)

# The sweep leaves a new row alone this long: the commit's own send is its first chance.
COMMIT_SEND_GRACE = timedelta(seconds=60)
# A sweeper that claimed rows and died before sending them: the rows are sent by a later sweep.
SWEEP_CLAIM = timedelta(minutes=5)
SWEEP_BATCH = 500
# kombu retries a publish on a fresh connection (a pooled one may be stale after a Redis restart), but
# not for long: a request is waiting, and the outbox keeps what could not be sent.
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


@dataclass
class Held:
    """The outbox rows that ``watching``'s block queued and the broker refused after the commit."""

    rows: list[int] = field(default_factory=list)


_held: ContextVar[Held | None] = ContextVar("core_queue_held", default=None)


@contextmanager
def watching() -> Iterator[Held]:
    """Note the tasks the block queued that are waiting in the outbox (the broker refused them at the commit).

    An entry point answers "accepted, not yet queued" (202) with it: ``with watching() as held: ...``,
    then ``held.rows``. The commit's sends run inside the block, in this thread (``on_commit``).
    """
    held = Held()
    token = _held.set(held)
    try:
        yield held
    finally:
        _held.reset(token)


def enqueue(task_name: str, *args: object, **kwargs: object) -> None:
    """Queue the task called ``task_name`` with these (JSON) arguments: an outbox row now, sent on commit."""
    row = QueuedTask.objects.create(
        task_name=task_name, args=list(args), kwargs=kwargs, send_after=timezone.now() + COMMIT_SEND_GRACE
    )
    transaction.on_commit(lambda: deliver(row))


def enqueue_each(task_name: str, ids: list[int]) -> None:
    """Queue the task once per id, in one INSERT whatever their number (a bulk action's retries)."""
    moment = timezone.now() + COMMIT_SEND_GRACE
    rows = QueuedTask.objects.bulk_create([QueuedTask(task_name=task_name, args=[pk], send_after=moment) for pk in ids])
    transaction.on_commit(lambda: _deliver_all(rows))


def _deliver_all(rows: list[QueuedTask]) -> None:
    for row in rows:
        if not deliver(row):
            return  # the broker is down: the rest wait for the sweep too


def deliver(row: QueuedTask) -> bool:
    """Send one outbox row and delete it; False (the row kept, with the error) when the broker refused it."""
    try:
        send(row.task_name, tuple(row.args), row.kwargs)
    except Exception as error:  # any failure to publish: the row stays for the sweep
        log.warning("could not send %s (outbox row %s): %s", row.task_name, row.pk, error)
        QueuedTask.objects.filter(pk=row.pk).update(
            attempts=F("attempts") + 1, last_error=f"{type(error).__name__}: {error}"[:2000]
        )
        held = _held.get()
        if held is not None:
            held.rows.append(row.pk)
        return False
    QueuedTask.objects.filter(pk=row.pk).delete()
    return True


def sweep_outbox() -> int:
    """Send the outbox rows whose time has come; returns how many were sent. Stops at the first refusal.

    Rows are claimed first (``skip_locked``: two sweeps never claim one row; the claim pushes
    ``send_after`` on, so a sweeper that dies leaves them to a later one), then sent outside any
    transaction.
    """
    moment = timezone.now()
    with transaction.atomic():
        due = QueuedTask.objects.filter(send_after__lte=moment).order_by("pk")
        rows = list(due.select_for_update(skip_locked=True)[:SWEEP_BATCH])
        QueuedTask.objects.filter(pk__in=[row.pk for row in rows]).update(send_after=moment + SWEEP_CLAIM)
    sent = 0
    for index, row in enumerate(rows):
        if not deliver(row):
            # The broker is down: every row of this batch waits for the next sweep, not for the claim.
            QueuedTask.objects.filter(pk__in=[left.pk for left in rows[index:]]).update(send_after=moment)
            break
        sent += 1
    return sent


def send(task_name: str, args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    """Send the task now (``deliver`` calls it after the commit)."""
    app = current_app
    if not app.conf.task_always_eager:
        app.send_task(task_name, args=args, kwargs=kwargs, retry=True, retry_policy=PUBLISH_RETRY)
        return
    if task_name not in app.tasks:
        app.loader.import_default_modules()  # the apps' tasks modules: autodiscovery is lazy
    app.tasks[task_name].apply(args=args, kwargs=kwargs)
