"""Queueing Celery tasks by name, after the commit: services never import their app's tasks.

A service that wants work done in the background names the task (``"qa.tasks.evaluate_transcript"``)
instead of importing it, so ``tasks`` (which calls services) and ``services`` never import each other.
The message is sent once the current transaction commits: a worker never looks for a row that is not
committed yet, and a rolled-back change queues nothing. Outside a transaction it is sent at once.

``send_task`` routes by the task's name, so ``CELERY_TASK_ROUTES`` applies as it does to ``delay()``
(``*.tasks.transcribe_*`` to ``transcription``, ``*.tasks.index_*`` to ``search``). It ignores
``CELERY_TASK_ALWAYS_EAGER``, which ``delay()`` honours, so eager mode runs the registered task here.
"""

from __future__ import annotations

from celery import current_app
from django.db import transaction


def enqueue(task_name: str, *args: object, **kwargs: object) -> None:
    """Send the task called ``task_name`` with these arguments once the current transaction commits."""
    transaction.on_commit(lambda: send(task_name, args, kwargs))


def send(task_name: str, args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    """Send the task now (``enqueue`` calls it after the commit)."""
    app = current_app
    if not app.conf.task_always_eager:
        app.send_task(task_name, args=args, kwargs=kwargs)
        return
    if task_name not in app.tasks:
        app.loader.import_default_modules()  # the apps' tasks modules: autodiscovery is lazy
    app.tasks[task_name].apply(args=args, kwargs=kwargs)
